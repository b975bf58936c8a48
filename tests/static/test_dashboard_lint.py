"""A lint that knows the dashboard mistakes an SRE would catch: each rule runs over every shipped
dashboard and, on a panel broken on purpose, must complain."""
from __future__ import annotations

import copy
import json
import re

import pytest
from conftest import ROOT

DASHBOARDS = sorted((ROOT / "grafana/dashboards").rglob("*.json"))
# Grafana's unit ids (packages/grafana-data/src/valueFormats/categories.ts, the ones a panel of this
# stack may use) and its custom-unit forms (prefix:, suffix:, si:, count:, ...).
KNOWN_UNITS = {"none", "short", "percent", "percentunit", "bytes", "decbytes", "bits", "Bps", "bps", "pps", "s", "ms",
               "µs", "ns", "m", "h", "d", "dtdurations", "hertz", "celsius", "watt", "joule", "cps", "ops", "reqps",
               "rps", "wps", "iops", "cpm", "opm", "rpm", "wpm", "kwatth", "watth", "locale", "dateTimeAsIso", "dateTimeFromNow"}
CUSTOM_UNIT = re.compile(r"^(prefix|suffix|si|count|currency|time):.+")
EVENT_COUNT = re.compile(r"\b(increase|changes)\([^()]*\[([^\]]+)\]")


def panels(dashboard: dict) -> list[dict]:
    return [p for panel in dashboard["panels"] for p in (panel, *panel.get("panels", []))]


def lint_tables(dashboard: dict) -> list[str]:
    """A table shows one frame at a time: its queries must be instant, table-format, and merged."""
    problems = []
    for panel in panels(dashboard):
        if panel["type"] != "table":
            continue
        for target in panel["targets"]:
            if target.get("format") != "table" or not target.get("instant"):
                problems.append(f"{panel['title']}: table query {target['refId']} is not an instant table-format query")
        ids = [t["id"] for t in panel.get("transformations", [])]
        if "merge" not in ids:
            problems.append(f"{panel['title']}: table without a merge transformation")
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        if len(steps) > 1 and panel["fieldConfig"]["defaults"].get("custom", {}).get("cellOptions", {}).get("type") \
                not in ("color-background", "color-text"):
            problems.append(f"{panel['title']}: thresholds that colour no cell")
    return problems


