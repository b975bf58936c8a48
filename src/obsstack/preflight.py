"""Preflight checks before `docker compose up`: one result per check, each failure with its fix."""
from __future__ import annotations

import errno
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import compose
from .report import Result, Status

MAX_MAP_COUNT = 262144
DISK_FAIL_BYTES = 5 * 1024**3
DISK_WARN_BYTES = 20 * 1024**3
GIB = 1024**3


@dataclass
class Host:
    """Where the checks look; tests point these at simulated machines."""

    docker: list[str] = field(default_factory=lambda: ["docker"])
    proc: Path = Path("/proc")
    disk_fail_bytes: int = DISK_FAIL_BYTES
    disk_warn_bytes: int = DISK_WARN_BYTES

    def docker_info(self) -> dict[str, Any] | str:
        """The engine's `docker info` as a dict, or the reason it could not be had."""
        if shutil.which(self.docker[0]) is None:
            return f"`{self.docker[0]}` is not installed"
        proc = subprocess.run([*self.docker, "info", "--format", "{{json .}}"], capture_output=True, text=True,
                              timeout=30, check=False)
        if proc.returncode != 0:
            return (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}").splitlines()[-1]
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError:
            return f"`docker info` printed something that is not JSON: {proc.stdout[:80]!r}"


def check_docker(info: dict[str, Any] | str) -> Result:
    if isinstance(info, str):
        return Result("docker engine", Status.FAIL, f"not reachable: {info}",
                      "start Docker (`sudo systemctl start docker`) and make sure your user may use it "
                      "(`sudo usermod -aG docker $USER`, then log in again)")
    return Result("docker engine", Status.PASS, f"Docker {info.get('ServerVersion', '?')}")


def check_compose(command: list[str] | None) -> Result:
    fix = "install Docker Compose v2.24 or newer: https://docs.docker.com/compose/install/linux/"
    try:
        command = command or compose.find_compose()
        version = compose.compose_version(command)
    except compose.ComposeError as exc:
        return Result("compose", Status.FAIL, str(exc), fix)
    text = ".".join(map(str, version))
    if version < compose.MIN_COMPOSE:
        return Result("compose", Status.FAIL, f"Compose {text} is older than {'.'.join(map(str, compose.MIN_COMPOSE))}", fix)
    return Result("compose", Status.PASS, f"Compose {text} ({' '.join(command)})")


def meminfo(proc: Path) -> dict[str, int]:
    values = {}
    for line in (proc / "meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            values[key] = int(parts[0]) * 1024
    return values


def check_memory(host: Host, limits: dict[str, int]) -> Result:
    need = sum(limits.values())
    try:
        available = meminfo(host.proc)["MemAvailable"]
    except (OSError, KeyError):
        return Result("memory", Status.SKIP, "cannot read MemAvailable (not Linux?); Docker Desktop: give its VM "
                      f"at least {need / GIB:.1f} GiB")
    detail = f"{available / GIB:.1f} GiB available, the enabled services' limits add up to {need / GIB:.1f} GiB"
    if available < need:
        biggest = sorted(limits.items(), key=lambda item: -item[1])[:3]
        return Result("memory", Status.WARN, detail,
                      "free memory, or run less: trim COMPOSE_PROFILES in .env (e.g. drop `logging`, "
                      f"the biggest: {', '.join(f'{n} {v / GIB:.1f} GiB' for n, v in biggest)})")
    return Result("memory", Status.PASS, detail)


def check_max_map_count(host: Host, logging_enabled: bool) -> Result:
    if not logging_enabled:
        return Result("vm.max_map_count", Status.SKIP, "logging profile off: Elasticsearch not started")
    try:
        value = int((host.proc / "sys/vm/max_map_count").read_text().strip())
    except (OSError, ValueError):
        return Result("vm.max_map_count", Status.SKIP, "cannot read it here; on Docker Desktop it is set in its VM")
    if value < MAX_MAP_COUNT:
        return Result("vm.max_map_count", Status.FAIL, f"{value}, Elasticsearch needs at least {MAX_MAP_COUNT}",
                      f"sudo sysctl -w vm.max_map_count={MAX_MAP_COUNT} && echo 'vm.max_map_count={MAX_MAP_COUNT}' "
                      "| sudo tee /etc/sysctl.d/99-elasticsearch.conf")
    return Result("vm.max_map_count", Status.PASS, str(value))


def port_in_use(host_ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host_ip or "0.0.0.0", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def check_ports(ports: list[compose.PublishedPort], ours: set[str], named: dict[int, list[str]] | None = None) -> Result:
    """``ours``: services of this project already running (their ports are taken by us); ``named``:
    port -> the .env settings that publish it, so the fix names them."""
    busy = [p for p in ports if p.service not in ours and port_in_use(p.host_ip, p.port)]
    if busy:
        listed = ", ".join(f"{p.host_ip or '*'}:{p.port} ({p.service})" for p in busy)
        settings = sorted({name for p in busy for name in (named or {}).get(p.port, [])})
        return Result("ports", Status.FAIL, f"in use: {listed}",
                      f"set another port in .env ({', '.join(settings) or 'GRAFANA_PORT, PROMETHEUS_PORT, ...'}), "
                      "or stop what listens there (`sudo ss -ltnp 'sport = :PORT'` shows it)")
    return Result("ports", Status.PASS, f"{len(ports)} published ports free" + (" or already ours" if ours else ""))


def check_disk(host: Host, path: Path) -> Result:
    free = shutil.disk_usage(path).free
    detail = f"{free / GIB:.1f} GiB free on {path}"
    fix = f"free space on {path}, or lower PROMETHEUS_RETENTION_SIZE in .env"
    if free < host.disk_fail_bytes:
        return Result("disk", Status.FAIL, detail + f" (need {host.disk_fail_bytes / GIB:.0f} GiB)", fix)
    if free < host.disk_warn_bytes:
        return Result("disk", Status.WARN, detail + f" (recommended {host.disk_warn_bytes / GIB:.0f} GiB)", fix)
    return Result("disk", Status.PASS, detail)


def has_nvidia_runtime(info: dict[str, Any] | str) -> bool:
    """The legacy `nvidia` runtime, or NVIDIA devices through CDI (Docker 25+)."""
    if isinstance(info, str):
        return False
    cdi_devices = json.dumps(info.get("DiscoveredDevices") or [])
    return "nvidia" in (info.get("Runtimes") or {}) or "nvidia.com/gpu" in cdi_devices


def check_gpu(info: dict[str, Any] | str, gpu_overlay: bool) -> Result:
    present = has_nvidia_runtime(info)
    if not gpu_overlay:
        note = " (NVIDIA runtime found: add docker-compose.gpu.yml to COMPOSE_FILE to use it)" if present else ""
        return Result("nvidia runtime", Status.SKIP, "GPU overlay off" + note)
    if not present:
        return Result("nvidia runtime", Status.FAIL, "COMPOSE_FILE includes docker-compose.gpu.yml but Docker has no "
                      "`nvidia` runtime",
                      "install the NVIDIA Container Toolkit and run `sudo nvidia-ctk runtime configure --runtime=docker "
                      "&& sudo systemctl restart docker`, or remove docker-compose.gpu.yml from COMPOSE_FILE")
    return Result("nvidia runtime", Status.PASS, "Docker has the nvidia runtime")
