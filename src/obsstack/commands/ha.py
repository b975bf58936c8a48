"""Render the high-availability overlay's configs (docker-compose.ha.yml) from the base ones.

Writes prometheus/ha/prometheus.yml (the base config plus the replica label, every Alertmanager
of the cluster, remote write to VictoriaMetrics) and grafana/ha/datasources/ (the base
datasources plus VictoriaMetrics). Run it after editing prometheus/prometheus.yml or the
datasources; start the overlay with
  docker compose -f docker-compose.yml -f docker-compose.ha.yml up -d --wait

examples:
  obsstack ha render
  obsstack ha render --check
"""
from __future__ import annotations

import argparse

from .. import ha, rendered
from .common import add_project_arguments, resolve

HELP = "render the HA overlay's Prometheus and Grafana configs from the base ones"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ha", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_project_arguments(parser)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    render = actions.add_parser("render", help=HELP)
    render.add_argument("--check", action="store_true", help="write nothing; fail if the rendered files are not current")
    render.set_defaults(run=run_render)


def run_render(args: argparse.Namespace) -> int:
    project, _ = resolve(args)
    return rendered.write_or_check(ha.rendered_files(project), project, args.check, "obsstack ha render")
