"""Overview (uid overview): Start here: what is down or alerting, and the golden signals of every service."""
from __future__ import annotations

from typing import Any

from .builder import RUNBOOKS, UP_DOWN, Panel, alert_threshold, dashboard, firing


def build() -> dict[str, Any]:
    """The first screen: is anything down or alerting, and how are the services doing."""
    panels = [
        Panel("Targets down", "Scrape targets of the selected jobs whose last scrape failed (alert TargetDown).",
              [('count(up{job=~"$job"} == 0) or vector(0)', "")], "short", kind="stat", width=6, height=4, thresholds=[(1.0, "red")]),
        Panel("Critical alerts", "Critical alerts firing now: these page someone.",
              [('count(ALERTS{alertstate="firing", severity="critical", job=~"$job"}) or vector(0)', "")], "short", kind="stat", width=6, height=4,
              thresholds=[(1.0, "red")]),
        Panel("Warning alerts", "Warning alerts firing now: these open a ticket.",
              [('count(ALERTS{alertstate="firing", severity="warning", job=~"$job"}) or vector(0)', "")], "short", kind="stat", width=6, height=4,
              thresholds=[(1.0, "orange")]),
        Panel("Databases up", "1 when the exporters reach PostgreSQL and Redis (alerts PostgresqlDown, RedisDown).",
              [("min(pg_up)", "PostgreSQL"), ("min(redis_up)", "Redis")], "none", mappings=UP_DOWN, kind="stat", width=6, height=4,
              thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Firing alerts", "Every alert firing now, critical first; the alert's name opens its runbook. As "
              "Prometheus evaluates them: Alertmanager's silences and inhibitions are not applied here (its UI shows them).",
              [(firing('job=~"$job"'), "firing")], "short", kind="table", width=24, height=8,
              hidden_columns=("__name__", "alertstate", "Value"), sort_by="severity",
              column_links={"alertname": ("Runbook", RUNBOOKS + "${__value.raw}.md")}),
        Panel("Targets up by job", "Share of each job's targets that answered their last scrape.",
              [('sum by (job) (up{job=~"$job"}) / count by (job) (up{job=~"$job"})', "")], "percentunit", kind="table", width=8, height=8),
        Panel("Request rate by job", "HTTP requests per second of every instrumented service.",
              [('job:http_requests:rate5m{job=~"$job"}', "{{job}}")], "reqps", kind="timeseries", width=8, height=8),
        Panel("Error ratio by job", "Share of requests answered with 5xx (alert HighErrorRatio above 5%).",
              [('job:http_requests_error_ratio:rate5m{job=~"$job"}', "{{job}}")], "percentunit", kind="timeseries", width=8, height=8,
              thresholds=[(alert_threshold("HighErrorRatio"), "red")]),
        Panel("p95 latency by job", "95th percentile request duration (alert HttpLatencyP95High above 0.5 s).",
              [('job_quantile:http_request_duration_seconds:histogram_quantile_rate5m{job=~"$job", quantile="0.95"}', "{{job}}")],
              "s", kind="timeseries", width=8, height=8, thresholds=[(alert_threshold("HttpLatencyP95High"), "orange")]),
        Panel("Availability error budget left", "Share of each job's 30-day availability error budget not yet "
              "spent (job:slo_availability_budget_remaining:ratio30d); details on the SLO dashboard.",
              [('job:slo_availability_budget_remaining:ratio30d{job=~"$job"}', "{{job}}")], "percentunit",
              kind="timeseries", width=8, height=8,
              thresholds=[(0.0, "red")]),
        Panel("Host CPU and memory", "CPU and memory utilisation of every host (alerts NodeCPUHighUsage, "
              "NodeMemoryHighUtilization at 90%).",
              [("instance:node_cpu_utilisation:rate5m", "CPU {{instance}}"),
               ("instance:node_memory_utilisation:ratio", "memory {{instance}}")], "percentunit", kind="timeseries", width=8, height=8,
              # One line for both alerts: their thresholds are equal (tests/unit/test_alert_thresholds.py).
              thresholds=[(alert_threshold("NodeCPUHighUsage"), "orange")]),
        Panel("GPU utilisation", "Utilisation of every GPU, from our exporter and dcgm-exporter.",
              [("gpu:utilization:ratio", "GPU {{gpu}} ({{source}})")], "percentunit", kind="timeseries", width=24, height=8),
    ]
    return dashboard("overview", "Overview",
                     "Start here: what is down or alerting, and the golden signals of every service.",
                     panels, ["observability-stack", "overview"],
                     [("Stack health", "/d/stack-health"), ("Application", "/d/application"), ("SLO", "/d/slo"),
                      ("Host", "/d/node"), ("GPU", "/d/gpu"), ("Runbooks", RUNBOOKS)])
