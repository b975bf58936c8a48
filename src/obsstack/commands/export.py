"""Export the stack's alerting and recording rules and its Grafana dashboards for another platform.

`export kubernetes` writes, for kube-prometheus-stack (checked against chart 88.5.3):
  - one PrometheusRule (monitoring.coreos.com/v1) per file of prometheus/rules/, its groups unchanged,
    labelled `release: RELEASE`, the label the chart's Prometheus selects rules by;
  - one ConfigMap per dashboard, labelled `grafana_dashboard: "1"` for the chart's Grafana sidecar and
    annotated with its folder (k8s-sidecar-target-directory);
as sorted YAML files in DIR, all at once: on any error nothing is written, and DIR is replaced
whole (it must be new, empty or an earlier export). Apply them with `kubectl apply -f DIR`.
The Alertmanager routing is not exported; docs/kubernetes.md says why and what carries over.

examples:
  obsstack export kubernetes --out k8s/
  obsstack export kubernetes --out k8s/ --namespace monitoring --release prom-stack
  obsstack export kubernetes --out k8s/ --prometheus-uid my-prometheus --skip-rules ha --skip-rules hosts
  kubectl apply --server-side -f k8s/
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import kubernetes, paths

HELP = "export the rules and dashboards as Kubernetes objects (kube-prometheus-stack)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    k8s = targets.add_parser("kubernetes", help="PrometheusRules and Grafana dashboard ConfigMaps for kube-prometheus-stack",
                             description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    k8s.add_argument("--project-dir", type=Path, default=None,
                     help="the stack's folder (default: OBSSTACK_PROJECT_DIR, else this checkout)")
    k8s.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="folder to write (new, empty or an earlier export: it is replaced whole)")
    k8s.add_argument("--namespace", metavar="NS",
                     help="metadata.namespace of every object (default: none, `kubectl apply -n NS` decides)")
    k8s.add_argument("--release", default=kubernetes.DEFAULT_RELEASE, metavar="NAME",
                     help="your kube-prometheus-stack Helm release: the `release` label its Prometheus "
                          f"selects PrometheusRules by (default: {kubernetes.DEFAULT_RELEASE})")
    k8s.add_argument("--prometheus-uid", default=kubernetes.CHART_PROMETHEUS_UID, metavar="UID",
                     help="uid of the Prometheus datasource in your Grafana, written into the dashboards "
                          f"(default: {kubernetes.CHART_PROMETHEUS_UID}, what the chart provisions)")
    k8s.add_argument("--alertmanager-uid", default=kubernetes.CHART_ALERTMANAGER_UID, metavar="UID",
                     help=f"uid of the Alertmanager datasource (default: {kubernetes.CHART_ALERTMANAGER_UID}, the chart's)")
    k8s.add_argument("--runbook-url-prefix", metavar="URL",
                     help="where the runbooks (docs/runbooks/*.md) live for you, replacing the project's "
                          "GitHub URL in runbook_url annotations and dashboard links (default: keep it)")
    k8s.add_argument("--folder-annotation", default=kubernetes.FOLDER_ANNOTATION, metavar="KEY",
                     help="annotation the Grafana sidecar reads a dashboard's folder from (default: "
                          f"{kubernetes.FOLDER_ANNOTATION}; set it to grafana.sidecar.dashboards.folderAnnotation if you set that)")
    k8s.add_argument("--skip-rules", action="append", default=[], metavar="STEM",
                     help="leave out prometheus/rules/STEM.yml (repeatable), e.g. ha or hosts, which only "
                          "the Compose stack can fire")
    k8s.set_defaults(run=run_kubernetes)


def run_kubernetes(args: argparse.Namespace) -> int:
    project = (args.project_dir or paths.project_dir()).resolve()
    options = kubernetes.Options(namespace=args.namespace, release=args.release, prometheus_uid=args.prometheus_uid,
                                 alertmanager_uid=args.alertmanager_uid, runbook_url_prefix=args.runbook_url_prefix,
                                 folder_annotation=args.folder_annotation, skip_rules=frozenset(args.skip_rules))
    try:
        files = kubernetes.render(project, options)
        written = kubernetes.write(args.out, files)
    except (kubernetes.ExportError, OSError) as error:
        print(f"export kubernetes: {error}; nothing written", file=sys.stderr)
        return 1
    rules = sum(path.name.startswith("prometheusrule-") for path in written)
    print(f"wrote {rules} PrometheusRules and {len(written) - rules} dashboard ConfigMaps to {args.out} "
          f"(release label {options.release}); apply with: kubectl apply --server-side -f {args.out}")
    return 0
