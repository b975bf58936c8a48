"""The stack's rules and dashboards as Kubernetes objects for kube-prometheus-stack (pure rendering).

  - each prometheus/rules/<stem>.yml -> one PrometheusRule (monitoring.coreos.com/v1) `obsstack-<stem>`,
    its groups unchanged, labelled `release: <release>`: the chart's Prometheus selects PrometheusRules
    by that label (templates/prometheus/prometheus.yaml: ruleSelector.matchLabels.release, with
    ruleSelectorNilUsesHelmValues: true, the default) in every namespace (ruleNamespaceSelector: {});
  - each dashboard of obsstack/dashboards -> one ConfigMap `obsstack-dashboard-<uid>` labelled
    `grafana_dashboard: "1"` (the chart's grafana.sidecar.dashboards.label/labelValue), annotated with
    its folder for the sidecar (kiwigrid/k8s-sidecar's FOLDER_ANNOTATION default,
    k8s-sidecar-target-directory), data `<uid>.json` the same JSON `obsstack dashboards` writes, with
    the stack's fixed datasource uids rewritten to the chart's (grafana.sidecar.datasources.uid
    `prometheus`, ...alertmanager.uid `alertmanager`: the same as ours by default).
Checked against kube-prometheus-stack 88.5.3 (Grafana chart 12.11.1, k8s-sidecar 2.10.1, Prometheus
Operator v0.93.1). The Alertmanager routing is not exported: docs/kubernetes.md says why.
`obsstack export kubernetes` (commands/export.py) writes what render() returns, atomically (write()).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import dashboards, rules
from .folders import replace_dir
from .dashboards.builder import RUNBOOKS

CHART = "kube-prometheus-stack 88.5.3"
RULE_API_VERSION = "monitoring.coreos.com/v1"
# kube-prometheus-stack templates/prometheus/prometheus.yaml: ruleSelector.matchLabels.release: <Release.Name>
RULE_SELECTOR_LABEL = "release"
DEFAULT_RELEASE = "kube-prometheus-stack"  # judgement: the chart's own name; yours is what `helm list` shows
# kube-prometheus-stack values.yaml: grafana.sidecar.dashboards.label / labelValue
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"
# kiwigrid/k8s-sidecar 2.10.1 src/sidecar.py: FOLDER_ANNOTATION unset -> k8s-sidecar-target-directory
# (the Grafana chart sets FOLDER_ANNOTATION only when sidecar.dashboards.folderAnnotation is set; it is null).
FOLDER_ANNOTATION = "k8s-sidecar-target-directory"
# The stack's fixed datasource uids (grafana/provisioning/datasources/datasources.yml) and the chart's
# defaults for the two it provisions (values.yaml grafana.sidecar.datasources.uid, .alertmanager.uid).
STACK_DATASOURCE_UIDS = ("prometheus", "alertmanager", "elasticsearch-logs", "jaeger")
CHART_PROMETHEUS_UID = "prometheus"
CHART_ALERTMANAGER_UID = "alertmanager"
PART_OF = {"app.kubernetes.io/part-of": "observability-stack", "app.kubernetes.io/managed-by": "obsstack"}

# Kubernetes limits (k8s.io/apimachinery v0.36.3 pkg/util/validation/validation.go,
# pkg/api/validate/content/kube.go, pkg/api/validation/objectmeta.go; k8s.io/api v0.36.3 core/v1/types.go).
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # at most 63: namespaces
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")  # at most 253
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")  # at most 63
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")  # a key's name part, at most 63
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")  # at most 253
MAX_CONFIGMAP_DATA = 1024 * 1024  # MaxSecretSize: ValidateConfigMap refuses data + binaryData above it
# The sum of an object's annotations; client-side `kubectl apply` stores the whole object in one.
MAX_ANNOTATIONS = 256 * 1024

URL = re.compile(r"^https?://[^\s\"'\\<>]+$")
OWN_FILE = re.compile(r"^(prometheusrule|configmap)-obsstack-[a-z0-9.-]+\.yaml$")
NOTE = "# Written by `obsstack export kubernetes` from {source}: edit that and export again.\n"


class ExportError(ValueError):
    """Something the export cannot write faithfully; the message says what and where."""


@dataclass(frozen=True)
class Options:
    namespace: str | None = None  # None: no metadata.namespace (kubectl apply -n NS decides)
    release: str = DEFAULT_RELEASE
    prometheus_uid: str = CHART_PROMETHEUS_UID
    alertmanager_uid: str = CHART_ALERTMANAGER_UID
    runbook_url_prefix: str | None = None  # replaces RUNBOOKS in runbook_url annotations and the dashboards
    folder_annotation: str = FOLDER_ANNOTATION
    skip_rules: frozenset[str] = field(default_factory=frozenset)


def metadata(name: str, options: Options, labels: dict[str, str],
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**PART_OF, **labels}}
    if options.namespace:
        meta["namespace"] = options.namespace
    if annotations:
        meta["annotations"] = annotations
    return meta


def runbook(url: str, options: Options) -> str:
    if options.runbook_url_prefix and url.startswith(RUNBOOKS):
        return options.runbook_url_prefix.rstrip("/") + "/" + url[len(RUNBOOKS):]
    return url


def prometheus_rule(path: Path, options: Options) -> dict[str, Any]:
    """One rule file as a PrometheusRule: its groups as they are (runbook_url re-pointed if asked)."""
    groups = yaml.safe_load(path.read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            notes = rule.get("annotations", {})
            if "runbook_url" in notes:
                notes["runbook_url"] = runbook(notes["runbook_url"], options)
    return {"apiVersion": RULE_API_VERSION, "kind": "PrometheusRule",
            "metadata": metadata(f"obsstack-{path.stem}", options, {RULE_SELECTOR_LABEL: options.release}),
            "spec": {"groups": groups}}


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def rewrite_datasources(dashboard: dict[str, Any], options: Options) -> list[str]:
    """Point the stack's fixed datasource uids at the chart's, in place: panel and query datasources,
    `datasourceUid` links and the datasource variable's default. Returns the fixed uids left that the
    chart provisions no datasource for (Elasticsearch logs, Jaeger)."""
    mapping = {"prometheus": options.prometheus_uid, "alertmanager": options.alertmanager_uid}
    unmapped: list[str] = []

    def swap(uid: Any) -> Any:
        if isinstance(uid, str) and uid in STACK_DATASOURCE_UIDS:
            if uid in mapping:
                return mapping[uid]
            unmapped.append(uid)
        return uid

    def visit(node: dict[str, Any]) -> None:
        if isinstance(node.get("datasource"), dict) and "uid" in node["datasource"]:
            node["datasource"]["uid"] = swap(node["datasource"]["uid"])
        if "datasourceUid" in node:
            node["datasourceUid"] = swap(node["datasourceUid"])
        if node.get("type") == "datasource" and isinstance(node.get("current"), dict):
            node["current"]["value"] = swap(node["current"].get("value"))

    _walk(dashboard, visit)
    return sorted(set(unmapped))


def dashboard_configmap(folder: str, uid: str, dashboard: dict[str, Any], options: Options) -> dict[str, Any]:
    left = rewrite_datasources(dashboard, options)
    if left:
        raise ExportError(f"dashboard {uid} reads datasource uid(s) {', '.join(left)}, which {CHART} does not "
                          "provision: add them to grafana.additionalDataSources first, or leave it out")
    text = json.dumps(dashboard, indent=2, sort_keys=True) + "\n"
    if options.runbook_url_prefix:  # links, table cell links and descriptions alike
        text = text.replace(RUNBOOKS, options.runbook_url_prefix.rstrip("/") + "/")
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata(f"obsstack-dashboard-{uid}", options, {DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE},
                                 {options.folder_annotation: folder}),
            "data": {f"{uid}.json": text}}


def objects(project: Path, options: Options) -> list[tuple[str, dict[str, Any]]]:
    """(source, object) for every rule file and dashboard, rule files then dashboards, each sorted."""
    files = rules.rule_files(project)
    unknown = sorted(options.skip_rules - {path.stem for path in files})
    if unknown:
        raise ExportError(f"--skip-rules {', '.join(unknown)}: no such file in {rules.RULES_DIR}/")
    found = [(f"{rules.RULES_DIR}/{path.name}", prometheus_rule(path, options))
             for path in files if path.stem not in options.skip_rules]
    for (folder, uid), build in sorted(dashboards.DASHBOARDS.items(), key=lambda item: item[0][1]):
        found.append((f"src/obsstack/dashboards ({folder}/{uid}.json)", dashboard_configmap(folder, uid, build(), options)))
    return found


def problems(obj: dict[str, Any]) -> list[str]:
    """What the API server would refuse in this object's names, labels and sizes (the schema aside)."""
    meta, found = obj["metadata"], []
    where = f"{obj['kind']} {meta['name']}"
    if len(meta["name"]) > 253 or not DNS1123_SUBDOMAIN.match(meta["name"]):
        found.append(f"{where}: the name is not a DNS-1123 subdomain (lower-case letters, digits, '-', '.'; at most 253)")
    namespace = meta.get("namespace")
    if namespace is not None and (len(namespace) > 63 or not DNS1123_LABEL.match(namespace)):
        found.append(f"{where}: namespace {namespace!r} is not a DNS-1123 label (lower-case letters, digits, '-'; at most 63)")
    for key in [*meta.get("labels", {}), *meta.get("annotations", {})]:
        if not qualified_name(key):
            found.append(f"{where}: {key!r} is not a valid label or annotation key")
    for key, value in meta.get("labels", {}).items():
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            found.append(f"{where}: label {key}={value!r} is not a valid label value (alphanumerics, '-', '_', '.'; at most 63)")
    if sum(len(k) + len(v) for k, v in meta.get("annotations", {}).items()) > MAX_ANNOTATIONS:
        found.append(f"{where}: its annotations exceed {MAX_ANNOTATIONS} bytes")
    if obj["kind"] == "ConfigMap":
        for key in obj.get("data", {}):
            if len(key) > 253 or not CONFIGMAP_KEY.match(key):
                found.append(f"{where}: data key {key!r} is not a valid ConfigMap key")
        size = sum(len(value.encode()) for value in obj.get("data", {}).values())
        if size > MAX_CONFIGMAP_DATA:
            found.append(f"{where}: its data is {size} bytes, over the {MAX_CONFIGMAP_DATA}-byte ConfigMap limit")
    return found


