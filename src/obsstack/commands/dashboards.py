"""Write the Grafana dashboards (grafana/dashboards/<folder>/<uid>.json) from their code in
obsstack/dashboards/ (one module per dashboard), or check that the committed ones are current.

examples:
  obsstack dashboards           # after editing a dashboard's module
  obsstack dashboards --check   # exit 1, naming them, if a committed dashboard differs from its code
"""
from __future__ import annotations

import argparse

from .. import dashboards, paths, rendered

HELP = "write the Grafana dashboards from their code (or --check they are current)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dashboards", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard differs from its code")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    project = paths.project_dir()
    return rendered.write_or_check(dashboards.render(project), project, args.check, "obsstack dashboards")