def lint_watchdog(dashboard: dict) -> list[str]:
    """The always-firing Watchdog (severity none) belongs in no count and no annotation band."""
    exprs = [(p["title"], t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]
    exprs += [(a["name"], a.get("expr", "")) for a in dashboard.get("annotations", {}).get("list", [])]
    return [f"{where}: {expr} includes the Watchdog" for where, expr in exprs
            for matcher in re.findall(r"ALERTS\{([^}]*)\}", expr)
            if 'severity!="none"' not in matcher and not re.search(r'severity="(critical|warning|info)"', matcher)]


def lint_event_windows(dashboard: dict) -> list[str]:
    """increase/changes of events over $__rate_interval count one event on several points."""
    problems = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            for _, window in EVENT_COUNT.findall(target["expr"]):
                if window == "$__rate_interval":
                    problems.append(f"{panel['title']}: increase/changes over $__rate_interval (use $__interval)")
                elif window == "$__interval" and not panel.get("interval"):
                    problems.append(f"{panel['title']}: $__interval without a panel min interval (a 15 s window holds "
                                    "one sample)")
    return problems


def lint_units(dashboard: dict) -> list[str]:
    problems = []
    for panel in panels(dashboard):
        unit = panel["fieldConfig"]["defaults"].get("unit", "")
        if unit not in KNOWN_UNITS and not CUSTOM_UNIT.match(unit):
            problems.append(f"{panel['title']}: unit {unit!r} is not one Grafana knows")
        if unit == "rps" and "read" not in panel["title"].lower():
            problems.append(f"{panel['title']}: unit rps is reads/s in Grafana")
        if unit == "short" and re.search(r"\)\s*\*\s*60\b", " ".join(t["expr"] for t in panel.get("targets", []))):
            problems.append(f"{panel['title']}: a per-minute rate shown without a per-minute unit (opm, cpm)")
        if panel["type"] == "heatmap" and unit == panel.get("options", {}).get("yAxis", {}).get("unit"):
            problems.append(f"{panel['title']}: the heatmap's cell unit is its y axis' ({unit}): the tooltip lies")
        exprs = " ".join(t["expr"] for t in panel.get("targets", []))
        if re.search(r"_bytes\b(?!_total)", exprs) and unit in ("s", "ms", "percentunit") and "/" not in exprs:
            problems.append(f"{panel['title']}: a _bytes metric shown in {unit}")
    return problems


def lint_states(dashboard: dict) -> list[str]:
    """A stat of a state (health, up) says it in words: value mappings."""
    return [f"{p['title']}: a state shown as a bare number" for p in panels(dashboard)
            if p["type"] == "stat" and re.search(r"health_status", " ".join(t["expr"] for t in p["targets"]))
            and not p["fieldConfig"]["defaults"].get("mappings")]


# Panels that deliberately ignore a variable the dashboard offers, and why.
VARIABLE_EXCEPTIONS = {
    "application/Requests in flight": ({"route"}, "a gauge of the whole process: no route label"),
    "application/Background queue depth": ({"route"}, "background jobs are not requests to a route"),
    "application/Background jobs by status": ({"route"}, "background jobs are not requests to a route"),
    "application/Background job p95 duration": ({"route"}, "background jobs are not requests to a route"),
    "postgresql/Up": ({"db"}, "the server is up or down, not a database"),
    "postgresql/Connections used": ({"db"}, "max_connections is per server"),
    "postgresql/Max connections": ({"db"}, "a server setting"),
    "postgresql/Checkpoints": ({"db"}, "checkpoints are server-wide"),
    "postgresql/Background writer halts": ({"db"}, "the background writer is server-wide"),
    "gpu/Exporter health": ({"gpu"}, "the exporter's own health, not a GPU's"),
    "overview/Databases up": ({"job"}, "the databases' exporters, not the services $job lists"),
    "overview/Host CPU and memory": ({"job"}, "hosts, not services"),
    "overview/GPU utilisation": ({"job"}, "GPUs, not services"),
}


def lint_variables(dashboard: dict) -> list[str]:
    """Every variable a dashboard offers filters every panel it concerns (or the panel is a listed exception)."""
    defined = {v["name"] for v in dashboard["templating"]["list"] if v["type"] == "query"}
    problems = []
    for panel in panels(dashboard):
        used = set(re.findall(r"\$\{?(\w+)", " ".join(t["expr"] for t in panel.get("targets", []))))
        ignored = defined - used - VARIABLE_EXCEPTIONS.get(f"{dashboard['uid']}/{panel['title']}", (set(), ""))[0]
        if ignored:
            problems.append(f"{panel['title']}: ignores ${', $'.join(sorted(ignored))}")
    return problems


RULES = [lint_tables, lint_watchdog, lint_event_windows, lint_units, lint_states, lint_variables]


@pytest.mark.parametrize("rule", RULES, ids=[r.__name__ for r in RULES])
@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_shipped_dashboards_pass(rule, path):
    assert rule(json.loads(path.read_text())) == []


def a_panel(kind: str, expr: str, unit: str = "short", **extra) -> dict:
    panel = {"type": kind, "title": "broken", "targets": [{"refId": "A", "expr": expr, "instant": kind != "timeseries"}],
             "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"steps": [{"color": "green", "value": None}]}}}}
    panel.update(extra)
    return {"uid": "broken", "panels": [panel], "annotations": {"list": []},
            "templating": {"list": [{"name": "job", "type": "query"}]}}


BROKEN = [
    (lint_tables, a_panel("table", "up")),  # default format: one frame a series
    (lint_watchdog, a_panel("stat", 'count(ALERTS{alertstate="firing"})')),
    (lint_event_windows, a_panel("timeseries", "sum(increase(node_vmstat_oom_kill[$__rate_interval]))")),
    (lint_event_windows, a_panel("timeseries", "sum(increase(node_vmstat_oom_kill[$__interval]))")),
    (lint_units, a_panel("timeseries", "rate(x[5m])", unit="rows/s")),
    (lint_units, a_panel("timeseries", "sum(rate(pg_stat_database_tup_fetched[5m]))", unit="rps")),
    (lint_units, a_panel("timeseries", "sum(rate(pg_stat_database_deadlocks[5m])) * 60", unit="short")),
    (lint_units, a_panel("heatmap", "rate(b[5m])", unit="s", options={"yAxis": {"unit": "s"}})),
    (lint_states, a_panel("stat", "elasticsearch_cluster_health_status")),
    (lint_variables, a_panel("timeseries", "sum(rate(http_requests_total[5m]))")),  # $job offered, not used
]


@pytest.mark.parametrize("rule, dashboard", BROKEN, ids=[f"{r.__name__}-{i}" for i, (r, _) in enumerate(BROKEN)])
def test_each_rule_catches_its_mistake(rule, dashboard):
    assert rule(copy.deepcopy(dashboard)), f"{rule.__name__} missed a broken panel"


def test_the_annotation_band_leaves_the_watchdog_out():
    dashboard = json.loads(DASHBOARDS[0].read_text())
    dashboard["annotations"]["list"][0]["expr"] = 'ALERTS{alertstate="firing"}'
    assert lint_watchdog(dashboard)
