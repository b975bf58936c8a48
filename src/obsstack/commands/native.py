"""Run the metrics core on real binaries, natively on 127.0.0.1, without Docker (CI, and hosts where
Docker is not allowed).

  up      start Prometheus, Alertmanager, node/postgres/redis/blackbox exporters, PostgreSQL,
          Redis, our GPU exporter (simulated GPUs), the demo app and a webhook sink; print one
          JSON object of endpoints (also written to STATE/endpoints.json) once all are ready
  status  which of them run (exit 1 if any stopped)
  down    stop exactly those processes (exit 1, naming them, if any survive)
  stop NAME / start NAME
          stop one component to see its alert fire, then start it again as it was

Configs are the project's own, rendered into STATE with compose service names mapped to loopback
ports. Each component's log stays in STATE/logs/. Needs the toolchain (`make test`, or
`obsstack toolchain install`).

examples:
  obsstack native up --state-dir /tmp/obs
  obsstack native stop redis --state-dir /tmp/obs
  obsstack native down --state-dir /tmp/obs
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import paths
from ..native import NativeStack, NativeStackError
from ..timescale import FAST, REAL

HELP = "run the metrics core natively on 127.0.0.1, without Docker"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("native", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "status", "down", "stop", "start"])
    parser.add_argument("component", nargs="?", help="with stop/start: a component name from endpoints.json")
    parser.add_argument("--state-dir", type=Path, default=None, help="private folder (default: PROJECT/.native)")
    parser.add_argument("--fast", action="store_true",
                        help="for tests: 3s scrape, 1s evaluation, rule `for` and range windows / 60, Alertmanager grouping 1s")
    parser.add_argument("--timeout", type=float, default=120, help="seconds each component may take to be ready")
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    parser = args.parser
    stack = NativeStack(args.state_dir or paths.native_state_dir(), paths.tools_bin(), scale=FAST if args.fast else REAL)
    try:
        if args.command == "up":
            if args.fast:
                print("native stack: FAST mode (3s scrape, 1s evaluation, rule `for` and windows / 60, 1s grouping): for tests only",
                      file=sys.stderr)
            print(json.dumps(stack.up(timeout=args.timeout), indent=2))
            return 0
        if args.command in ("stop", "start"):
            if not args.component:
                parser.error(f"{args.command} needs a component name, e.g. `{args.command} redis`")
            if args.command == "stop":
                stack.stop_one(args.component)
            else:
                stack.start_one(args.component, timeout=args.timeout)
            print(f"native stack: {args.component} {'stopped' if args.command == 'stop' else 'started'}")
            return 0
        if args.command == "status":
            status = stack.status()
            print(json.dumps(status, indent=2))
            return 0 if status and all(s == "running" for s in status.values()) else 1
        survivors = stack.down()
        if survivors:
            print(f"native stack: still running after SIGKILL: {', '.join(survivors)}", file=sys.stderr)
            return 1
        print("native stack: stopped")
        return 0
    except NativeStackError as exc:
        print(f"native stack: {exc}", file=sys.stderr)
        return 1

