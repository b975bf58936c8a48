"""Install the real tools the tests and `validate` run (Prometheus, promtool, Alertmanager, amtool,
exporters, PostgreSQL, Redis, Ruby) from Debian packages into the project's .tools/ (or
OBS_TOOLS_DIR), without touching the system's apt state. obsstack.toolchain says how.

examples:
  obsstack toolchain install
  obsstack toolchain versions
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import paths, toolchain

HELP = "install the real tools the tests run into .tools/ (Debian/Ubuntu)"
LOG = logging.getLogger("toolchain")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("toolchain", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["install", "versions", "path"],
                        help="install the tools, print their versions, or print the bin folder")
    parser.add_argument("--tools-dir", type=Path, default=None, help="default: OBS_TOOLS_DIR, else PROJECT/.tools")
    parser.add_argument("--refresh", action="store_true", help="re-download even if installed")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tools_dir = args.tools_dir or paths.tools_dir()
    logging.basicConfig(level=logging.INFO, format="toolchain: %(message)s")
    try:
        if args.command == "install":
            versions = toolchain.install(tools_dir, refresh=args.refresh)
            LOG.info("installed in %s: %s", tools_dir / "bin", ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
        elif args.command == "versions":
            print((tools_dir / "versions.json").read_text(), end="")
        else:
            print(tools_dir / "bin")
    except toolchain.ToolchainError as exc:
        LOG.error("%s", exc)
        return 1
    return 0
