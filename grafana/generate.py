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
    kind: str = "timeseries"  # timeseries | stat | table | heatmap (Prometheus histogram buckets by le)
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
             "instant": panel.kind in ("stat", "table"), "range": panel.kind in ("timeseries", "heatmap")}
            for i, (expr, legend) in enumerate(panel.exprs)
        ],
    }
    if panel.kind == "heatmap":
        # Buckets as Prometheus stores them (no re-bucketing in Grafana); exemplars on top open the trace.
        for target in body["targets"]:
            target.update({"format": "heatmap", "exemplar": True})
        body["options"] = {"calculate": False, "yAxis": {"unit": panel.unit}, "cellGap": 1,
                           "color": {"mode": "scheme", "scheme": "Spectral", "scale": "exponential", "exponent": 0.5,
                                     "steps": 64, "reverse": False, "fill": "dark-orange"},
                           "exemplars": {"color": "rgba(255,0,255,0.7)"}, "tooltip": {"mode": "single", "yHistogram": True},
                           "rowsFrame": {"layout": "auto"}, "filterValues": {"le": 1e-9}}
    if panel.kind == "table":
        body["options"] = {"showHeader": True}
        body["transformations"] = [{"id": "labelsToFields", "options": {}}]
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
            "expr": 'ALERTS{alertstate="firing"}', "titleFormat": "{{alertname}}", "tagKeys": "severity,job",
        }]},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
             "current": {"text": "Prometheus", "value": "prometheus"}, "hide": 0},
            variable("job", "Job", job_query),
            *(variables or []),
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




J = 'job=~"$job"'
JI = 'job=~"$job", instance=~"$instance"'
JR = 'job=~"$job", route=~"$route"'
JG = 'job=~"$job", host=~"$host", gpu=~"$gpu"'
PCT_WARN = [(0.8, "orange"), (0.9, "red")]


def node() -> dict[str, Any]:
    panels = [
        Panel("CPU utilisation", "Busy share of all CPUs (not idle, iowait or steal), from "
              "instance:node_cpu_utilisation:rate5m; alert NodeCPUHighUsage (info) above 90% for 15 min.",
              [(f"instance:node_cpu_utilisation:rate5m{{{JI}}}", "{{instance}}")], "percentunit", "stat", 6, 4,
              [(0.9, "red")]),
        Panel("Memory utilisation", "1 - MemAvailable / MemTotal, from instance:node_memory_utilisation:ratio; "
              "alert NodeMemoryHighUtilization above 90% for 15 min.",
              [(f"instance:node_memory_utilisation:ratio{{{JI}}}", "{{instance}}")], "percentunit", "stat", 6, 4,
              [(0.9, "red")]),
        Panel("Fullest filesystem", "Used space of the fullest filesystem; alerts NodeFilesystemAlmostOutOfSpace "
              "at 95% (warning) and 97% (critical).",
              [(f"max by (instance) (instance_mountpoint:node_filesystem_utilisation:ratio{{{JI}}})", "{{instance}}")],
              "percentunit", "stat", 6, 4, [(0.95, "orange"), (0.97, "red")]),
        Panel("Load per CPU", "1-minute load average per CPU, from instance:node_load1_per_cpu:ratio; "
              "alert NodeSystemSaturation above 2 for 15 min.",
              [(f"instance:node_load1_per_cpu:ratio{{{JI}}}", "{{instance}}")], "short", "stat", 6, 4, [(2.0, "red")]),
        Panel("CPU and memory utilisation", "CPU busy share and memory used share of the host over time "
              "(alerts NodeCPUHighUsage and NodeMemoryHighUtilization at 90%).",
              [(f"instance:node_cpu_utilisation:rate5m{{{JI}}}", "CPU {{instance}}"),
               (f"instance:node_memory_utilisation:ratio{{{JI}}}", "memory {{instance}}")], "percentunit",
              thresholds=[(0.9, "red")]),
        Panel("Load per CPU over time", "1-minute load average divided by the number of CPUs; above 2 tasks wait "
              "(alert NodeSystemSaturation).",
              [(f"instance:node_load1_per_cpu:ratio{{{JI}}}", "{{instance}}")], "short", thresholds=[(2.0, "red")]),
        Panel("Filesystem utilisation", "Used space per filesystem (tmpfs, overlay and squashfs left out); "
              "alert NodeFilesystemAlmostOutOfSpace at 95% and 97%, NodeFilesystemSpaceFillingUp when over 60%/80% and filling up.",
              [(f"instance_mountpoint:node_filesystem_utilisation:ratio{{{JI}}}", "{{mountpoint}} ({{device}})")],
              "percentunit", thresholds=[(0.95, "orange"), (0.97, "red")]),
        Panel("Filesystem inode utilisation", "Used inodes per filesystem; alerts NodeFilesystemAlmostOutOfFiles "
              "at 95% and 97%.",
              [(f"instance_mountpoint:node_filesystem_files_utilisation:ratio{{{JI}}}", "{{mountpoint}} ({{device}})")],
              "percentunit", thresholds=[(0.95, "orange"), (0.97, "red")]),
        Panel("Disk busy time", "Share of time each disk was busy, from instance_device:node_disk_io_time_seconds:rate5m "
              "(100% is not saturation on SSD/NVMe).",
              [(f"instance_device:node_disk_io_time_seconds:rate5m{{{JI}}}", "{{device}}")], "percentunit"),
        Panel("Disk queue depth", "Average requests in flight per disk (iostat aqu-sz); alert NodeDiskIOSaturation "
              "above 10.",
              [(f"instance_device:node_disk_io_time_weighted_seconds:rate5m{{{JI}}}", "{{device}}")], "short",
              thresholds=[(10.0, "red")]),
        Panel("Disk throughput", "Bytes read and written per second per disk.",
              [(f"sum by (device) (rate(node_disk_read_bytes_total{{{JI}}}[$__rate_interval]))", "read {{device}}"),
               (f"sum by (device) (rate(node_disk_written_bytes_total{{{JI}}}[$__rate_interval]))", "write {{device}}")],
              "Bps"),
        Panel("Disk IOPS", "Reads and writes completed per second per disk.",
              [(f"sum by (device) (rate(node_disk_reads_completed_total{{{JI}}}[$__rate_interval]))", "read {{device}}"),
               (f"sum by (device) (rate(node_disk_writes_completed_total{{{JI}}}[$__rate_interval]))", "write {{device}}")],
              "iops"),
        Panel("Network traffic", "Bytes received and sent per second per interface (node-exporter's own network "
              "namespace in Docker; lo left out).",
              [(f'sum by (device) (rate(node_network_receive_bytes_total{{{J}, device!="lo"}}[$__rate_interval]))',
                "in {{device}}"),
               (f'sum by (device) (rate(node_network_transmit_bytes_total{{{J}, device!="lo"}}[$__rate_interval]))',
                "out {{device}}")], "Bps"),
        Panel("Network errors and drops", "Receive/transmit errors and drops per second (alerts NodeNetworkReceiveErrs, "
              "NodeNetworkTransmitErrs).",
              [(f"sum by (device) (rate(node_network_receive_errs_total{{{JI}}}[$__rate_interval]))", "rx errs {{device}}"),
               (f"sum by (device) (rate(node_network_transmit_errs_total{{{JI}}}[$__rate_interval]))", "tx errs {{device}}"),
               (f"sum by (device) (rate(node_network_receive_drop_total{{{JI}}}[$__rate_interval]))", "rx drop {{device}}"),
               (f"sum by (device) (rate(node_network_transmit_drop_total{{{JI}}}[$__rate_interval]))", "tx drop {{device}}")],
              "pps"),
        Panel("Major page faults", "Pages read back from disk per second; alert NodeMemoryMajorPagesFaults above 500/s.",
              [(f"instance:node_vmstat_pgmajfault:rate5m{{{JI}}}", "{{instance}}")], "ops", thresholds=[(500.0, "red")]),
        Panel("OOM kills", "Processes the kernel OOM killer killed (alert NodeOomKillDetected on any).",
              [(f"sum by (instance) (increase(node_vmstat_oom_kill{{{JI}}}[$__rate_interval]))", "{{instance}}")],
              "short", thresholds=[(1.0, "red")]),
    ]
    return dashboard("node", "Host", "The Docker host seen by node-exporter: CPU, memory, filesystems, disks, network.",
                     panels, ["observability-stack", "infrastructure"], [("Runbooks", RUNBOOKS)],
                     "label_values(node_uname_info, job)",
                     [variable("instance", "Instance", 'label_values(node_uname_info{job=~"$job"}, instance)')])


