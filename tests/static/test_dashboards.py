"""Grafana dashboards: generated from src/obsstack/dashboards/ and current, and held to a strict lint.
Their Prometheus queries are parsed by the real promtool; the live suite runs them (tests/live)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from obsstack.promql import (
    label_values_query,
    metric_names,
    substitute_variables,
    variables_used,
)
from obsstack.rules import alerts as load_alerts
from obsstack.rules import load_rules

DASHBOARDS = sorted((ROOT / "grafana/dashboards").rglob("*.json"))
PROVISIONED_UIDS = {d["uid"] for d in yaml.safe_load(
    (ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())["datasources"]}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def all_exprs() -> list[tuple[str, str, str]]:
    return [(path.stem, panel["title"], target["expr"]) for path in DASHBOARDS for panel in panels(load(path))
            for target in panel.get("targets", [])]


def test_dashboards_exist():
    assert DASHBOARDS


def test_generated_dashboards_are_current():
    proc = subprocess.run([sys.executable, str(ROOT / "grafana/generate.py"), "--check"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


def test_uids_unique_and_files_named_after_them():
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids))
    for path in DASHBOARDS:
        assert load(path)["uid"] == path.stem


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_lint(path):
    text = path.read_text()
    dashboard = json.loads(text)
    assert "__inputs" not in dashboard and "${DS_" not in text, "import placeholders fail under provisioning"
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert "datasource" in names
    # Navigation: every dashboard of the bundle from any of them (a drop-down by tag).
    assert "observability-stack" in dashboard["tags"]
    assert any(link["type"] == "dashboards" and link["tags"] == ["observability-stack"] for link in dashboard["links"])
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        where = f"{path.stem}: {panel['title']}"
        assert panel["type"] in {"timeseries", "stat", "table", "heatmap", "gauge", "bargauge", "text", "row",
                                 "alertlist", "logs", "traces"}, f"{where}: {panel['type']} (no Angular panels)"
        if panel["type"] in ("row", "text"):
            continue
        assert panel.get("description"), f"{where}: no description"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
        assert panel["datasource"]["uid"] in {"${datasource}"} | PROVISIONED_UIDS, where
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in {"${datasource}"} | PROVISIONED_UIDS, where
            for match in re.finditer(r"\b(rate|irate|increase)\(([^()]*)\)", target["expr"]):
                if match[1] == "increase" and ("[$__interval]" in match[2] or "[$__range]" in match[2]):
                    continue  # events per step (test_dashboard_lint.py: lint_event_windows), or a total over the range
                assert "$__rate_interval" in match[2] or ":" in match[2].split("[")[0], \
                    f"{where}: {match[1]}() without $__rate_interval"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_variable_a_query_uses_is_defined(path):
    dashboard = load(path)
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            missing = variables_used(target["expr"]) - defined
            assert not missing, f"{path.stem}: {panel['title']}: ${', $'.join(sorted(missing))} not defined"
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            assert variables_used(var["query"]) <= defined - {var["name"]}, f"{path.stem}: variable {var['name']}"


def variable_selectors() -> list[str]:
    """The series selector inside each query variable's label_values(SELECTOR, label)."""
    found = []
    for path in DASHBOARDS:
        for var in load(path)["templating"]["list"]:
            if var["type"] == "query":
                parsed = label_values_query(var["query"])
                assert parsed, f"{path.stem}: variable {var['name']}: {var['query']}"
                found.append(parsed[0])
    return found


