"""`obsstack export kubernetes` (src/obsstack/kubernetes.py): the rule files as PrometheusRules and the
dashboards as Grafana sidecar ConfigMaps for kube-prometheus-stack. Every rule carried over exactly,
every dashboard exported, every object valid against the published schemas (the PrometheusRule CRD of
prometheus-operator v0.93.0, Kubernetes v1.36.2's ConfigMap and ObjectMeta: tests/fixtures/kubernetes/),
within Kubernetes' name and size limits, and the folder written all or nothing."""
from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import ROOT
from obsstack import cli, dashboards, kubernetes, rules

FIXTURES = ROOT / "tests/fixtures/kubernetes"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Written out here rather than imported, so a wrong limit in the exporter cannot pass its own test
# (k8s.io/apimachinery v0.36.3 pkg/util/validation/validation.go; k8s.io/api v0.36.3 MaxSecretSize).
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
ONE_MIB = 1024 * 1024


# --- the published schemas -------------------------------------------------------------------------

def strict(schema: Any) -> Any:
    """additionalProperties: false wherever an object schema lists its properties and allows no
    others explicitly (kubeconform -strict; the API server's strict field validation)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(value) for value in schema]
    return schema


def definitions() -> dict[str, Any]:
    return json.loads((FIXTURES / "kubernetes-v1.36.2-configmap-definitions.json").read_text())["definitions"]


def crd() -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / "monitoring.coreos.com_prometheusrules.yaml").read_text())


def validators() -> dict[str, tuple[str, jsonschema.protocols.Validator]]:
    """kind -> (apiVersion, validator)."""
    defs = strict(definitions())
    rule_crd = crd()
    (version,) = [v for v in rule_crd["spec"]["versions"] if v["served"] and v["storage"]]
    rule_schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    # The CRD leaves metadata to the API server, which checks it as ObjectMeta: so does this.
    rule_schema["properties"]["metadata"] = {"$ref": f"#/definitions/{OBJECT_META}"}
    rule_schema["definitions"] = defs
    configmap_schema = {"$ref": "#/definitions/io.k8s.api.core.v1.ConfigMap", "definitions": defs}
    return {
        rule_crd["spec"]["names"]["kind"]: (f"{rule_crd['spec']['group']}/{version['name']}",
                                            jsonschema.Draft7Validator(rule_schema)),
        "ConfigMap": ("v1", jsonschema.Draft7Validator(configmap_schema)),
    }


VALIDATORS = validators()


def schema_errors(obj: dict[str, Any]) -> list[str]:
    if obj.get("kind") not in VALIDATORS:
        return [f"unknown kind {obj.get('kind')!r}"]
    api_version, validator = VALIDATORS[obj["kind"]]
    found = [f"apiVersion {obj.get('apiVersion')!r} is not {api_version!r}"] if obj.get("apiVersion") != api_version else []
    return found + [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(obj)]


def test_the_fixtures_are_the_published_schemas():
    # The CRD byte for byte: its git blob id at prometheus-operator v0.93.0 (tests/fixtures/kubernetes/README.md).
    body = (FIXTURES / "monitoring.coreos.com_prometheusrules.yaml").read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest() == "b423c3225b18489ca7bbc5091f38f7003c4bf3fc"
    rule_crd = crd()
    assert rule_crd["metadata"]["annotations"]["operator.prometheus.io/version"] == "0.93.0"
    assert rule_crd["spec"]["names"]["kind"] == "PrometheusRule"
    assert set(definitions()["io.k8s.api.core.v1.ConfigMap"]["properties"]) == {
        "apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}


# --- the export ------------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def built_once() -> Any:
    """Each dashboard built once for the module (a build reads every rule file: seconds), handed out
    as a fresh copy each time, since the export rewrites it in place."""
    def cached(board: dict[str, Any]) -> Any:
        return lambda: copy.deepcopy(board)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dashboards, "DASHBOARDS", {key: cached(build()) for key, build in dashboards.DASHBOARDS.items()})
        yield


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder `obsstack export kubernetes` writes with its defaults (the command, in-process)."""
    folder = tmp_path_factory.mktemp("export") / "k8s"
    assert cli.main(["export", "kubernetes", "--out", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def exported(out: Path) -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(out.iterdir())}


def of_kind(exported: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in exported.values() if obj["kind"] == kind}


def test_every_rule_file_is_one_prometheusrule_with_its_groups_unchanged(exported):
    found = of_kind(exported, "PrometheusRule")
    files = rules.rule_files(ROOT)
    assert sorted(found) == sorted(f"obsstack-{path.stem}" for path in files)
    for path in files:
        assert found[f"obsstack-{path.stem}"]["spec"]["groups"] == yaml.safe_load(path.read_text())["groups"], path.name


def test_every_alert_appears_exactly_once_with_its_expression_identical(exported):
    def key(rule: dict[str, Any]) -> tuple[str, str, str]:
        return (rule.get("alert") or "", rule.get("record") or "", json.dumps(rule.get("labels", {}), sort_keys=True))

    source = {key(r.spec): r.expr for r in rules.load_rules(ROOT)}
    exported_rules = [rule for obj in of_kind(exported, "PrometheusRule").values()
                      for group in obj["spec"]["groups"] for rule in group["rules"]]
    counts = Counter(key(rule) for rule in exported_rules)
    assert counts == Counter(key(r.spec) for r in rules.load_rules(ROOT))
    assert all(n == 1 for n in counts.values()), [k for k, n in counts.items() if n > 1]
    assert {key(rule): rule["expr"] for rule in exported_rules} == source
    alerts = [rule["alert"] for rule in exported_rules if "alert" in rule]
    assert len(alerts) == len(rules.alerts(ROOT)) > 100


@pytest.mark.toolchain
def test_the_real_promtool_accepts_every_exported_rule_group(exported, tool, tmp_path):
    """The operator writes each PrometheusRule's spec out as a rule file for Prometheus: so does this."""
    files = []
    for name, obj in of_kind(exported, "PrometheusRule").items():
        files.append(tmp_path / f"{name}.yml")
        files[-1].write_text(yaml.safe_dump(obj["spec"], sort_keys=False))
    proc = subprocess.run([str(tool("promtool")), "check", "rules", "--lint=all", *map(str, files)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(rules.rule_files(ROOT))


def test_prometheusrules_carry_the_label_the_charts_rule_selector_matches(exported):
    # kube-prometheus-stack 88.5.3 templates/prometheus/prometheus.yaml: ruleSelector.matchLabels.release
    for obj in of_kind(exported, "PrometheusRule").values():
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert "namespace" not in obj["metadata"], "no --namespace: kubectl apply -n decides"


def test_runbook_urls_are_kept_and_each_names_a_runbook_in_the_repository(exported):
    urls = [rule["annotations"]["runbook_url"] for obj in of_kind(exported, "PrometheusRule").values()
            for group in obj["spec"]["groups"] for rule in group["rules"] if "runbook_url" in rule.get("annotations", {})]
    assert len(urls) == len(rules.alerts(ROOT)) - sum(not r.spec.get("annotations", {}).get("runbook_url") for r in rules.alerts(ROOT))
    for url in urls:
        assert url.startswith(dashboards.builder.RUNBOOKS), url
        assert (ROOT / "docs/runbooks" / url.removeprefix(dashboards.builder.RUNBOOKS)).is_file(), url


def test_every_dashboard_is_a_sidecar_configmap_holding_the_generated_json(exported):
    found = of_kind(exported, "ConfigMap")
    assert sorted(found) == sorted(f"obsstack-dashboard-{uid}" for _, uid in dashboards.DASHBOARDS)
    for folder, uid in dashboards.DASHBOARDS:
        obj = found[f"obsstack-dashboard-{uid}"]
        # kube-prometheus-stack values.yaml grafana.sidecar.dashboards.label/labelValue; k8s-sidecar 2.10.1's
        # default FOLDER_ANNOTATION.
        assert obj["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert obj["metadata"]["annotations"] == {"k8s-sidecar-target-directory": folder}
        # The chart's Prometheus datasource uid is `prometheus` too: the JSON is the committed file's.
        assert obj["data"] == {f"{uid}.json": (ROOT / "grafana/dashboards" / folder / f"{uid}.json").read_text()}


def test_every_object_is_valid_against_the_published_schemas(exported):
    assert len(exported) == len(rules.rule_files(ROOT)) + len(dashboards.DASHBOARDS)
    errors = {name: schema_errors(obj) for name, obj in exported.items()}
    assert {name: found for name, found in errors.items() if found} == {}


def test_names_and_sizes_are_within_kubernetes_limits(exported):
    for name, obj in exported.items():
        meta = obj["metadata"]
        assert len(meta["name"]) <= 253 and DNS1123_SUBDOMAIN.match(meta["name"]), name
        assert name == f"{obj['kind'].lower()}-{meta['name']}.yaml"
        if obj["kind"] == "ConfigMap":
            assert sum(len(v.encode()) for v in obj["data"].values()) < ONE_MIB, name
        # Small enough for client-side `kubectl apply` too (its last-applied annotation, 256 KiB at most).
        assert len(json.dumps(obj, separators=(",", ":"))) < 256 * 1024, name
        assert kubernetes.problems(obj) == []


def test_the_files_are_what_render_gives_sorted_and_the_same_every_time(out):
    again = kubernetes.render(ROOT, kubernetes.Options())
    assert list(again) == sorted(again)
    assert {path.name: path.read_text() for path in sorted(out.iterdir())} == again
    for text in again.values():
        body = yaml.safe_load(text)
        assert text.split("\n", 1)[1] == yaml.dump(body, Dumper=kubernetes._Dumper, sort_keys=True,
                                                    default_flow_style=False, allow_unicode=True, width=1_000_000)


# --- options ---------------------------------------------------------------------------------------

def test_namespace_release_uids_and_runbook_prefix_are_applied_and_stay_valid():
    options = kubernetes.Options(namespace="monitoring", release="prom-stack", prometheus_uid="my-prom",
                                 runbook_url_prefix="https://wiki.example.org/runbooks")
    rule = kubernetes.prometheus_rule(ROOT / "prometheus/rules/meta.yml", options)
    assert rule["metadata"]["namespace"] == "monitoring" and rule["metadata"]["labels"]["release"] == "prom-stack"
    watchdog = rule["spec"]["groups"][0]["rules"][0]
    assert watchdog["annotations"]["runbook_url"] == "https://wiki.example.org/runbooks/Watchdog.md"
    configmap = kubernetes.dashboard_configmap("Overview", "overview", dashboards.DASHBOARDS["Overview", "overview"](), options)
    text = configmap["data"]["overview.json"]
    board = json.loads(text)
    uids = set()
    kubernetes._walk(board, lambda node: uids.add(node["datasource"]["uid"])
                     if isinstance(node.get("datasource"), dict) else None)
    assert uids == {"${datasource}"}
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert variable["current"]["value"] == "my-prom"
    assert dashboards.builder.RUNBOOKS not in text and "https://wiki.example.org/runbooks/" in text
    assert schema_errors(rule) == [] and schema_errors(configmap) == []


def test_a_dashboard_reading_a_datasource_the_chart_lacks_is_refused():
    board = {"panels": [{"datasource": {"type": "jaeger", "uid": "jaeger"}}]}
    with pytest.raises(kubernetes.ExportError, match="jaeger"):
        kubernetes.dashboard_configmap("Stack health", "traces", board, kubernetes.Options())


@pytest.mark.parametrize(("options", "message"), [
    (kubernetes.Options(namespace="Monitoring"), "--namespace"),
    (kubernetes.Options(release="prom stack"), "--release"),
    (kubernetes.Options(runbook_url_prefix="wiki/runbooks"), "--runbook-url-prefix"),
    (kubernetes.Options(skip_rules=frozenset({"nodes"})), "--skip-rules nodes"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(kubernetes.ExportError, match=message):
        kubernetes.render(ROOT, options)


def test_the_command_refusing_writes_nothing(tmp_path, capsys):
    out = tmp_path / "k8s"
    assert cli.main(["export", "kubernetes", "--out", str(out), "--namespace", "Monitoring"]) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert "nothing written" in capsys.readouterr().err


def test_skip_rules_leaves_those_files_out(monkeypatch):
    monkeypatch.setattr(dashboards, "DASHBOARDS", {})  # the rules alone
    options = kubernetes.Options(skip_rules=frozenset({"ha", "hosts"}))
    names = {obj["metadata"]["name"] for _, obj in kubernetes.objects(ROOT, options)}
    assert names == {f"obsstack-{p.stem}" for p in rules.rule_files(ROOT)} - {"obsstack-ha", "obsstack-hosts"}


# --- the checks have teeth (sabotage) --------------------------------------------------------------

def test_the_schemas_refuse_a_wrong_field(exported):
    rule = copy.deepcopy(next(iter(of_kind(exported, "PrometheusRule").values())))
    rule["spec"]["groups"][0]["rule"] = rule["spec"]["groups"][0].pop("rules")  # misspelt field
    assert any("'rule' was unexpected" in e for e in schema_errors(rule)), schema_errors(rule)
    rule = copy.deepcopy(next(iter(of_kind(exported, "PrometheusRule").values())))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    assert any("does not match" in e for e in schema_errors(rule))
    rule["spec"]["groups"][0]["rules"][0]["labels"] = {"severity": 1}
    assert any("is not of type 'string'" in e for e in schema_errors(rule))
    configmap = copy.deepcopy(next(iter(of_kind(exported, "ConfigMap").values())))
    configmap["metadata"]["label"] = configmap["metadata"].pop("labels")
    assert any("'label' was unexpected" in e for e in schema_errors(configmap))
    configmap = copy.deepcopy(next(iter(of_kind(exported, "ConfigMap").values())))
    configmap["apiVersion"] = "v2"
    assert schema_errors(configmap) == ["apiVersion 'v2' is not 'v1'"]


def test_an_exporter_that_writes_a_wrong_field_fails_validation(monkeypatch, tmp_path):
    """Break the exporter itself (a `spec.group` beside `spec.groups`) and watch the check catch it."""
    original = kubernetes.prometheus_rule

    def broken(path: Path, options: kubernetes.Options) -> dict[str, Any]:
        obj = original(path, options)
        obj["spec"]["group"] = obj["spec"]["groups"][0]["name"]
        return obj

    monkeypatch.setattr(kubernetes, "prometheus_rule", broken)
    rule = kubernetes.prometheus_rule(ROOT / "prometheus/rules/meta.yml", kubernetes.Options())
    assert any("'group' was unexpected" in e for e in schema_errors(rule))


def test_the_limits_refuse_a_bad_name_and_an_oversized_configmap():
    options = kubernetes.Options()
    configmap = kubernetes.dashboard_configmap("Overview", "overview", {"title": "x" * ONE_MIB}, options)
    assert any("over the 1048576-byte ConfigMap limit" in p for p in kubernetes.problems(configmap))
    configmap = kubernetes.dashboard_configmap("Overview", "Big_Board", {"title": "x"}, options)
    assert any("not a DNS-1123 subdomain" in p for p in kubernetes.problems(configmap))
    assert kubernetes.client_side_apply_too_big({"data": {"a": "x" * 300_000}})


# --- all or nothing --------------------------------------------------------------------------------

def listing(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failure_while_writing_leaves_the_previous_export_whole(tmp_path, monkeypatch):
    out = tmp_path / "k8s"
    kubernetes.write(out, {"configmap-obsstack-dashboard-a.yaml": "a: 1\n", "prometheusrule-obsstack-b.yaml": "b: 1\n"})
    before = listing(out)
    calls = []

    def failing(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        path.write_text(text)

    monkeypatch.setattr(kubernetes, "_write_file", failing)
    with pytest.raises(OSError, match="disk full"):
        kubernetes.write(out, {f"prometheusrule-obsstack-{n}.yaml": "x: 1\n" for n in "cde"})
    assert listing(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k8s"], "no staging folder left behind"


def test_a_new_export_replaces_an_earlier_one_whole(tmp_path):
    out = tmp_path / "k8s"
    kubernetes.write(out, {"prometheusrule-obsstack-old.yaml": "a: 1\n"})
    kubernetes.write(out, {"prometheusrule-obsstack-new.yaml": "b: 1\n"})
    assert listing(out) == {"prometheusrule-obsstack-new.yaml": "b: 1\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k8s"]


def test_a_folder_with_other_files_is_refused_untouched(tmp_path):
    out = tmp_path / "k8s"
    out.mkdir()
    (out / "mine.yaml").write_text("keep: me\n")
    with pytest.raises(kubernetes.ExportError, match="mine.yaml"):
        kubernetes.write(out, {"prometheusrule-obsstack-a.yaml": "a: 1\n"})
    assert listing(out) == {"mine.yaml": "keep: me\n"}
