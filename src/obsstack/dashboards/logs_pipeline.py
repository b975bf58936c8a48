"""Logs pipeline (uid logs-pipeline): Filebeat -> Logstash -> Elasticsearch: is every stage up and are logs
flowing and indexed."""
from __future__ import annotations

from typing import Any

from .builder import (
    DOCUMENTS_PER_SECOND,
    EVENTS_PER_SECOND,
    RUNBOOKS,
    UP_DOWN,
    Panel,
    alert_threshold,
    dashboard,
)
from .selectors import JOB


def build() -> dict[str, Any]:
    panels = [
        Panel("Elasticsearch cluster health", "The cluster's colour: green is good; yellow, a replica unassigned; "
              "red, a primary (alerts ElasticsearchClusterRed, ElasticsearchClusterYellow).",
              # One series a colour, 1 for the current one: 0 green, 1 yellow, 2 red.
              [(f'max(elasticsearch_cluster_health_status{{{JOB}, color="yellow"}}) '
                f'+ 2 * max(elasticsearch_cluster_health_status{{{JOB}, color="red"}})', "")],
              "none", kind="stat", width=6, height=4,
              mappings={0: ("green", "green"), 1: ("yellow", "yellow"), 2: ("red", "red")}),
        Panel("Unassigned shards", "Shards with no node (alert ElasticsearchUnassignedShards).",
              [(f"max(elasticsearch_cluster_health_unassigned_shards{{{JOB}}})", "")], "short", kind="stat", width=6, height=4, thresholds=[(1.0, "orange")]),
        Panel("Logstash up", "1 when the Logstash exporter reaches Logstash (alert LogstashDown).",
              [(f"max by (instance) (logstash_info_up{{{JOB}}})", "{{instance}}")], "none", mappings=UP_DOWN, kind="stat", width=6, height=4,
              thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Filebeat up", "1 when Filebeat's stats endpoint (filebeat:5066) answers the json exporter's probe, "
              "the scrape result `up` of job filebeat (alert FilebeatDown).",
              [(f'max by (instance) (up{{job="filebeat", {JOB}}})', "{{instance}}")], "none", mappings=UP_DOWN, kind="stat", width=6, height=4,
              thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Filebeat output events", "Events Filebeat's output handled per second by outcome (alerts "
              "FilebeatOutputFailures, FilebeatEventsDropped).",
              [(f"sum by (type) (rate(filebeat_libbeat_output_events{{{JOB}}}[$__rate_interval]))", "{{type}}")], EVENTS_PER_SECOND),
        Panel("Logstash events", "Events in and out of each Logstash pipeline per second (alert LogstashEventsInButNotOut).",
              [(f"sum by (pipeline) (rate(logstash_stats_pipeline_events_in{{{JOB}}}[$__rate_interval]))", "in {{pipeline}}"),
               (f"sum by (pipeline) (rate(logstash_stats_pipeline_events_out{{{JOB}}}[$__rate_interval]))", "out {{pipeline}}")],
              EVENTS_PER_SECOND),
        Panel("Logstash bulk errors", "Share of bulk requests to Elasticsearch that failed (alert LogstashOutputBulkErrors "
              "above 1%).",
              [(f"sum by (pipeline, plugin_id) (rate(logstash_stats_pipeline_plugin_bulk_requests_errors{{{JOB}}}[$__rate_interval])) "
                f"/ (sum by (pipeline, plugin_id) (rate(logstash_stats_pipeline_plugin_bulk_requests_responses{{{JOB}}}[$__rate_interval])) > 0)",
                "{{pipeline}} {{plugin_id}}")], "percentunit", thresholds=[(alert_threshold("LogstashOutputBulkErrors"), "red")]),
        Panel("Logstash queues", "Dead letter queue and persisted queue size per pipeline (alerts "
              "LogstashDeadLetterQueueGrowing, LogstashPersistedQueueNearlyFull).",
              [(f"max by (pipeline) (logstash_stats_pipeline_dead_letter_queue_size_in_bytes{{{JOB}}})", "DLQ {{pipeline}}"),
               (f"max by (pipeline) (logstash_stats_pipeline_queue_events_queue_size{{{JOB}}})", "queue {{pipeline}}")],
              "bytes"),
        Panel("Documents indexed", "Documents indexed per second into the logs data streams (alert ElasticsearchNoNewDocuments).",
              [(f'sum(rate(elasticsearch_index_stats_indexing_index_total{{{JOB}, index=~"\\\\.ds-logs-.+"}}[$__rate_interval]))',
                "docs/s")], DOCUMENTS_PER_SECOND),
        Panel("Elasticsearch heap", "JVM heap used / max per node (alert ElasticsearchHeapUsageHigh above 85%).",
              [(f'max by (name) (elasticsearch_jvm_memory_used_bytes{{{JOB}, area="heap"}} / '
                f'(elasticsearch_jvm_memory_max_bytes{{{JOB}, area="heap"}} > 0))', "{{name}}")], "percentunit",
              thresholds=[(alert_threshold("ElasticsearchHeapUsageHigh"), "red")]),
        Panel("Elasticsearch disk available", "Free bytes on each node's data path (watermark alerts).",
              [(f"min by (name, path) (elasticsearch_filesystem_data_available_bytes{{{JOB}}})", "{{name}} {{path}}")],
              "bytes"),
        Panel("Failure store: refused documents", "Log documents Elasticsearch refused (a field of the wrong type, "
              "a value it cannot parse) and kept in the data stream's failure store instead of indexing them: held now "
              "(Elasticsearch keeps them 30 days by default), and new in the last 30 minutes (alert LogsRejectedIntoFailureStore "
              "when above 0). Logstash counts these as written, so no other panel shows them; the runbook says how to "
              "read and replay them.",
              [(f"max by (data_stream) (logs_failure_store_documents{{{JOB}}})", "held {{data_stream}}"),
               (f"max by (data_stream) (logs_failure_store_documents{{{JOB}}}) "
                f"- max by (data_stream) (logs_failure_store_documents{{{JOB}}} offset 30m)",
                "new in 30 min {{data_stream}}")], "short"),
        Panel("Dead letter queue", "Size of each Logstash pipeline's dead letter queue (events Elasticsearch refused "
              "with 400/404 that the failure store did not take) against its limit, dead_letter_queue.max_bytes "
              "(alert LogstashDeadLetterQueueGrowing when it grows; once it is full the oldest events are dropped, "
              "alert LogstashDeadLetterQueueDroppingEvents).",
              [(f"max by (pipeline) (logstash_stats_pipeline_dead_letter_queue_size_in_bytes{{{JOB}}})", "size {{pipeline}}"),
               (f"max by (pipeline) (logstash_stats_pipeline_dead_letter_queue_max_size_in_bytes{{{JOB}}})", "max {{pipeline}}")],
              "bytes"),
        Panel("Dead letter queue: dropped and expired events", "Events the dead letter queue discarded per second: "
              "dropped because it was full (alert LogstashDeadLetterQueueDroppingEvents), or expired after "
              "dead_letter_queue.retain.age, 14 days (the configured retention, no alert).",
              [(f"sum by (pipeline) (rate(logstash_stats_pipeline_dead_letter_queue_dropped_events{{{JOB}}}[$__rate_interval]))",
                "dropped {{pipeline}}"),
               (f"sum by (pipeline) (rate(logstash_stats_pipeline_dead_letter_queue_expired_events{{{JOB}}}[$__rate_interval]))",
                "expired {{pipeline}}")], "ops"),
    ]
    return dashboard("logs-pipeline", "Logs pipeline", "Filebeat -> Logstash -> Elasticsearch: is every stage up and "
                     "are logs flowing and indexed.", panels, ["observability-stack", "logs"], [("Runbooks", RUNBOOKS)])