def test_every_query_is_valid_promql(tool, tmp_path):
    """promtool parses each query, as a recording rule, with the Grafana variables substituted."""
    exprs = all_exprs() + [("variables", "selector", selector) for selector in variable_selectors()]
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{i}:check", "expr": substitute_variables(expr)}
        for i, (_, _, expr) in enumerate(exprs)]}]}
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    proc = subprocess.run([str(tool("promtool")), "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(exprs)} rules found" in proc.stdout


def test_grafana_provisions_the_dashboard_folders():
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/dashboards.yml").read_text())["providers"][0]
    assert provider["options"]["foldersFromFilesStructure"] is True
    # Read-only by default: Grafana interpolates the variable, which compose sets to false unless .env opts in.
    assert provider["allowUiUpdates"] == "${GRAFANA_DASHBOARDS_EDITABLE}"
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    assert grafana["environment"]["GRAFANA_DASHBOARDS_EDITABLE"] == "${GRAFANA_DASHBOARDS_EDITABLE:-false}"
    assert all(load(path)["editable"] is False for path in DASHBOARDS)


# Metrics some panel reads that no alert or recording rule reads, with the exporter that exposes them.
DASHBOARD_ONLY_METRICS = {
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": "dcgm-exporter profiling counters (dcgm/counters-profiling.csv, opt-in)",
    "DCGM_FI_PROF_DRAM_ACTIVE": "dcgm-exporter profiling counters (dcgm/counters-profiling.csv, opt-in)",
    "logstash_stats_pipeline_dead_letter_queue_max_size_in_bytes": "logstash-exporter (pipeline dead_letter_queue stats)",
    "logstash_stats_pipeline_dead_letter_queue_expired_events": "logstash-exporter (pipeline dead_letter_queue stats)",
    "container_cpu_usage_seconds_total": "cAdvisor (cpu metrics)",
    "container_network_receive_bytes_total": "cAdvisor (network metrics, not disabled in docker-compose.yml)",
    "container_network_transmit_bytes_total": "cAdvisor (network metrics, not disabled in docker-compose.yml)",
    "ALERTS": "Prometheus itself (a series per pending or firing alert; the live fault test reads it)",
}


def test_metric_names_are_extracted():
    assert metric_names('sum by (job) (rate(http_requests_total{status=~"5.."}[$__rate_interval])) / on (job) '
                        'job:http_requests:rate5m') == {"http_requests_total", "job:http_requests:rate5m"}


def test_panels_without_native_data_read_real_metric_names():
    """The live suite cannot run these panels' queries; their metrics must be names the rules already
    use (checked against the exporters' source when the rules were written) or listed above."""
    rules = " ".join(rule.expr for rule in load_rules(ROOT))
    known = metric_names(rules) | set(DASHBOARD_ONLY_METRICS) | {rule.record for rule in load_rules(ROOT) if rule.record}
    no_data = yaml.safe_load((ROOT / "tests/live/no_data_natively.yml").read_text())
    seen, unknown = set(), []
    for path in DASHBOARDS:
        dashboard = load(path)
        for panel in panels(dashboard):
            key = f"{dashboard['uid']}/{panel['title']}"
            if key not in no_data:
                continue
            seen.add(key)
            unknown += [f"{key}: {name}" for target in panel["targets"] for name in metric_names(target["expr"])
                        if name not in known]
    assert seen == set(no_data), f"listed but no such panel: {sorted(set(no_data) - seen)}"
    assert not unknown, "\n".join(unknown)


# Thresholds that colour a panel without an alert behind them, with the reason.
DISPLAY_ONLY_THRESHOLDS = {
    "slo/Availability error budget remaining": "budget bands (half, a quarter, none left); the burn-rate alerts page",
    "slo/Latency error budget remaining": "budget bands (half, a quarter, none left); the burn-rate alerts page",
}


def alert_numbers() -> dict[str, set[float]]:
    """Alert name -> the numbers in its expressions (thresholds, factors), ranges and strings left out."""
    found: dict[str, set[float]] = {}
    for rule in load_alerts(ROOT):
        expr = re.sub(r'"[^"]*"|\[[^\]]*\]', " ", rule.expr)
        found.setdefault(rule.alert, set()).update(
            float(n) for n in re.findall(r"(?<![\w.])(\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w.])", expr))
    return found


def test_panel_thresholds_are_the_alert_thresholds():
    """A threshold other than 0/1 (down/up, none/some) must be a number of an alert the panel's
    description names, so changing an alert's threshold without its panel fails here; a value just
    above 0 stands for an alert on "> 0"."""
    alerts = alert_numbers()
    wrong = []
    for path in DASHBOARDS:
        dashboard = load(path)
        for panel in panels(dashboard):
            key = f"{dashboard['uid']}/{panel['title']}"
            steps = [s["value"] for s in panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {})
                     .get("steps", []) if s["value"] is not None]
            named = [a for a in alerts if re.search(rf"\b{a}\b", panel.get("description", ""))]
            numbers = set().union(*(alerts[a] for a in named))
            for value in steps:
                if value in (0.0, 1.0) or key in DISPLAY_ONLY_THRESHOLDS:
                    continue
                if not named:
                    wrong.append(f"{key}: threshold {value} but the description names no alert")
                elif value not in numbers and not (0 < value < 0.01 and 0.0 in numbers):
                    wrong.append(f"{key}: threshold {value} is in none of {named} (numbers {sorted(numbers)})")
    assert not wrong, "\n".join(wrong)


def test_alert_name_links_open_each_alerts_runbook():
    """A table cell link built from an alert's name (${__value.raw} in the alertname column) must give,
    for every alert, the runbook_url its rule carries: renaming the runbooks' folder or base URL in
    one place only fails here."""
    rules = {rule.alert: rule.spec.get("annotations", {}).get("runbook_url") for rule in load_alerts(ROOT)}
    checked, wrong = 0, []
    for path in DASHBOARDS:
        dashboard = load(path)
        for panel in panels(dashboard):
            for override in panel.get("fieldConfig", {}).get("overrides", []):
                if override["matcher"] != {"id": "byName", "options": "alertname"}:
                    continue
                for prop in override["properties"]:
                    for link in prop["value"] if prop["id"] == "links" else []:
                        checked += 1
                        wrong += [f"{dashboard['uid']}/{panel['title']}: {alert} links to "
                                  f"{link['url'].replace('${__value.raw}', alert)}, its rule to {runbook}"
                                  for alert, runbook in rules.items()
                                  if runbook and link["url"].replace("${__value.raw}", alert) != runbook]
    assert checked, "no dashboard links an alert's name to its runbook (the Overview's Firing alerts should)"
    assert not wrong, "\n".join(wrong[:10])