def qualified_name(key: str) -> bool:
    """A label or annotation key: [DNS-1123 subdomain prefix '/'] name (IsQualifiedName)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and bool(LABEL_NAME.match(name))


def client_side_apply_too_big(obj: dict[str, Any]) -> bool:
    """Whether `kubectl apply` without --server-side would fail: it stores the whole object in the
    kubectl.kubernetes.io/last-applied-configuration annotation, under the annotations' limit."""
    return len(json.dumps(obj, separators=(",", ":"))) > MAX_ANNOTATIONS


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, the dashboards' JSON) as literal blocks; PyYAML falls back to a
    quoted scalar where a block cannot hold the text exactly."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


def to_yaml(obj: dict[str, Any]) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True,
                     width=1_000_000)


def file_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def check_options(options: Options) -> None:
    if options.namespace is not None and (len(options.namespace) > 63 or not DNS1123_LABEL.match(options.namespace)):
        raise ExportError(f"--namespace {options.namespace!r}: not a DNS-1123 label (lower-case letters, digits, '-'; at most 63)")
    for flag, uid in (("--prometheus-uid", options.prometheus_uid), ("--alertmanager-uid", options.alertmanager_uid)):
        if not uid.strip():
            raise ExportError(f"{flag}: give the datasource's uid")
    if options.runbook_url_prefix is not None and not URL.match(options.runbook_url_prefix):
        raise ExportError(f"--runbook-url-prefix {options.runbook_url_prefix!r}: give an http(s) URL without spaces or quotes")
    if not options.release or len(options.release) > 63 or not LABEL_VALUE.match(options.release):
        raise ExportError(f"--release {options.release!r}: not a valid label value (alphanumerics, '-', '_', '.'; at most 63)")


