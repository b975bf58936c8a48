#!/usr/bin/env python3
"""Prepare the stack: write .env with generated secrets, check the host, validate every config.

Idempotent: re-running keeps every value in .env and only fills what is missing. Secrets are
never printed; they live in .env (mode 0600). Exit status 0 when the stack can start, 1 when a
check failed (each failure says how to fix it), 2 on bad usage.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402

from obsstack import alertmanager_config, compose, envfile, preflight, validate  # noqa: E402
from obsstack.preflight import Result, Status  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GPU_OVERLAY = "docker-compose.gpu.yml"

# (service, container port) -> (what it is, where its login is)
UIS = {
    ("grafana", 3000): ("Grafana", "user admin, password GRAFANA_ADMIN_PASSWORD"),
    ("prometheus", 9090): ("Prometheus", "user prometheus, password PROMETHEUS_WEB_PASSWORD"),
    ("alertmanager", 9093): ("Alertmanager", "user alertmanager, password ALERTMANAGER_WEB_PASSWORD"),
    ("kibana", 5601): ("Kibana", "user elastic, password ELASTIC_PASSWORD"),
    ("elasticsearch", 9200): ("Elasticsearch API", "user elastic, password ELASTIC_PASSWORD"),
    ("jaeger", 16686): ("Jaeger UI", "no login: keep BIND_ADDRESS=127.0.0.1 or put a proxy in front"),
    ("jaeger", 4317): ("OTLP gRPC (traces in)", "no login"),
    ("jaeger", 4318): ("OTLP HTTP (traces in)", "no login"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="the stack's folder (default: this repository)")
    parser.add_argument("--env-file", type=Path, help="the .env to create or complete (default: PROJECT_DIR/.env)")
    parser.add_argument("--non-interactive", "-y", action="store_true",
                        help="never ask; warnings do not stop setup (implied when stdin is not a terminal)")
    parser.add_argument("--skip-preflight", action="store_true", help="skip the host checks (Docker, RAM, ports, ...)")
    parser.add_argument("--check-only", action="store_true",
                        help="check the host and configs only: writes no .env (only the derived alertmanager/generated/)")
    parser.add_argument("--urls", action="store_true", help="only print the stack's URLs and where each login is")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def prepare_env(args: argparse.Namespace, env_path: Path, docker_info: dict | str) -> list[Result]:
    example = args.project_dir / ".env.example"
    if args.check_only:
        return []
    overrides = {}
    if preflight.has_nvidia_runtime(docker_info):
        overrides["COMPOSE_FILE"] = f"docker-compose.yml:{GPU_OVERLAY}"
    try:
        report = envfile.ensure_env(example, env_path, overrides)
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


def render_alertmanager(project_dir: Path, env_path: Path) -> list[Result]:
    """alertmanager/alertmanager.yml + .env + teams.yml -> alertmanager/generated/ (what Alertmanager loads)."""
    env = envfile.read_env(env_path) if env_path.exists() else {}
    try:
        path = alertmanager_config.write(project_dir, env)
    except alertmanager_config.AlertmanagerConfigError as exc:
        return [Result("alertmanager", Status.FAIL, str(exc), "fix alertmanager/teams.yml as the message says")]
    config = yaml.safe_load(path.read_text())
    channels = sorted({kind.removesuffix("_configs") for r in config["receivers"] for kind in r if kind.endswith("_configs")})
    detail = f"rendered {path.relative_to(project_dir)}; notifications: {', '.join(channels) or 'none (UIs only: set ALERT_* in .env)'}"
    return [Result("alertmanager", Status.PASS, detail)]


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


def host_checks(args: argparse.Namespace, host: preflight.Host, info: dict | str, project: dict | None,
                env_path: Path) -> list[Result]:
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
    ours = running_services(args.project_dir, env_path, command) if command and not isinstance(info, str) else set()
    results.append(preflight.check_ports(compose.published_ports(project), ours))
    docker_root = Path(info.get("DockerRootDir", "/")) if isinstance(info, dict) else args.project_dir
    results.append(preflight.check_disk(host, docker_root if docker_root.exists() else args.project_dir))
    results.append(preflight.check_gpu(info, "dcgm-exporter" in services))
    return results


def render_project(args: argparse.Namespace, env_path: Path) -> tuple[dict | None, str | None]:
    try:
        if env_path.exists():
            return compose.render(args.project_dir, env_path), None
        # --check-only before the first setup: validate against a throwaway .env.
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp) / ".env"
            envfile.ensure_env(args.project_dir / ".env.example", scratch)
            return compose.render(args.project_dir, scratch), None
    except compose.ComposeError as exc:
        return None, str(exc)


def print_urls(project: dict, env_path: Path) -> None:
    print("\nThe stack:")
    for port in compose.published_ports(project):
        label, login = UIS.get((port.service, port.target), (port.service, ""))
        host = port.host_ip if port.host_ip not in ("", "0.0.0.0") else "localhost"
        print(f"  {label:<22} http://{host}:{port.port:<6} {login}")
    print(f"\nPasswords are in {env_path} (readable only by you). Nothing secret was printed.")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.project_dir = args.project_dir.resolve()
    env_path = (args.env_file or args.project_dir / ".env").resolve()
    interactive = not args.non_interactive and sys.stdin.isatty()

    if args.urls:
        project, error = render_project(args, env_path)
        if project is None:
            print(f"compose config failed: {error}", file=sys.stderr)
            return 1
        print_urls(project, env_path)
        return 0

    host = preflight.Host()
    info = host.docker_info()
    results = prepare_env(args, env_path, info)
    if any(r.status is Status.FAIL for r in results):
        return report(results, args.json)
    results += render_alertmanager(args.project_dir, env_path)
    if any(r.status is Status.FAIL for r in results):
        return report(results, args.json)
    project, compose_error = render_project(args, env_path)
    if not args.skip_preflight:
        results += host_checks(args, host, info, project, env_path)
    results += validate.validate(args.project_dir, project, compose_error, docker_ok=not isinstance(info, str))
    code = report(results, args.json)
    if code == 0 and interactive and any(r.status is Status.WARN for r in results):
        answer = input("Warnings above. Start anyway? [y/N] ").strip().lower()
        code = 0 if answer in ("y", "yes") else 1
    return code


def report(results: list[Result], as_json: bool) -> int:
    failed = any(r.status is Status.FAIL for r in results)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [
            {"check": r.check, "status": r.status.value, "detail": r.detail, "fix": r.fix} for r in results]}, indent=2))
    else:
        for result in results:
            print(result.line())
        print("setup: FAILED, fix the lines marked FAIL and re-run" if failed else "setup: ready")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