CA = 'job=~"$job", container_label_com_docker_compose_service!=""'
SVC = "container_label_com_docker_compose_service"


def containers() -> dict[str, Any]:
    panels = [
        Panel("Memory use vs limit", "Working set of each Compose service's container as a share of its memory "
              "limit (containers without a limit left out); alert ContainerMemoryNearLimit above 90%.",
              [(f"max by ({SVC}) (container_memory_working_set_bytes{{{CA}}} / (container_spec_memory_limit_bytes{{{CA}}} > 0))",
                f"{{{{{SVC}}}}}")], "percentunit", thresholds=[(0.9, "red")]),
        Panel("Memory working set", "Memory each service's containers use (working set: what the OOM killer counts).",
              [(f"sum by ({SVC}) (container_memory_working_set_bytes{{{CA}}})", f"{{{{{SVC}}}}}")], "bytes"),
        Panel("CPU", "CPU cores each service's containers use.",
              [(f"sum by ({SVC}) (rate(container_cpu_usage_seconds_total{{{CA}}}[$__rate_interval]))", f"{{{{{SVC}}}}}")],
              "short"),
        Panel("CPU throttling", "Share of CFS periods in which the container was throttled at its CPU limit; alert "
              "ContainerCpuThrottlingHigh (info) above 25%.",
              [(f"max by ({SVC}) (rate(container_cpu_cfs_throttled_periods_total{{{CA}}}[$__rate_interval]) / "
                f"(rate(container_cpu_cfs_periods_total{{{CA}}}[$__rate_interval]) > 0))", f"{{{{{SVC}}}}}")],
              "percentunit", thresholds=[(0.25, "orange")]),
        Panel("Restarts", "Container starts per service in the interval (alert ContainerRestarting).",
              [(f"sum by ({SVC}) (changes(container_start_time_seconds{{{CA}}}[$__rate_interval]))", f"{{{{{SVC}}}}}")],
              "short", thresholds=[(1.0, "red")]),
        Panel("Network traffic", "Bytes received and sent per second by each service's containers.",
              [(f"sum by ({SVC}) (rate(container_network_receive_bytes_total{{{CA}}}[$__rate_interval]))", f"in {{{{{SVC}}}}}"),
               (f"sum by ({SVC}) (rate(container_network_transmit_bytes_total{{{CA}}}[$__rate_interval]))", f"out {{{{{SVC}}}}}")],
              "Bps"),
        Panel("Last seen", "Seconds since cAdvisor last saw each service's container (alert ContainerKilled above 60 s).",
              [(f"time() - max by ({SVC}) (container_last_seen{{{CA}}})", f"{{{{{SVC}}}}}")], "s", "table", 24, 8,
              [(60.0, "red")]),
    ]
    return dashboard("containers", "Containers", "Each Compose service's containers seen by cAdvisor: memory against "
                     "its limit, CPU, throttling, restarts.", panels, ["observability-stack", "infrastructure"],
                     [("Runbooks", RUNBOOKS)], "label_values(container_last_seen, job)")


