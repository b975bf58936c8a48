"""Print the stack's URLs, with the ports and bind address of .env, and where each login is.

example:
  obsstack urls
"""
from __future__ import annotations

import argparse
import sys

from .. import checks, compose
from ..uis import BY_PORT
from .common import add_project_arguments, resolve

HELP = "print the stack's URLs and where each login is"

def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("urls", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_project_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    project_dir, env_path = resolve(args)
    project, error = checks.render_project(project_dir, env_path)
    if project is None:
        print(f"compose config failed: {error}", file=sys.stderr)
        return 1
    print("\nThe stack:")
    for port in compose.published_ports(project):
        ui = BY_PORT.get((port.service, port.target))
        label, login = (ui.label, ui.describe_login()) if ui else (port.service, "")
        host = port.host_ip if port.host_ip not in ("", "0.0.0.0") else "localhost"
        print(f"  {label:<22} http://{host}:{port.port:<6} {login}")
    print(f"\nPasswords are in {env_path} (readable only by you). Nothing secret was printed.")
    return 0
