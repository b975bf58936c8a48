"""obsstack: the observability stack's command.

  setup      write .env with generated secrets (first run), check the host and every config
  validate   check the host and every config, writing nothing
  urls       print the stack's URLs and where each login is
  smoke      prove the running stack works, part by part
  native     run the metrics core natively on 127.0.0.1, without Docker
  toolchain  install the real tools the tests run into .tools/
  dashboards write the Grafana dashboards from their code (or --check they are current)
  hosts      add, list and remove the other hosts the stack watches (agent bundles)
  ha         render the HA overlay's configs from the base ones
  export     write the rules and dashboards as Kubernetes objects (kube-prometheus-stack)

examples:
  obsstack setup && docker compose up -d --wait && obsstack urls
  obsstack smoke --wait 180
  obsstack validate --skip-preflight
Each subcommand's --help says more.
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .commands import backup, dashboards, export, ha, hosts, native, setup, smoke, toolchain, urls, validate

COMMANDS = (setup, validate, urls, smoke, native, toolchain, dashboards, backup, hosts, ha, export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obsstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
