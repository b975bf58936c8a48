"""Stack health (uid stack-health): Is the monitoring itself working: targets, configuration, rules, alert
delivery."""
from __future__ import annotations

from typing import Any

from .builder import LOADED_FAILED, RUNBOOKS, Panel, alert_threshold, dashboard, firing
from .selectors import JOB


def build() -> dict[str, Any]:
    panels = [
        Panel("Targets up", "Share of scrape targets of the selected jobs that answered their last scrape.",
              [('sum(up{job=~"$job"}) / count(up{job=~"$job"})', "")], "percentunit", kind="stat", width=6, height=4,
              thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Firing alerts", "Alerts firing now, every severity but none (the always-firing Watchdog is left out): "
              "0 is good.",
              [(f'count({firing(JOB)}) or vector(0)', "")], "short", kind="stat", width=6, height=4, thresholds=[(1.0, "orange")]),
        Panel("Configuration loaded", "1 when the last configuration reload of Prometheus and Alertmanager succeeded "
              f"(alerts PrometheusBadConfig, AlertmanagerFailedReload: {RUNBOOKS}PrometheusBadConfig.md).",
              [('min(prometheus_config_last_reload_successful{job=~"$job"})', "Prometheus"),
               ('min(alertmanager_config_last_reload_successful{job=~"$job"})', "Alertmanager")], "none", mappings=LOADED_FAILED, kind="stat", width=6, height=4,
              thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Alertmanagers discovered", "Alertmanagers Prometheus sends alerts to (alert PrometheusNotConnectedToAlertmanagers).",
              [('max(prometheus_notifications_alertmanagers_discovered{job=~"$job"})', "")], "short", kind="stat", width=6, height=4,
              thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Targets", "Every scrape target of the selected jobs and whether its last scrape worked (1) or not (0).",
              [('up{job=~"$job"}', "")], "short", kind="table", width=24, height=8),
        Panel("Scrape duration by job", "Slowest target of each job; close to the 10 s timeout means lost scrapes.",
              [('max by (job) (scrape_duration_seconds{job=~"$job"})', "{{job}}")], "s"),
        Panel("Samples ingested", "Samples Prometheus appends to its database per second (alert PrometheusNotIngestingSamples).",
              [('sum(rate(prometheus_tsdb_head_samples_appended_total{job=~"$job"}[$__rate_interval]))', "samples/s")], "ops"),
        Panel("Rule group evaluation time", "How long each rule group's last evaluation took; above its interval, "
              "evaluations are missed (alert PrometheusMissingRuleEvaluations).",
              [('max by (rule_group) (prometheus_rule_group_last_duration_seconds{job=~"$job"})', "{{rule_group}}")], "s"),
        Panel("Notifications sent", "Notifications Alertmanager sends per second, by integration (alert AlertmanagerFailedToSendAlerts).",
              [('sum by (integration) (rate(alertmanager_notifications_total{job=~"$job"}[$__rate_interval]))', "{{integration}}")], "ops"),
        Panel("Alerts received by Alertmanager", "Alerts Prometheus delivered to Alertmanager per second, by status.",
              [('sum by (status) (rate(alertmanager_alerts_received_total{job=~"$job"}[$__rate_interval]))', "{{status}}")], "ops"),
        Panel("Series in memory", "Active series in Prometheus' head block: growth here is growth in cost.",
              [('max(prometheus_tsdb_head_series{job=~"$job"})', "series")], "short"),
        # Remote write: the HA replicas to VictoriaMetrics (job prometheus) and other hosts' agents to
        # the centre (job prometheus-agent). Empty on a single stack without either.
        Panel("Remote write lag", "How far the newest sample sent is behind the newest scraped, per writer and "
              f"destination (alerts PrometheusRemoteWriteBehind and HostAgentRemoteWriteBehind above "
              f"{alert_threshold('PrometheusRemoteWriteBehind'):.0f} s).",
              [('max by (job, host, instance, remote_name) (prometheus_remote_storage_highest_timestamp_in_seconds{job=~"$job"}'
                ' - ignoring (remote_name, url) group_right prometheus_remote_storage_queue_highest_sent_timestamp_seconds{job=~"$job"})',
                "{{host}} {{instance}} -> {{remote_name}}")], "s",
              thresholds=[(alert_threshold("PrometheusRemoteWriteBehind"), "red")]),
        Panel("Remote write samples failed", "Samples a writer gave up on (refused: 4xx), per second: lost at the "
              "destination (alerts PrometheusRemoteStorageFailures, HostAgentRemoteWriteFailing).",
              [('sum by (job, host, instance, remote_name) (rate(prometheus_remote_storage_samples_failed_total{job=~"$job"}[$__rate_interval]))',
                "{{host}} {{instance}} -> {{remote_name}}")], "ops"),
        Panel("Alertmanager cluster members", "Peers each Alertmanager sees in its gossip cluster (HA overlay: 3; "
              "alert AlertmanagerMembersInconsistent when they disagree).",
              [('max by (instance) (alertmanager_cluster_members{job=~"$job"})', "{{instance}}")], "short"),
        Panel("VictoriaMetrics free disk", "Free space of VictoriaMetrics' storage (HA overlay) against the limit where "
              "it turns read-only (alerts VictoriaMetricsDiskFillsWithin3Days, VictoriaMetricsReadOnly).",
              [('min by (instance) (vm_free_disk_space_bytes{job=~"$job"})', "free {{instance}}"),
               ('min by (instance) (vm_free_disk_space_limit_bytes{job=~"$job"})', "read-only below")], "bytes"),
        Panel("VictoriaMetrics rows ignored", "Samples VictoriaMetrics dropped on ingestion, per second, by reason "
              "(alert VictoriaMetricsRowsIgnored).",
              [('sum by (reason) (rate(vm_rows_ignored_total{job=~"$job"}[$__rate_interval]))', "{{reason}}")], "ops"),
    ]
    return dashboard("stack-health", "Stack health",
                     "Is the monitoring itself working: targets, configuration, rules, alert delivery.",
                     panels, ["observability-stack", "stack"],
                     [("Runbooks", RUNBOOKS)])