def application() -> dict[str, Any]:
    panels = [
        Panel("Request rate", "HTTP requests per second per job, from job:http_requests:rate5m.",
              [(f"job:http_requests:rate5m{{{J}}}", "{{job}}")], "reqps"),
        Panel("Error ratio", "Share of requests answered with a 5xx, from job:http_requests_error_ratio:rate5m; alert "
              "HighErrorRatio above 5%.",
              [(f"job:http_requests_error_ratio:rate5m{{{J}}}", "{{job}}")], "percentunit", thresholds=[(0.05, "red")]),
        Panel("Latency quantiles", "p50, p95 and p99 request duration per job (alerts HttpLatencyP95High above 0.5 s, "
              "HttpLatencyP99High above 2.5 s).",
              [(f"job_quantile:http_request_duration_seconds:histogram_quantile_rate5m{{{J}}}", "p{{quantile}} {{job}}")],
              "s", thresholds=[(0.5, "orange"), (2.5, "red")]),
        Panel("Latency heatmap", "Requests per second in each duration bucket of http_request_duration_seconds, for the "
              "selected jobs and routes. The dots are exemplars: a request's trace id, one click from its trace in "
              "Jaeger and from there its logs.",
              [(f"sum by (le) (rate(http_request_duration_seconds_bucket{{{JR}}}[$__rate_interval]))", "{{le}}")],
              "s", "heatmap", 24, 9),
        Panel("Requests in flight", "Requests being served now, per job.",
              [(f"sum by (job) (http_requests_in_flight{{{J}}})", "{{job}}")], "short"),
        Panel("Requests by status", "Requests per second by HTTP status per job.",
              [(f"sum by (job, status) (rate(http_requests_total{{{J}}}[$__rate_interval]))", "{{status}} {{job}}")],
              "reqps"),
        Panel("Routes: request rate", "Requests per second per route (job_route:http_requests:rate5m).",
              [(f"job_route:http_requests:rate5m{{{JR}}}", "")], "reqps", "table", 8, 8),
        Panel("Routes: error ratio", "Share of 5xx per route (job_route:http_requests_error_ratio:rate5m); a job above 5% fires HighErrorRatio.",
              [(f"job_route:http_requests_error_ratio:rate5m{{{JR}}}", "")], "percentunit", "table", 8, 8,
              [(0.05, "red")]),
        Panel("Routes: p95 latency", "95th percentile duration per route "
              "(job_route_quantile:http_request_duration_seconds:histogram_quantile_rate5m); a job fires "
              "HttpLatencyP95High above 0.5 s (p95) and HttpLatencyP99High above 2.5 s (p99).",
              [(f'job_route_quantile:http_request_duration_seconds:histogram_quantile_rate5m{{{JR}, quantile="0.95"}}', "")],
              "s", "table", 8, 8, [(0.5, "orange"), (2.5, "red")]),
        Panel("Background queue depth", "Jobs waiting in the demo app's queue.",
              [(f"sum by (job) (demo_queue_depth{{{J}}})", "{{job}}")], "short", width=8),
        Panel("Background jobs by status", "Background jobs finished per second, by status.",
              [(f"sum by (job, status) (rate(demo_jobs_total{{{J}}}[$__rate_interval]))", "{{status}} {{job}}")],
              "ops", width=8),
        Panel("Background job p95 duration", "95th percentile duration of the demo app's background jobs.",
              [(f"histogram_quantile(0.95, sum by (job, le) (rate(demo_job_duration_seconds_bucket{{{J}}}[$__rate_interval])))",
                "{{job}}")], "s", width=8),
    ]
    return dashboard("application", "Application (RED)", "Rate, errors and duration of every job serving "
                     "http_requests_total, per route, and the demo app's background jobs.", panels,
                     ["observability-stack", "application"], [("SLO", "/d/slo"), ("Runbooks", RUNBOOKS)],
                     "label_values(http_requests_total, job)",
                     [variable("route", "Route", 'label_values(http_requests_total{job=~"$job"}, route)')])


