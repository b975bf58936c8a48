"""Prepare the stack: write .env with generated secrets, check the host, validate every config.

Idempotent: re-running keeps every value in .env and only fills what is missing. Secrets are never
printed; they live in .env (mode 0600). It also renders alertmanager/generated/ (what Alertmanager
loads). Exit status 0 when the stack can start, 1 when a check failed (each failure says how to fix
it), 2 on bad usage.

examples:
  obsstack setup              # first run: creates .env, checks the host and every config
  obsstack setup -y --json    # in automation: never ask, machine-readable results
"""
from __future__ import annotations

import argparse
import sys

from .. import checks, preflight, validate
from ..report import Status, failed, print_results
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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    project_dir, env_path = resolve(args)
    interactive = not args.non_interactive and sys.stdin.isatty()
    host = preflight.Host()
    info = host.docker_info()
    results = checks.prepare_env(project_dir, env_path, info)
    if failed(results):
        return print_results(results, args.json, "setup", "ready")
    results += checks.render_alertmanager(project_dir, env_path)
    if failed(results):
        return print_results(results, args.json, "setup", "ready")
    project, compose_error = checks.render_project(project_dir, env_path)
    if not args.skip_preflight:
        results += checks.host_checks(project_dir, host, info, project, env_path)
    results += validate.validate(project_dir, project, compose_error, docker_ok=not isinstance(info, str))
    code = print_results(results, args.json, "setup", "ready")
    if code == 0 and interactive and any(r.status is Status.WARN for r in results):
        answer = input("Warnings above. Start anyway? [y/N] ").strip().lower()
        code = 0 if answer in ("y", "yes") else 1
    return code
