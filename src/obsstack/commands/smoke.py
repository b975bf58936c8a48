"""Prove a running stack works, part by part: PASS, FAIL or SKIP per check, with timings.

Works on the compose stack (read from `docker compose config` with its .env: which services run,
their published ports, the logins) and on the native stack (`--endpoints STATE/endpoints.json` from
`obsstack native up`). Exit status 0 only when nothing failed; SKIP says why a part was not checked
(not deployed, or cannot run natively). `--wait SECONDS` retries failing checks until they pass or
time runs out. The checks: obsstack/smoke/checks/, one module per component.

examples:
  obsstack smoke --wait 180                        # the compose stack of this folder's .env
  obsstack smoke --endpoints /tmp/obs/endpoints.json --json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import paths
from ..report import Status
from ..smoke.runner import run_all
from ..smoke.stack import SmokeError, Stack

HELP = "prove the running stack works, part by part"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("smoke", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--env-file", type=Path, help="the compose stack's .env (default: PROJECT/.env)")
    source.add_argument("--endpoints", type=Path, help="a native stack's endpoints.json (`obsstack native up`)")
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="the compose project (default: the .env's folder when it holds docker-compose.yml, else this checkout)")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="retry failing checks this long")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source_file = args.endpoints or args.env_file or paths.env_file()
    if not source_file.exists():
        hint = "run `obsstack native up` first" if args.endpoints else "run `make up` first"
        print(f"{source_file} not found: {hint}", file=sys.stderr)
        return 2
    if args.endpoints:
        stack = Stack.from_native(source_file)
    else:
        beside = source_file.resolve().parent
        project_dir = args.project_dir or (beside if (beside / "docker-compose.yml").exists() else paths.project_dir())
        try:
            stack = Stack.from_env(source_file, project_dir.resolve())
        except SmokeError as exc:
            print(f"smoke: {exc}", file=sys.stderr)
            return 2
    results = run_all(stack, args.wait)
    failed = [r for r in results if r.status is Status.FAIL]
    if args.json:
        print(json.dumps({"ok": not failed, "stack": stack.kind, "checks": [
            {"component": r.component, "check": r.check, "status": r.status.value, "seconds": r.seconds, "detail": r.detail}
            for r in results]}, indent=2))
    else:
        for r in results:
            print(f"{r.status.value:4}  {r.component:<13} {r.check:<32} {r.seconds:6.2f}s  {r.detail}")
        print(f"smoke: {len(failed)} of {len(results)} checks failed" if failed else
              f"smoke: no check failed ({sum(r.status is Status.PASS for r in results)} passed, "
              f"{sum(r.status is Status.SKIP for r in results)} skipped)")
    return 1 if failed else 0
