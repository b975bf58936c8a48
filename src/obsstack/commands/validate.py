"""Check the host and every config without changing anything: no .env is written, and the
Alertmanager config is rendered into a scratch copy for amtool, not into alertmanager/generated/.

examples:
  obsstack validate                  # before `make up`, or after editing a config
  obsstack validate --skip-preflight # configs only (no Docker needed: the local toolchain checks them)
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from .. import checks, preflight, validate
from ..report import failed, print_results
from .common import add_project_arguments, resolve

HELP = "check the host and every config, writing nothing"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_project_arguments(parser)
    parser.add_argument("--skip-preflight", action="store_true", help="skip the host checks (Docker, RAM, ports, ...)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    project_dir, env_path = resolve(args)
    host = preflight.Host()
    info = host.docker_info()
    with tempfile.TemporaryDirectory() as scratch:
        scratch_root = Path(scratch)
        shutil.copytree(project_dir / "alertmanager", scratch_root / "alertmanager",
                        ignore=shutil.ignore_patterns("generated"))
        results = checks.render_alertmanager(project_dir, env_path, scratch_root / "alertmanager/generated")
        if failed(results):
            return print_results(results, args.json, "validate", "everything checked is valid")
        project, compose_error = checks.render_project(project_dir, env_path)
        if not args.skip_preflight:
            results += checks.host_checks(project_dir, host, info, project, env_path)
        results += validate.validate(project_dir, project, compose_error, docker_ok=not isinstance(info, str),
                                     rendered_root=scratch_root)
    return print_results(results, args.json, "validate", "everything checked is valid")
