"""What setup, validate and urls share: the .env, the rendered Alertmanager config, the rendered
compose project and the host checks, each as results (obsstack.report)."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import yaml

from . import alertmanager_config, compose, envfile, preflight, settings
from .report import Result, Status

GPU_OVERLAY = "docker-compose.gpu.yml"


def prepare_env(project_dir: Path, env_path: Path, docker_info: dict | str) -> list[Result]:
    """Create or complete .env from .env.example: secrets generated, hashes in step with passwords."""
    overrides = {}
    if preflight.has_nvidia_runtime(docker_info):
        overrides["COMPOSE_FILE"] = f"docker-compose.yml:{GPU_OVERLAY}"
    try:
        report = envfile.ensure_env(project_dir / ".env.example", env_path, overrides)
    except (envfile.EnvFileError, OSError) as exc:
        return [Result(".env", Status.FAIL, str(exc), f"fix {env_path}, or move it aside and re-run to generate a new one")]
    parts = []
    if report.created:
        parts.append(f"created {env_path} (mode 0600)")
    if report.generated:
        parts.append(f"generated {len(report.generated)} secrets")
    if report.rehashed:
        parts.append(f"re-hashed {', '.join(report.rehashed)} (its password changed)")
    if report.appended:
        parts.append(f"added new settings {', '.join(report.appended)}")
    return [Result(".env", Status.PASS, "; ".join(parts) or f"{env_path} complete, nothing changed")]


def render_alertmanager(project_dir: Path, env_path: Path, out_dir: Path | None = None) -> list[Result]:
    """alertmanager/alertmanager.yml + .env + teams.yml -> alertmanager/generated/ (or out_dir)."""
    env = envfile.read_env(env_path) if env_path.exists() else {}
    try:
        path = alertmanager_config.write(project_dir, env, out_dir)
    except alertmanager_config.AlertmanagerConfigError as exc:
        return [Result("alertmanager", Status.FAIL, str(exc), "fix alertmanager/teams.yml as the message says")]
    config = yaml.safe_load(path.read_text())
    channels = sorted({kind.removesuffix("_configs") for r in config["receivers"] for kind in r if kind.endswith("_configs")})
    where = path.relative_to(project_dir) if path.is_relative_to(project_dir) else "a scratch copy"
    detail = f"rendered {where}; notifications: {', '.join(channels) or 'none (UIs only: set ALERT_* in .env)'}"
    return [Result("alertmanager", Status.PASS, detail)]


def render_hosts(project_dir: Path, env_path: Path) -> list[Result]:
    """The centre's side of the other hosts (src/obsstack/hosts.py), from .env and hosts/hosts.yml:
    the central Prometheus' logins, the expected hosts, Logstash's hosts' intake and the OTLP logins."""
    from . import hosts  # cryptography is loaded only here

    env = envfile.read_env(env_path) if env_path.exists() else {}
    try:
        hosts.render_central(project_dir, env)
        count = len(hosts.read_registry(project_dir))
    except (hosts.HostsError, OSError) as exc:
        return [Result("hosts", Status.FAIL, str(exc), "fix hosts/hosts.yml with `obsstack hosts`, or restore it")]
    return [Result("hosts", Status.PASS, f"rendered the centre's side for {count} other host(s) (obsstack hosts list)")]


def render_project(project_dir: Path, env_path: Path) -> tuple[dict | None, str | None]:
    """The compose project as `config` renders it with this .env (or, before the first setup, with a
    throwaway one generated from .env.example); or the error."""
    try:
        if env_path.exists():
            return compose.render(project_dir, env_path), None
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp) / ".env"
            envfile.ensure_env(project_dir / ".env.example", scratch)
            return compose.render(project_dir, scratch), None
    except compose.ComposeError as exc:
        return None, str(exc)


def running_services(project_dir: Path, env_path: Path, command: list[str]) -> set[str]:
    proc = subprocess.run([*command, "--project-directory", str(project_dir), "--env-file", str(env_path),
                           "ps", "--format", "json", "--status", "running"],
                          capture_output=True, text=True, cwd=project_dir, check=False)
    services = set()
    for line in proc.stdout.splitlines():
        try:
            services.add(json.loads(line)["Service"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return services


def ours_running(project_dir: Path, env_path: Path) -> set[str]:
    """Services of this project already running (their ports are taken by us); none without Docker."""
    try:
        command = compose.find_compose()
    except compose.ComposeError:
        return set()
    return running_services(project_dir, env_path, command) if env_path.exists() else set()


def host_checks(project_dir: Path, host: preflight.Host, info: dict | str, project: dict | None,
                env_path: Path, ports: bool = True) -> list[Result]:
    command = None
    try:
        command = compose.find_compose()
    except compose.ComposeError:
        pass
    results = [preflight.check_docker(info), preflight.check_compose(command)]
    if project is None:
        return results
    services = project.get("services", {})
    results.append(preflight.check_memory(host, compose.memory_limits(project)))
    results.append(preflight.check_max_map_count(host, "elasticsearch" in services))
    if ports:
        ours = running_services(project_dir, env_path, command) if command and not isinstance(info, str) else set()
        values = envfile.read_env(env_path) if env_path.exists() else {}
        results.append(preflight.check_ports(compose.published_ports(project), ours, settings.port_settings(values)))
    docker_root = Path(info.get("DockerRootDir", "/")) if isinstance(info, dict) else project_dir
    results.append(preflight.check_disk(host, docker_root if docker_root.exists() else project_dir))
    results.append(preflight.check_gpu(info, "dcgm-exporter" in services))
    return results
