#!/usr/bin/env python3
"""Dashboards as code: builds grafana/dashboards/<folder>/<uid>.json from the definitions below.

Every panel reads the `datasource` variable, has a unit and a description, and uses
`$__rate_interval` in rates; tests/static/test_dashboards.py checks the generated JSON is current
(`python3 grafana/generate.py --check`) and lints it.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RUNBOOKS = "https://github.com/observability-stack/observability-stack/blob/main/docs/runbooks/"


@dataclass
class Panel:
    title: str
    description: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    unit: str
    kind: str = "timeseries"  # timeseries | stat | table
    width: int = 12
    height: int = 8
    thresholds: list[tuple[float, str]] = field(default_factory=list)  # (from value, color)


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    steps = [{"color": "green", "value": None}] + [{"color": color, "value": value} for value, color in panel.thresholds]
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "fieldConfig": {"defaults": {"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}},
                        "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
             "instant": panel.kind in ("stat", "table"), "range": panel.kind == "timeseries"}
            for i, (expr, legend) in enumerate(panel.exprs)
        ],
    }
    if panel.kind == "table":
        body["options"] = {"showHeader": True}
        body["transformations"] = [{"id": "labelsToFields", "options": {}}]
    return body


def dashboard(uid: str, title: str, description: str, panels: list[Panel], tags: list[str],
              links: list[tuple[str, str]]) -> dict[str, Any]:
    laid_out, x, y, row_height = [], 0, 0, 0
    for number, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        laid_out.append(panel_json(panel, number, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "editable": False,
        "schemaVersion": 41,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "links": [{"type": "link", "title": text, "url": url, "targetBlank": url.startswith("http")} for text, url in links],
        "annotations": {"list": [{
            "name": "Firing alerts", "enable": True, "iconColor": "red", "datasource": DATASOURCE,
            "expr": 'ALERTS{alertstate="firing"}', "titleFormat": "{{alertname}}", "tagKeys": "severity,job",
        }]},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
             "current": {"text": "Prometheus", "value": "prometheus"}, "hide": 0},
            {"name": "job", "type": "query", "datasource": DATASOURCE, "query": "label_values(up, job)",
             "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"},
             "label": "Job"},
        ]},
        "panels": laid_out,
    }


def stack_health() -> dict[str, Any]:
    panels = [
        Panel("Targets up", "Share of scrape targets of the selected jobs that answered their last scrape.",
              [('sum(up{job=~"$job"}) / count(up{job=~"$job"})', "")], "percentunit", "stat", 6, 4,
              [(0.0, "red"), (1.0, "green")]),
        Panel("Firing alerts", "Alerts firing now, every severity (the Watchdog always fires).",
              [('count(ALERTS{alertstate="firing"}) or vector(0)', "")], "short", "stat", 6, 4),
        Panel("Configuration loaded", "1 when the last configuration reload of Prometheus and Alertmanager succeeded "
              f"(alerts PrometheusBadConfig, AlertmanagerFailedReload: {RUNBOOKS}PrometheusBadConfig.md).",
              [("min(prometheus_config_last_reload_successful)", "Prometheus"),
               ("min(alertmanager_config_last_reload_successful)", "Alertmanager")], "bool", "stat", 6, 4,
              [(0.0, "red"), (1.0, "green")]),
        Panel("Alertmanagers discovered", "Alertmanagers Prometheus sends alerts to (alert PrometheusNotConnectedToAlertmanagers).",
              [("max(prometheus_notifications_alertmanagers_discovered)", "")], "short", "stat", 6, 4,
              [(0.0, "red"), (1.0, "green")]),
        Panel("Targets", "Every scrape target of the selected jobs and whether its last scrape worked (1) or not (0).",
              [('up{job=~"$job"}', "")], "short", "table", 24, 8),
        Panel("Scrape duration by job", "Slowest target of each job; close to the 10 s timeout means lost scrapes.",
              [('max by (job) (scrape_duration_seconds{job=~"$job"})', "{{job}}")], "s"),
        Panel("Samples ingested", "Samples Prometheus appends to its database per second (alert PrometheusNotIngestingSamples).",
              [("sum(rate(prometheus_tsdb_head_samples_appended_total[$__rate_interval]))", "samples/s")], "ops"),
        Panel("Rule group evaluation time", "How long each rule group's last evaluation took; above its interval, "
              "evaluations are missed (alert PrometheusMissingRuleEvaluations).",
              [("max by (rule_group) (prometheus_rule_group_last_duration_seconds)", "{{rule_group}}")], "s"),
        Panel("Notifications sent", "Notifications Alertmanager sends per second, by integration (alert AlertmanagerFailedToSendAlerts).",
              [("sum by (integration) (rate(alertmanager_notifications_total[$__rate_interval]))", "{{integration}}")], "ops"),
        Panel("Alerts received by Alertmanager", "Alerts Prometheus delivered to Alertmanager per second, by status.",
              [("sum by (status) (rate(alertmanager_alerts_received_total[$__rate_interval]))", "{{status}}")], "ops"),
        Panel("Series in memory", "Active series in Prometheus' head block: growth here is growth in cost.",
              [("max(prometheus_tsdb_head_series)", "series")], "short"),
    ]
    return dashboard("stack-health", "Stack health",
                     "Is the monitoring itself working: targets, configuration, rules, alert delivery.",
                     panels, ["observability-stack", "stack"],
                     [("Runbooks", RUNBOOKS)])


DASHBOARDS = {("stack-health", "stack-health"): stack_health}


def render() -> dict[Path, str]:
    return {ROOT / "dashboards" / folder / f"{uid}.json": json.dumps(build(), indent=2, sort_keys=True) + "\n"
            for (folder, uid), build in DASHBOARDS.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard differs from its code")
    args = parser.parse_args()
    stale = []
    for path, text in render().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT.parent)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date, run `python3 grafana/generate.py`: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
