"""Application (RED) (uid application): Rate, errors and duration of every job serving http_requests_total,
per route, and the demo app's background jobs."""
from __future__ import annotations

from typing import Any

from .builder import RUNBOOKS, Panel, alert_threshold, dashboard, variable
from .selectors import JOB, JOB_ROUTE


def build() -> dict[str, Any]:
    panels = [
        Panel("Request rate", "HTTP requests per second per job, for the selected routes (job_route:http_requests:rate5m).",
              [(f"sum by (job) (job_route:http_requests:rate5m{{{JOB_ROUTE}}})", "{{job}}")], "reqps"),
        Panel("Error ratio", "Share of requests answered with a 5xx, from job:http_requests_error_ratio:rate5m; alert "
              "HighErrorRatio above 5%.",
              [(f"sum by (job) (job_route:http_requests_errors:rate5m{{{JOB_ROUTE}}}) / "
                f"(sum by (job) (job_route:http_requests:rate5m{{{JOB_ROUTE}}}) > 0)", "{{job}}")], "percentunit", thresholds=[(alert_threshold("HighErrorRatio"), "red")]),
        Panel("Latency quantiles", "p50, p95 and p99 request duration per job, for the selected routes (alerts "
              "HttpLatencyP95High above 0.5 s, HttpLatencyP99High above 2.5 s).",
              [(f"histogram_quantile({q}, sum by (job, le) (job_route_le:http_request_duration_seconds_bucket:rate5m"
                f"{{{JOB_ROUTE}}}))", f"p{q:g} {{{{job}}}}") for q in (0.5, 0.95, 0.99)],
              "s", thresholds=[(alert_threshold("HttpLatencyP95High"), "orange"), (alert_threshold("HttpLatencyP99High"), "red")]),
        Panel("Latency heatmap", "Requests per second in each duration bucket of http_request_duration_seconds, for the "
              "selected jobs and routes. The dots are exemplars: a request's trace id, one click from its trace in "
              "Jaeger and from there its logs.",
              [(f"sum by (le) (rate(http_request_duration_seconds_bucket{{{JOB_ROUTE}}}[$__rate_interval]))", "{{le}}")],
              "s", kind="heatmap", width=24, height=9),
        Panel("Requests in flight", "Requests being served now, per job.",
              [(f"sum by (job) (http_requests_in_flight{{{JOB}}})", "{{job}}")], "short"),
        Panel("Requests by status", "Requests per second by HTTP status per job.",
              [(f"sum by (job, status) (rate(http_requests_total{{{JOB_ROUTE}}}[$__rate_interval]))", "{{status}} {{job}}")],
              "reqps"),
        Panel("Routes: request rate", "Requests per second per route (job_route:http_requests:rate5m).",
              [(f"job_route:http_requests:rate5m{{{JOB_ROUTE}}}", "")], "reqps", kind="table", width=8, height=8),
        Panel("Routes: error ratio", "Share of 5xx per route (job_route:http_requests_error_ratio:rate5m); a job above 5% fires HighErrorRatio.",
              [(f"job_route:http_requests_error_ratio:rate5m{{{JOB_ROUTE}}}", "")], "percentunit", kind="table", width=8, height=8,
              thresholds=[(alert_threshold("HighErrorRatio"), "red")]),
        Panel("Routes: p95 latency", "95th percentile duration per route "
              "(job_route_quantile:http_request_duration_seconds:histogram_quantile_rate5m); a job fires "
              "HttpLatencyP95High above 0.5 s (p95) and HttpLatencyP99High above 2.5 s (p99).",
              [(f'job_route_quantile:http_request_duration_seconds:histogram_quantile_rate5m{{{JOB_ROUTE}, quantile="0.95"}}', "")],
              "s", kind="table", width=8, height=8, thresholds=[(alert_threshold("HttpLatencyP95High"), "orange"), (alert_threshold("HttpLatencyP99High"), "red")]),
        Panel("Background queue depth", "Jobs waiting in the demo app's queue.",
              [(f"sum by (job) (demo_queue_depth{{{JOB}}})", "{{job}}")], "short", width=8),
        Panel("Background jobs by status", "Background jobs finished per second, by status.",
              [(f"sum by (job, status) (rate(demo_jobs_total{{{JOB}}}[$__rate_interval]))", "{{status}} {{job}}")],
              "ops", width=8),
        Panel("Background job p95 duration", "95th percentile duration of the demo app's background jobs.",
              [(f"histogram_quantile(0.95, sum by (job, le) (rate(demo_job_duration_seconds_bucket{{{JOB}}}[$__rate_interval])))",
                "{{job}}")], "s", width=8),
    ]
    return dashboard("application", "Application (RED)", "Rate, errors and duration of every job serving "
                     "http_requests_total, per route, and the demo app's background jobs.", panels,
                     ["observability-stack", "application"], [("SLO", "/d/slo"), ("Runbooks", RUNBOOKS)],
                     "label_values(http_requests_total, job)",
                     [variable("route", "Route", 'label_values(http_requests_total{job=~"$job"}, route)')])
