#!/usr/bin/env python3
"""Run the stack on real binaries, natively on 127.0.0.1, without Docker.

  up      start Prometheus, Alertmanager, node/postgres/redis/blackbox exporters, PostgreSQL,
          Redis, our GPU exporter (simulated GPUs), the demo app and a webhook sink; print one
          JSON object of endpoints (also written to STATE/endpoints.json) once all are ready
  status  which of them run (exit 1 if any stopped)
  down    stop exactly those processes (exit 1, naming them, if any survive)
  stop NAME / start NAME
          stop one component to see its alert fire, then start it again as it was

Configs are the project's own, rendered into STATE with compose service names mapped to loopback
ports. Each component's log stays in STATE/logs/. Needs the test toolchain (`make test`, or
`python3 scripts/toolchain.py install`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from obsstack.native import NativeStack, NativeStackError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "status", "down", "stop", "start"])
    parser.add_argument("component", nargs="?", help="with stop/start: a component name from endpoints.json")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".native", help="private folder (default: %(default)s)")
    parser.add_argument("--fast", action="store_true",
                        help="for tests: 3s scrape, 1s evaluation, rule `for` and range windows / 60, Alertmanager grouping 1s")
    parser.add_argument("--timeout", type=float, default=120, help="seconds each component may take to be ready")
    args = parser.parse_args(argv)
    tools = Path(os.environ.get("OBS_TOOLS_DIR", ROOT / ".tools")) / "bin"
    stack = NativeStack(args.state_dir, tools, fast=args.fast)
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


if __name__ == "__main__":
    sys.exit(main())
