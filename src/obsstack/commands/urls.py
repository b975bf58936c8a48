"""Print the stack's URLs, with the ports and bind address of .env, and where each login is.

example:
  obsstack urls
"""
from __future__ import annotations

import argparse
import sys

from .. import checks, compose, envfile
from ..uis import BY_PORT, TLS_PORTS
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
    env = envfile.read_env(env_path) if env_path.exists() else {}
    tls_by_port = {int(env[key]): value for key, value in TLS_PORTS.items() if env.get(key, "").isdigit()}
    print("\nThe stack:")
    for port in compose.published_ports(project):
        if port.service == "tls-proxy" and port.port in tls_by_port:
            label, login = tls_by_port[port.port]
            scheme = "http" if label.startswith("HTTP ->") else "https"
            print(f"  {label:<22} {scheme}://{env.get('TLS_HOSTNAME') or 'localhost'}:{port.port:<6} {login}")
            continue
        ui = BY_PORT.get((port.service, port.target))
        label, login = (ui.label, ui.describe_login()) if ui else (port.service, "")
        host = port.host_ip if port.host_ip not in ("", "0.0.0.0") else "localhost"
        print(f"  {label:<22} http://{host}:{port.port:<6} {login}")
    print(f"\nPasswords are in {env_path} (readable only by you). Nothing secret was printed.")
    return 0
