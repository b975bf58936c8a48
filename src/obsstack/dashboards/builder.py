"""The dashboard builder: panels, variables and the dashboard frame every dashboard shares.

Every panel reads the `datasource` variable, has a unit and a description, and uses
`$__rate_interval` in rates; tests/static/test_dashboards.py lints what it builds."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .. import paths, rules

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RUNBOOKS = "https://github.com/observability-stack/observability-stack/blob/main/docs/runbooks/"


@dataclass
class Panel:
    title: str
    description: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    unit: str
    kind: str = "timeseries"  # timeseries | stat | table | heatmap (Prometheus histogram buckets by le)
    width: int = 12
    height: int = 8
    thresholds: list[tuple[float, str]] = field(default_factory=list)  # (from value, color)
    # Words (and colours) for the values of a state: {value: (text, color)}, e.g. {1: ("up", "green")}.
    mappings: dict[float, tuple[str, str]] = field(default_factory=dict)
    # A heatmap's cells are counts (rates) of the y axis' unit: their own unit for the tooltip.
    cell_unit: str = "reqps"
    # A table's label columns left out (besides Time), e.g. a label every row has the same value of.
    hidden_columns: tuple[str, ...] = ()
    # Table columns whose cells link somewhere: {column: (link title, URL)}, ${__value.raw} the cell's text.
    column_links: dict[str, tuple[str, str]] = field(default_factory=dict)
    # A table's rows ordered by this column, ascending.
    sort_by: str = ""


# Rare events (restarts, OOM kills, ECC and Xid errors) are counted per step with increase/changes over
# $__interval, never $__rate_interval (longer than the step: one event would show on several points);
# a step of at least a minute keeps four 15 s samples in each window.
EVENT_MIN_INTERVAL = "1m"


# Rates of things Grafana has no unit for ("rps" is reads/s): custom units, Grafana's "suffix:" form.
ROWS_PER_SECOND = "suffix: rows/s"
EVENTS_PER_SECOND = "suffix: events/s"
DOCUMENTS_PER_SECOND = "suffix: docs/s"
SPANS_PER_SECOND = "suffix: spans/s"

# Words for the states a 0/1 series stands for (Grafana has no boolean unit).
UP_DOWN = {0: ("down", "red"), 1: ("up", "green")}
LOADED_FAILED = {0: ("failed", "red"), 1: ("loaded", "green")}
ACTIVE_INACTIVE = {0: ("inactive", "green"), 1: ("active", "orange")}

# Alerts that only say the pipeline works (the Watchdog, severity none): never in a count or a band.
FIRING = 'ALERTS{alertstate="firing", severity!="none"}'


def firing(*matchers: str) -> str:
    """FIRING with more label matchers, e.g. firing('job=~"$job"')."""
    return FIRING[:-1] + "".join(f", {m}" for m in matchers) + "}"


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
             "instant": panel.kind in ("stat", "table"), "range": panel.kind in ("timeseries", "heatmap")}
            for i, (expr, legend) in enumerate(panel.exprs)
        ],
    }
    if re.search(r"\b(increase|changes)\(", " ".join(expr for expr, _ in panel.exprs)):
        body["interval"] = EVENT_MIN_INTERVAL
    if panel.mappings:
        body["fieldConfig"]["defaults"]["mappings"] = [{"type": "value", "options": {
            f"{value:g}": {"text": text, "color": color, "index": index}
            for index, (value, (text, color)) in enumerate(sorted(panel.mappings.items()))}}]
    if panel.kind == "heatmap":
        # Buckets as Prometheus stores them (no re-bucketing in Grafana); exemplars on top open the trace.
        for target in body["targets"]:
            target.update({"format": "heatmap", "exemplar": True})
        # The field unit is the cells' (requests/s), the y axis keeps the buckets' (seconds): one unit
        # for both made the tooltip read a rate of 0.3/s as "300 ms".
        body["fieldConfig"]["defaults"]["unit"] = panel.cell_unit
        body["options"] = {"calculate": False, "yAxis": {"unit": panel.unit}, "cellGap": 1,
                           "color": {"mode": "scheme", "scheme": "Spectral", "scale": "exponential", "exponent": 0.5,
                                     "steps": 64, "reverse": False, "fill": "dark-orange"},
                           "exemplars": {"color": "rgba(255,0,255,0.7)"}, "tooltip": {"mode": "single", "yHistogram": True},
                           "rowsFrame": {"layout": "auto"}, "filterValues": {"le": 1e-9}}
    if panel.kind == "table":
        # Table-format instant queries, merged into one table (one row a series, one column a label),
        # the time column left out: a frame a series would show one row at a time.
        for target in body["targets"]:
            target["format"] = "table"
        body["options"] = {"showHeader": True, "cellHeight": "sm"}
        if panel.sort_by:
            body["options"]["sortBy"] = [{"displayName": panel.sort_by, "desc": False}]
        body["fieldConfig"]["overrides"] = [
            {"matcher": {"id": "byName", "options": column},
             "properties": [{"id": "links", "value": [{"title": title, "url": url,
                                                       "targetBlank": url.startswith("http")}]}]}
            for column, (title, url) in panel.column_links.items()]
        hidden = {"Time": True} | {column: True for column in panel.hidden_columns}
        body["transformations"] = [{"id": "merge", "options": {}},
                                   {"id": "organize", "options": {"excludeByName": hidden, "renameByName": {
                                       "Value" if len(panel.exprs) == 1 else f"Value #{chr(ord('A') + i)}":
                                       (legend or panel.title) for i, (_, legend) in enumerate(panel.exprs)}}}]
        if panel.thresholds:
            body["fieldConfig"]["defaults"]["custom"] = {"cellOptions": {"type": "color-background"}}
    return body


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value query variable, All by default; queries filter on it with label=~"$name"."""
    return {"name": name, "type": "query", "datasource": DATASOURCE, "query": query, "refresh": 2,
            "includeAll": True, "multi": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"},
            "label": label, "sort": 1}


def dashboard(uid: str, title: str, description: str, panels: list[Panel], tags: list[str],
              links: list[tuple[str, str]], job_query: str = "label_values(up, job)",
              variables: list[dict[str, Any]] | None = None) -> dict[str, Any]:
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
        # Every dashboard of the bundle in one drop-down (by tag), then this dashboard's own related links.
        "links": [{"type": "dashboards", "title": "Dashboards", "tags": ["observability-stack"], "asDropdown": True,
                   "includeVars": False, "keepTime": True}]
                 + [{"type": "link", "title": text, "url": url, "targetBlank": url.startswith("http"),
                     "keepTime": not url.startswith("http")} for text, url in links],
        "annotations": {"list": [{
            "name": "Firing alerts", "enable": True, "iconColor": "red", "datasource": DATASOURCE,
            "expr": FIRING, "titleFormat": "{{alertname}}", "tagKeys": "severity,job",
        }]},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
             "current": {"text": "Prometheus", "value": "prometheus"}, "hide": 0},
            variable("job", "Job", job_query),
            *(variables or []),
        ]},
        "panels": laid_out,
    }


def alert_threshold(alert: str, severity: str | None = None) -> float:
    """The number an alert compares against, read from its rule (prometheus/rules/): a panel coloured
    at an alert's threshold follows the alert when it changes."""
    return rules.alert_threshold(paths.project_dir(), alert, severity)


def burn_rate_conditions(alert: str, severity: str) -> list[tuple[float, tuple[str, ...]]]:
    """A multi-window burn-rate alert's (factor, windows) conditions, read from its rule."""
    return rules.burn_rate_conditions(paths.project_dir(), alert, severity)
