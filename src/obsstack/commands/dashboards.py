"""Write the Grafana dashboards (grafana/dashboards/<folder>/<uid>.json) from their code in
obsstack/dashboards/ (one module per dashboard), or check that the committed ones are current.

examples:
  obsstack dashboards           # after editing a dashboard's module
  obsstack dashboards --check   # exit 1, naming them, if a committed dashboard differs from its code
"""
from __future__ import annotations

import argparse
import sys

from .. import dashboards, paths

HELP = "write the Grafana dashboards from their code (or --check they are current)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dashboards", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard differs from its code")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    project = paths.project_dir()
    stale = []
    for path, text in dashboards.render(project).items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(project)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date, run `obsstack dashboards`: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0