def slo() -> dict[str, Any]:
    avail_budget = "(1 - job:slo_availability_objective:ratio{job=~\"$job\"})"
    lat_budget = "(1 - job:slo_latency_objective:ratio{job=~\"$job\"})"
    panels = [
        Panel("Availability objective", "Share of requests to answer without a 5xx over 30 days "
              "(job:slo_availability_objective:ratio; prometheus/rules/slo-objectives.yml).",
              [(f"job:slo_availability_objective:ratio{{{J}}}", "{{job}}")], "percentunit", "stat", 6, 4),
        Panel("Latency objective", "Share of requests to serve within the threshold `le` (seconds) over 30 days "
              "(job:slo_latency_objective:ratio).",
              [(f"job:slo_latency_objective:ratio{{{J}}}", "{{job}} within {{le}}s")], "percentunit", "stat", 6, 4),
        Panel("Availability error budget remaining", "1 - (5xx ratio over the longest recorded window, 3 days) / "
              "(1 - objective): an estimate of the 30-day budget left; below 0 the budget is spent.",
              [(f"1 - job:slo_availability_errors_per_request:ratio_rate3d{{{J}}} / on (job) ({avail_budget} > 0)",
                "{{job}}")], "percentunit", "stat", 6, 4, [(0.0, "red"), (0.25, "orange"), (0.5, "green")]),
        Panel("Latency error budget remaining", "1 - (share of slow requests over 3 days) / (1 - objective): an "
              "estimate of the 30-day latency budget left.",
              [(f"1 - job:slo_latency_errors_per_request:ratio_rate3d{{{J}}} / on (job) ({lat_budget} > 0)", "{{job}}")],
              "percentunit", "stat", 6, 4, [(0.0, "red"), (0.25, "orange"), (0.5, "green")]),
    ]
    for sli, budget, alert in (("availability", avail_budget, "SloAvailabilityBudgetBurn"),
                               ("latency", lat_budget, "SloLatencyBudgetBurn")):
        panels.append(Panel(
            f"{sli.capitalize()} burn rate, fast windows", f"Error ratio / error budget over 5m, 30m, 1h and 6h; {alert} "
            "pages at 14.4x (1h and 5m) or 6x (6h and 30m).",
            [(f"job:slo_{sli}_errors_per_request:ratio_rate{w}{{{J}}} / on (job) ({budget} > 0)", f"{w} {{{{job}}}}")
             for w in ("5m", "30m", "1h", "6h")], "short", thresholds=[(6.0, "orange"), (14.4, "red")]))
        panels.append(Panel(
            f"{sli.capitalize()} burn rate, slow windows", f"Error ratio / error budget over 2h, 1d and 3d; {alert} "
            "opens a ticket at 3x (1d and 2h) or 1x (3d and 6h).",
            [(f"job:slo_{sli}_errors_per_request:ratio_rate{w}{{{J}}} / on (job) ({budget} > 0)", f"{w} {{{{job}}}}")
             for w in ("2h", "1d", "3d")], "short", thresholds=[(1.0, "orange"), (3.0, "red")]))
    panels += [
        Panel("Availability error ratio", "Share of requests answered with a 5xx over 5 minutes and 3 days.",
              [(f"job:slo_availability_errors_per_request:ratio_rate5m{{{J}}}", "5m {{job}}"),
               (f"job:slo_availability_errors_per_request:ratio_rate3d{{{J}}}", "3d {{job}}")], "percentunit"),
        Panel("Latency error ratio", "Share of requests slower than the objective's threshold over 5 minutes and 3 days.",
              [(f"job:slo_latency_errors_per_request:ratio_rate5m{{{J}}}", "5m {{job}}"),
               (f"job:slo_latency_errors_per_request:ratio_rate3d{{{J}}}", "3d {{job}}")], "percentunit"),
    ]
    return dashboard("slo", "SLOs", "Availability and latency objectives per job, error budget left and burn rates "
                     "over the windows of the multi-window burn-rate alerts.", panels,
                     ["observability-stack", "application", "slo"], [("Application", "/d/application"), ("Runbooks", RUNBOOKS)],
                     "label_values(job:slo_availability_objective:ratio, job)")


PG = 'job=~"$job", instance=~"$instance", datname=~"$db", datname!~"template.*"'


def postgresql() -> dict[str, Any]:
    panels = [
        Panel("Up", "1 when postgres_exporter reaches the server (alert PostgresqlDown on 0).",
              [(f"pg_up{{{JI}}}", "{{instance}}")], "bool", "stat", 6, 4, [(0.0, "red"), (1.0, "green")]),
        Panel("Connections used", "Client connections as a share of max_connections "
              "(instance:pg_connections_utilisation:ratio); alerts PostgresqlTooManyConnections at 80%, "
              "PostgresqlMaxConnectionsReached at 100%.",
              [(f"instance:pg_connections_utilisation:ratio{{{JI}}}", "{{instance}}")], "percentunit", "stat", 6, 4,
              [(0.8, "orange"), (1.0, "red")]),
        Panel("Max connections", "The server's max_connections setting.",
              [(f"max by (instance) (pg_settings_max_connections{{{JI}}})", "{{instance}}")], "short", "stat", 6, 4),
        Panel("Longest transaction", "Age of the oldest open client transaction (alert PostgresqlLongRunningTransaction "
              "above 120 s).",
              [(f'max by (instance) (pg_stat_activity_max_tx_duration{{{J}, backend_type="client backend"}})', "{{instance}}")],
              "s", "stat", 6, 4, [(120.0, "red")]),
        Panel("Connections by state", "Client connections by state, against max_connections.",
              [(f'sum by (state) (pg_stat_activity_count{{{J}, backend_type="client backend"}})', "{{state}}"),
               (f"max(pg_settings_max_connections{{{JI}}})", "max_connections")], "short"),
        Panel("Transactions", "Commits and rollbacks per second per database (alert PostgresqlHighRollbackRatio above 10% "
              "rollbacks).",
              [(f"sum by (datname) (rate(pg_stat_database_xact_commit{{{PG}}}[$__rate_interval]))", "commit {{datname}}"),
               (f"sum by (datname) (rate(pg_stat_database_xact_rollback{{{PG}}}[$__rate_interval]))", "rollback {{datname}}")],
              "ops"),
        Panel("Cache hit ratio", "Blocks found in shared buffers / all blocks read, per database; alert "
              "PostgresqlLowCacheHitRatio below 98%.",
              [(f"sum by (datname) (rate(pg_stat_database_blks_hit{{{PG}}}[$__rate_interval])) / (sum by (datname) "
                f"(rate(pg_stat_database_blks_hit{{{PG}}}[$__rate_interval]) + rate(pg_stat_database_blks_read{{{PG}}}"
                f"[$__rate_interval])) > 0)", "{{datname}}")], "percentunit",
              thresholds=[(0.0, "red"), (0.98, "green")]),
        Panel("Deadlocks", "Deadlocks per minute per database (alert PostgresqlDeadlocks above 5/min).",
              [(f"sum by (datname) (rate(pg_stat_database_deadlocks{{{PG}}}[$__rate_interval])) * 60", "{{datname}}")],
              "short", thresholds=[(5.0, "red")]),
        Panel("Database size", "On-disk size of each database.",
              [(f"sum by (datname) (pg_database_size_bytes{{{PG}}})", "{{datname}}")], "bytes"),
        Panel("Rows", "Rows fetched, inserted, updated and deleted per second, all databases.",
              [(f"sum(rate(pg_stat_database_tup_fetched{{{PG}}}[$__rate_interval]))", "fetched"),
               (f"sum(rate(pg_stat_database_tup_inserted{{{PG}}}[$__rate_interval]))", "inserted"),
               (f"sum(rate(pg_stat_database_tup_updated{{{PG}}}[$__rate_interval]))", "updated"),
               (f"sum(rate(pg_stat_database_tup_deleted{{{PG}}}[$__rate_interval]))", "deleted")], "rps"),
    ]
    return dashboard("postgresql", "PostgreSQL", "PostgreSQL through postgres_exporter: availability, connections, "
                     "transactions, cache, deadlocks, size.", panels, ["observability-stack", "data-stores"],
                     [("Runbooks", RUNBOOKS)], "label_values(pg_up, job)",
                     [variable("instance", "Instance", 'label_values(pg_up{job=~"$job"}, instance)'),
                      variable("db", "Database", 'label_values(pg_database_size_bytes{job=~"$job", instance=~"$instance", datname!~"template.*"}, datname)')])


