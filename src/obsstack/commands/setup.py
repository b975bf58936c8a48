"""Prepare the stack: write .env with generated secrets, check the host, validate every config.

Idempotent: re-running keeps every value in .env and only fills what is missing. Secrets are never
printed; they live in .env (mode 0600). It also renders alertmanager/generated/ (what Alertmanager
loads). Exit status 0 when the stack can start, 1 when a check failed (each failure says how to fix
it), 2 on bad usage.

examples:
  obsstack setup              # first run: creates .env, checks the host and every config
  obsstack setup -y --json    # in automation: never ask, machine-readable results
  obsstack setup --insecure-bind   # BIND_ADDRESS=0.0.0.0 without HTTPS, on a network you trust
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import checks, compose, envfile, preflight, settings, validate
from ..report import Result, Status, failed, print_results
from .common import add_project_arguments, resolve

HELP = "write .env with generated secrets (first run), check the host and every config"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("setup", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_project_arguments(parser)
    parser.add_argument("--non-interactive", "-y", action="store_true",
                        help="never ask; warnings do not stop setup (implied when stdin is not a terminal)")
    parser.add_argument("--skip-preflight", action="store_true", help="skip the host checks (Docker, RAM, ports, ...)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--insecure-bind", action="store_true",
                        help="allow BIND_ADDRESS beyond loopback without the tls profile (logins in clear text)")
    parser.set_defaults(run=run)


def settings_first(project_dir: Path, env_path: Path, args: argparse.Namespace) -> list[Result]:
    """.env's values (the example's defaults where .env has none yet) and the ports, checked before
    anything is written: a FAIL among them stops setup with .env and every file as they were."""
    try:
        values = {s.key: s.default for s in envfile.read_example(project_dir / ".env.example")}
        if env_path.exists():
            values.update(envfile.read_env(env_path))
    except (envfile.EnvFileError, OSError) as exc:
        return [Result(".env", Status.FAIL, str(exc), f"fix {env_path} at that line (KEY=value), or move it aside to start anew")]
    results = settings.check(values, project_dir, args.insecure_bind)
    if results or args.skip_preflight:
        return results
    project, _ = checks.render_project(project_dir, env_path)
    if project is None:
        return []
    return [preflight.check_ports(compose.published_ports(project), checks.ours_running(project_dir, env_path),
                                  settings.port_settings(values))]


def run(args: argparse.Namespace) -> int:
    project_dir, env_path = resolve(args)
    interactive = not args.non_interactive and sys.stdin.isatty()
    host = preflight.Host()
    early = settings_first(project_dir, env_path, args)
    if failed(early):
        return print_results(early, args.json, "setup", "ready")
    info = host.docker_info()
    results = early + checks.prepare_env(project_dir, env_path, info)
    if failed(results):
        return print_results(results, args.json, "setup", "ready")
    results += checks.render_alertmanager(project_dir, env_path)
    results += checks.render_hosts(project_dir, env_path)
    if failed(results):
        return print_results(results, args.json, "setup", "ready")
    project, compose_error = checks.render_project(project_dir, env_path)
    if not args.skip_preflight:
        # The ports were checked before anything was written (settings_first).
        results += checks.host_checks(project_dir, host, info, project, env_path, ports=False)
    results += validate.validate(project_dir, project, compose_error, docker_ok=not isinstance(info, str))
    code = print_results(results, args.json, "setup", "ready")
    if code == 0 and interactive and any(r.status is Status.WARN for r in results):
        answer = input("Warnings above. Start anyway? [y/N] ").strip().lower()
        code = 0 if answer in ("y", "yes") else 1
    return code