def render(project: Path, options: Options) -> dict[str, str]:
    """{file name: YAML text} for every object, sorted by file name; ExportError before anything is
    written when an object would be refused."""
    check_options(options)
    files: dict[str, str] = {}
    errors: list[str] = []
    for source, obj in objects(project, options):
        errors.extend(problems(obj))
        name = file_name(obj)
        if name in files:
            errors.append(f"two objects would be written to {name}")
        files[name] = NOTE.format(source=source) + to_yaml(obj)
    if errors:
        raise ExportError("; ".join(errors))
    return dict(sorted(files.items()))


def _write_file(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write(out: Path, files: dict[str, str]) -> list[Path]:
    """Replace the folder `out` with exactly `files`, all or nothing: everything is written to a new
    folder beside it, which then takes its place (a rename; the old one is deleted after). `out` must
    be new, empty or a previous export (only files this command names), so nothing else is lost."""
    out = out.absolute()
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out} exists and is not a folder")
        foreign = sorted(p.name for p in out.iterdir() if not (p.is_file() and OWN_FILE.match(p.name)))
        if foreign:
            raise ExportError(f"{out} holds files this command did not write ({', '.join(foreign[:5])}): "
                              "give a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for name, text in files.items():
            _write_file(staging / name, text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it 0700; a folder of manifests is not secret
        replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out / name for name in files]