def redis() -> dict[str, Any]:
    panels = [
        Panel("Up", "1 when redis_exporter reaches Redis (alert RedisDown on 0).",
              [(f"redis_up{{{JI}}}", "{{instance}}")], "bool", "stat", 6, 4, [(0.0, "red"), (1.0, "green")]),
        Panel("Connected clients", "Client connections now (alert RedisTooManyClients above 90% of maxclients).",
              [(f"sum by (instance) (redis_connected_clients{{{JI}}})", "{{instance}}")], "short", "stat", 6, 4),
        Panel("Keys", "Keys over all databases.",
              [(f"sum by (instance) (redis_db_keys{{{JI}}})", "{{instance}}")], "short", "stat", 6, 4),
        Panel("Uptime", "Seconds since Redis started.",
              [(f"max by (instance) (redis_uptime_in_seconds{{{JI}}})", "{{instance}}")], "s", "stat", 6, 4),
        Panel("Memory vs maxmemory", "Memory used and the maxmemory limit (0 = no limit); alert "
              "RedisMemoryNearMaxmemory above 90% of maxmemory unless the policy evicts (allkeys-*).",
              [(f"sum by (instance) (redis_memory_used_bytes{{{JI}}})", "used {{instance}}"),
               (f"max by (instance) (redis_memory_max_bytes{{{JI}}})", "maxmemory {{instance}}")], "bytes"),
        Panel("Clients", "Connected and blocked clients against maxclients.",
              [(f"sum by (instance) (redis_connected_clients{{{JI}}})", "connected {{instance}}"),
               (f"sum by (instance) (redis_blocked_clients{{{JI}}})", "blocked {{instance}}"),
               (f"max by (instance) (redis_config_maxclients{{{JI}}})", "maxclients {{instance}}")], "short"),
        Panel("Commands", "Commands processed per second.",
              [(f"sum by (instance) (rate(redis_commands_processed_total{{{JI}}}[$__rate_interval]))", "{{instance}}")],
              "ops"),
        Panel("Hit ratio", "Keyspace hits / (hits + misses); empty while no key is read.",
              [(f"sum by (instance) (rate(redis_keyspace_hits_total{{{JI}}}[$__rate_interval])) / (sum by (instance) "
                f"(rate(redis_keyspace_hits_total{{{JI}}}[$__rate_interval]) + rate(redis_keyspace_misses_total{{{JI}}}"
                f"[$__rate_interval])) > 0)", "{{instance}}")], "percentunit"),
        Panel("Evictions and rejected connections", "Keys evicted for maxmemory and connections refused at maxclients, "
              "per second (alerts RedisKeysEvicted, RedisRejectedConnections on any).",
              [(f"sum by (instance) (rate(redis_evicted_keys_total{{{JI}}}[$__rate_interval]))", "evicted {{instance}}"),
               (f"sum by (instance) (rate(redis_rejected_connections_total{{{JI}}}[$__rate_interval]))", "rejected {{instance}}")],
              "ops", thresholds=[(0.001, "red")]),
        Panel("Network", "Bytes received and sent per second.",
              [(f"sum by (instance) (rate(redis_net_input_bytes_total{{{JI}}}[$__rate_interval]))", "in {{instance}}"),
               (f"sum by (instance) (rate(redis_net_output_bytes_total{{{JI}}}[$__rate_interval]))", "out {{instance}}")],
              "Bps"),
    ]
    return dashboard("redis", "Redis", "Redis through redis_exporter: availability, memory against maxmemory, clients, "
                     "commands, hit ratio, evictions.", panels, ["observability-stack", "data-stores"],
                     [("Runbooks", RUNBOOKS)], "label_values(redis_up, job)",
                     [variable("instance", "Instance", 'label_values(redis_up{job=~"$job"}, instance)')])


def gpu() -> dict[str, Any]:
    panels = [
        Panel("GPU utilisation", "Share of time a kernel ran, per GPU (gpu:utilization:ratio, our exporter or DCGM).",
              [(f"gpu:utilization:ratio{{{JG}}}", "GPU {{gpu}} {{instance}}")], "percentunit"),
        Panel("GPU memory used", "Framebuffer memory used as a share of the total (gpu:memory_used:ratio); alert "
              "GpuMemoryNearlyFull above 95%.",
              [(f"gpu:memory_used:ratio{{{JG}}}", "GPU {{gpu}} {{instance}}")], "percentunit",
              thresholds=[(0.95, "red")]),
        Panel("Temperature", "GPU core temperature (alert GpuTemperatureHigh above 85 °C).",
              [(f"gpu_temperature_celsius{{{JG}}} or DCGM_FI_DEV_GPU_TEMP{{{JG}}}", "GPU {{gpu}} {{instance}}")],
              "celsius", width=8, thresholds=[(85.0, "red")]),
        Panel("Power", "Board power draw and enforced power limit.",
              [(f"gpu_power_usage_watts{{{JG}}} or DCGM_FI_DEV_POWER_USAGE{{{JG}}}", "GPU {{gpu}} {{instance}}"),
               (f"gpu_power_limit_watts{{{JG}}}", "limit GPU {{gpu}}")], "watt", width=8),
        Panel("Energy rate", "Average power from the energy counter (joules per second).",
              [(f"rate(gpu_energy_joules_total{{{JG}}}[$__rate_interval]) or "
                f"rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{JG}}}[$__rate_interval]) / 1000", "GPU {{gpu}} {{instance}}")],
              "watt", width=8),
        Panel("Clocks", "SM and memory clocks.",
              [(f"gpu_sm_clock_hertz{{{JG}}} or DCGM_FI_DEV_SM_CLOCK{{{JG}}} * 1e6", "SM GPU {{gpu}}"),
               (f"gpu_memory_clock_hertz{{{JG}}} or DCGM_FI_DEV_MEM_CLOCK{{{JG}}} * 1e6", "memory GPU {{gpu}}")],
              "hertz"),
        Panel("Clock event reasons", "1 while a reason lowers the clocks (gpu:clock_event_reason_active:max); alerts "
              "GpuThermalThrottling, GpuHardwareSlowdown, GpuPowerAtLimit.",
              [(f"gpu:clock_event_reason_active:max{{{JG}}}", "GPU {{gpu}} {{reason}}")], "bool"),
        Panel("ECC errors", "Volatile ECC errors per interval by type (alert GpuUncorrectableEccErrors on uncorrected).",
              [(f"sum by (instance, gpu, type) (increase(gpu_ecc_errors_total{{{JG}}}[$__rate_interval]))",
                "GPU {{gpu}} {{type}}")], "short", width=8),
        Panel("XID errors", "XID events per interval by code (alerts GpuFatalXidError, GpuXidError); the exporter "
              "reports them with --xid.",
              [(f"sum by (instance, gpu, xid) (increase(gpu_xid_errors_total{{{JG}}}[$__rate_interval]))",
                "GPU {{gpu}} XID {{xid}}")], "short", width=8),
        Panel("Remapped rows", "Remapped memory rows by type; pending and failure are 0/1 (alerts GpuRowRemapPending, "
              "GpuRowRemapFailure).",
              [(f"max by (instance, gpu, type) (gpu_remapped_rows{{{JG}}})", "GPU {{gpu}} {{type}}")], "short", width=8),
        Panel("MIG instances: memory used", "Memory used as a share of each GPU instance's memory, for GPUs in "
              "MIG mode (our exporter's series with GPU_I_ID and GPU_I_PROFILE); a full instance fails its jobs "
              "while the GPU as a whole has room.",
              [(f'gpu_memory_used_bytes{{{JG}, GPU_I_ID!=""}} / (gpu_memory_total_bytes{{{JG}, GPU_I_ID!=""}} > 0)',
                "GPU {{gpu}} {{GPU_I_PROFILE}} (instance {{GPU_I_ID}})")], "percentunit"),
        Panel("Process memory by container", "GPU memory used by processes, summed per container.",
              [(f"sum by (container, gpu) (gpu_process_memory_used_bytes{{{JG}}})", "{{container}} GPU {{gpu}}")],
              "bytes"),
        Panel("Processes", "GPU memory of each process now.",
              [(f"sum by (container, process, gpu, GPU_I_ID, GPU_I_PROFILE) (gpu_process_memory_used_bytes{{{JG}}})", "")],
              "bytes", "table"),
    ]
    return dashboard("gpu", "GPUs", "Per-GPU utilisation, memory, temperature, power, clocks and errors from our GPU "
                     "exporter (and DCGM where the recording rules cover it), and GPU memory per container.", panels,
                     ["observability-stack", "gpu"], [("Runbooks", RUNBOOKS)],
                     "label_values(gpu:memory_used:ratio, job)",
                     [variable("host", "Host", 'label_values(gpu:memory_used:ratio{job=~"$job"}, host)'),
                      variable("gpu", "GPU", 'label_values(gpu:memory_used:ratio{job=~"$job", host=~"$host"}, gpu)')])


def logs_pipeline() -> dict[str, Any]:
    panels = [
        Panel("Elasticsearch cluster health", "1 for the cluster's current colour (alerts ElasticsearchClusterRed, "
              "ElasticsearchClusterYellow).",
              [(f"max by (color) (elasticsearch_cluster_health_status{{{J}}}) == 1", "{{color}}")], "short", "stat", 6, 4),
        Panel("Unassigned shards", "Shards with no node (alert ElasticsearchUnassignedShards).",
              [(f"max(elasticsearch_cluster_health_unassigned_shards{{{J}}})", "")], "short", "stat", 6, 4, [(1.0, "orange")]),
        Panel("Logstash up", "1 when the Logstash exporter reaches Logstash (alert LogstashDown).",
              [(f"max by (instance) (logstash_info_up{{{J}}})", "{{instance}}")], "bool", "stat", 6, 4,
              [(0.0, "red"), (1.0, "green")]),
        Panel("Filebeat up", "1 when Filebeat's stats endpoint (filebeat:5066) answers the json exporter's probe, "
              "the scrape result `up` of job filebeat (alert FilebeatDown).",
              [(f'max by (instance) (up{{job="filebeat", {J}}})', "{{instance}}")], "bool", "stat", 6, 4,
              [(0.0, "red"), (1.0, "green")]),
        Panel("Filebeat output events", "Events Filebeat's output handled per second by outcome (alerts "
              "FilebeatOutputFailures, FilebeatEventsDropped).",
              [(f"sum by (type) (rate(filebeat_libbeat_output_events{{{J}}}[$__rate_interval]))", "{{type}}")], "ops"),
        Panel("Logstash events", "Events in and out of each Logstash pipeline per second (alert LogstashEventsInButNotOut).",
              [(f"sum by (pipeline) (rate(logstash_stats_pipeline_events_in{{{J}}}[$__rate_interval]))", "in {{pipeline}}"),
               (f"sum by (pipeline) (rate(logstash_stats_pipeline_events_out{{{J}}}[$__rate_interval]))", "out {{pipeline}}")],
              "ops"),
        Panel("Logstash bulk errors", "Share of bulk requests to Elasticsearch that failed (alert LogstashOutputBulkErrors "
              "above 1%).",
              [(f"sum by (pipeline, plugin_id) (rate(logstash_stats_pipeline_plugin_bulk_requests_errors{{{J}}}[$__rate_interval])) "
                f"/ (sum by (pipeline, plugin_id) (rate(logstash_stats_pipeline_plugin_bulk_requests_responses{{{J}}}[$__rate_interval])) > 0)",
                "{{pipeline}} {{plugin_id}}")], "percentunit", thresholds=[(0.01, "red")]),
        Panel("Logstash queues", "Dead letter queue and persisted queue size per pipeline (alerts "
              "LogstashDeadLetterQueueGrowing, LogstashPersistedQueueNearlyFull).",
              [(f"max by (pipeline) (logstash_stats_pipeline_dead_letter_queue_size_in_bytes{{{J}}})", "DLQ {{pipeline}}"),
               (f"max by (pipeline) (logstash_stats_pipeline_queue_events_queue_size{{{J}}})", "queue {{pipeline}}")],
              "bytes"),
        Panel("Documents indexed", "Documents indexed per second into the logs data streams (alert ElasticsearchNoNewDocuments).",
              [(f'sum(rate(elasticsearch_index_stats_indexing_index_total{{{J}, index=~"\\\\.ds-logs-.+"}}[$__rate_interval]))',
                "docs/s")], "ops"),
        Panel("Elasticsearch heap", "JVM heap used / max per node (alert ElasticsearchHeapUsageHigh above 85%).",
              [(f'max by (name) (elasticsearch_jvm_memory_used_bytes{{{J}, area="heap"}} / '
                f'(elasticsearch_jvm_memory_max_bytes{{{J}, area="heap"}} > 0))', "{{name}}")], "percentunit",
              thresholds=[(0.85, "red")]),
        Panel("Elasticsearch disk available", "Free bytes on each node's data path (watermark alerts).",
              [(f"min by (name, path) (elasticsearch_filesystem_data_available_bytes{{{J}}})", "{{name}} {{path}}")],
              "bytes"),
        Panel("Failure store: refused documents", "Log documents Elasticsearch refused (a field of the wrong type, "
              "a value it cannot parse) and kept in the data stream's failure store instead of indexing them: held now "
              "(Elasticsearch keeps them 30 days by default), and new in the last 30 minutes (alert LogsRejectedIntoFailureStore "
              "when above 0). Logstash counts these as written, so no other panel shows them; the runbook says how to "
              "read and replay them.",
              [(f"max by (data_stream) (logs_failure_store_documents{{{J}}})", "held {{data_stream}}"),
               (f"max by (data_stream) (logs_failure_store_documents{{{J}}}) "
                f"- max by (data_stream) (logs_failure_store_documents{{{J}}} offset 30m)",
                "new in 30 min {{data_stream}}")], "short"),
        Panel("Dead letter queue", "Size of each Logstash pipeline's dead letter queue (events Elasticsearch refused "
              "with 400/404 that the failure store did not take) against its limit, dead_letter_queue.max_bytes "
              "(alert LogstashDeadLetterQueueGrowing when it grows; once it is full the oldest events are dropped, "
              "alert LogstashDeadLetterQueueDroppingEvents).",
              [(f"max by (pipeline) (logstash_stats_pipeline_dead_letter_queue_size_in_bytes{{{J}}})", "size {{pipeline}}"),
               (f"max by (pipeline) (logstash_stats_pipeline_dead_letter_queue_max_size_in_bytes{{{J}}})", "max {{pipeline}}")],
              "bytes"),
        Panel("Dead letter queue: dropped and expired events", "Events the dead letter queue discarded per second: "
              "dropped because it was full (alert LogstashDeadLetterQueueDroppingEvents), or expired after "
              "dead_letter_queue.retain.age, 14 days (the configured retention, no alert).",
              [(f"sum by (pipeline) (rate(logstash_stats_pipeline_dead_letter_queue_dropped_events{{{J}}}[$__rate_interval]))",
                "dropped {{pipeline}}"),
               (f"sum by (pipeline) (rate(logstash_stats_pipeline_dead_letter_queue_expired_events{{{J}}}[$__rate_interval]))",
                "expired {{pipeline}}")], "ops"),
    ]
    return dashboard("logs-pipeline", "Logs pipeline", "Filebeat -> Logstash -> Elasticsearch: is every stage up and "
                     "are logs flowing and indexed.", panels, ["observability-stack", "logs"], [("Runbooks", RUNBOOKS)])


def tracing() -> dict[str, Any]:
    panels = [
        Panel("Spans received", "Spans the receivers accepted and refused per second (alert JaegerReceiverRefusedSpans "
              "above 1% refused).",
              [(f"sum by (receiver) (rate(otelcol_receiver_accepted_spans{{{J}}}[$__rate_interval]))", "accepted {{receiver}}"),
               (f"sum by (receiver) (rate(otelcol_receiver_refused_spans{{{J}}}[$__rate_interval]))", "refused {{receiver}}")],
              "ops"),
        Panel("Spans exported", "Spans sent, failed and dropped at enqueue per second (alerts JaegerExportFailures, "
              "JaegerSpansDropped).",
              [(f"sum by (exporter) (rate(otelcol_exporter_sent_spans{{{J}}}[$__rate_interval]))", "sent {{exporter}}"),
               (f"sum by (exporter) (rate(otelcol_exporter_send_failed_spans{{{J}}}[$__rate_interval]))", "failed {{exporter}}"),
               (f"sum by (exporter) (rate(otelcol_exporter_enqueue_failed_spans{{{J}}}[$__rate_interval]))", "dropped {{exporter}}")],
              "ops"),
        Panel("Exporter queue", "Sending queue use against capacity (alert JaegerExporterQueueNearlyFull above 80%).",
              [(f"max by (exporter) (otelcol_exporter_queue_size{{{J}}} / (otelcol_exporter_queue_capacity{{{J}}} > 0))",
                "{{exporter}}")], "percentunit", thresholds=[(0.8, "red")]),
        Panel("Storage write errors", "Share of bulk index attempts to Elasticsearch that failed (alert "
              "JaegerStorageWriteErrors above 1%).",
              [(f"sum by (name) (rate(jaeger_storage_bulk_index_errors{{{J}}}[$__rate_interval])) / "
                f"(sum by (name) (rate(jaeger_storage_bulk_index_attempts{{{J}}}[$__rate_interval])) > 0)", "{{name}}")],
              "percentunit", thresholds=[(0.01, "red")]),
    ]
    return dashboard("tracing", "Tracing", "Jaeger's collector: spans received, exported, queued, and written to storage.",
                     panels, ["observability-stack", "traces"], [("Runbooks", RUNBOOKS)])


def overview() -> dict[str, Any]:
    """The first screen: is anything down or alerting, and how are the services doing."""
    panels = [
        Panel("Targets down", "Scrape targets of the selected jobs whose last scrape failed (alert TargetDown).",
              [('count(up{job=~"$job"} == 0) or vector(0)', "")], "short", "stat", 6, 4, [(1.0, "red")]),
        Panel("Critical alerts", "Critical alerts firing now: these page someone.",
              [('count(ALERTS{alertstate="firing", severity="critical"}) or vector(0)', "")], "short", "stat", 6, 4,
              [(1.0, "red")]),
        Panel("Warning alerts", "Warning alerts firing now: these open a ticket.",
              [('count(ALERTS{alertstate="firing", severity="warning"}) or vector(0)', "")], "short", "stat", 6, 4,
              [(1.0, "orange")]),
        Panel("Databases up", "1 when the exporters reach PostgreSQL and Redis (alerts PostgresqlDown, RedisDown).",
              [("min(pg_up)", "PostgreSQL"), ("min(redis_up)", "Redis")], "bool", "stat", 6, 4,
              [(0.0, "red"), (1.0, "green")]),
        Panel("Targets up by job", "Share of each job's targets that answered their last scrape.",
              [('sum by (job) (up{job=~"$job"}) / count by (job) (up{job=~"$job"})', "")], "percentunit", "table", 8, 8),
        Panel("Request rate by job", "HTTP requests per second of every instrumented service.",
              [("job:http_requests:rate5m", "{{job}}")], "reqps", "timeseries", 8, 8),
        Panel("Error ratio by job", "Share of requests answered with 5xx (alert HighErrorRatio above 5%).",
              [("job:http_requests_error_ratio:rate5m", "{{job}}")], "percentunit", "timeseries", 8, 8,
              [(0.05, "red")]),
        Panel("p95 latency by job", "95th percentile request duration (alert HttpLatencyP95High above 0.5 s).",
              [('job_quantile:http_request_duration_seconds:histogram_quantile_rate5m{quantile="0.95"}', "{{job}}")],
              "s", "timeseries", 8, 8, [(0.5, "orange")]),
        Panel("Availability error budget left", "Share of each job's availability error budget not yet spent, "
              "over the longest recorded window (3 days); details on the SLO dashboard.",
              [("1 - job:slo_availability_errors_per_request:ratio_rate3d / on (job) "
                "(1 - job:slo_availability_objective:ratio)", "{{job}}")], "percentunit", "timeseries", 8, 8,
              [(0.0, "red")]),
        Panel("Host CPU and memory", "CPU and memory utilisation of every host (alerts NodeCPUHighUsage, "
              "NodeMemoryHighUtilization at 90%).",
              [("instance:node_cpu_utilisation:rate5m", "CPU {{instance}}"),
               ("instance:node_memory_utilisation:ratio", "memory {{instance}}")], "percentunit", "timeseries", 8, 8,
              [(0.9, "orange")]),
        Panel("GPU utilisation", "Utilisation of every GPU, from our exporter and dcgm-exporter.",
              [("gpu:utilization:ratio", "GPU {{gpu}} ({{source}})")], "percentunit", "timeseries", 24, 8),
    ]
    return dashboard("overview", "Overview",
                     "Start here: what is down or alerting, and the golden signals of every service.",
                     panels, ["observability-stack", "overview"],
                     [("Stack health", "/d/stack-health"), ("Application", "/d/application"), ("SLO", "/d/slo"),
                      ("Host", "/d/node"), ("GPU", "/d/gpu"), ("Runbooks", RUNBOOKS)])


# Folder (Grafana shows the directory name as the folder title) and uid -> builder.
DASHBOARDS = {
    ("Overview", "overview"): overview,
    ("Infrastructure", "node"): node,
    ("Infrastructure", "containers"): containers,
    ("Data stores", "postgresql"): postgresql,
    ("Data stores", "redis"): redis,
    ("GPU", "gpu"): gpu,
    ("Application", "application"): application,
    ("Application", "slo"): slo,
    ("Stack health", "stack-health"): stack_health,
    ("Stack health", "logs-pipeline"): logs_pipeline,
    ("Stack health", "tracing"): tracing,
}


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
