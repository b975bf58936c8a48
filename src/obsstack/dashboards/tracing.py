"""Tracing (uid tracing): Jaeger's collector: spans received, exported, queued, and written to storage."""
from __future__ import annotations

from typing import Any

from .builder import RUNBOOKS, SPANS_PER_SECOND, Panel, alert_threshold, dashboard
from .selectors import JOB


def build() -> dict[str, Any]:
    panels = [
        Panel("Spans received", "Spans the receivers accepted and refused per second (alert JaegerReceiverRefusedSpans "
              "above 1% refused).",
              [(f"sum by (receiver) (rate(otelcol_receiver_accepted_spans{{{JOB}}}[$__rate_interval]))", "accepted {{receiver}}"),
               (f"sum by (receiver) (rate(otelcol_receiver_refused_spans{{{JOB}}}[$__rate_interval]))", "refused {{receiver}}")],
              SPANS_PER_SECOND),
        Panel("Spans exported", "Spans sent, failed and dropped at enqueue per second (alerts JaegerExportFailures, "
              "JaegerSpansDropped).",
              [(f"sum by (exporter) (rate(otelcol_exporter_sent_spans{{{JOB}}}[$__rate_interval]))", "sent {{exporter}}"),
               (f"sum by (exporter) (rate(otelcol_exporter_send_failed_spans{{{JOB}}}[$__rate_interval]))", "failed {{exporter}}"),
               (f"sum by (exporter) (rate(otelcol_exporter_enqueue_failed_spans{{{JOB}}}[$__rate_interval]))", "dropped {{exporter}}")],
              SPANS_PER_SECOND),
        Panel("Exporter queue", "Sending queue use against capacity (alert JaegerExporterQueueNearlyFull above 80%).",
              [(f"max by (exporter) (otelcol_exporter_queue_size{{{JOB}}} / (otelcol_exporter_queue_capacity{{{JOB}}} > 0))",
                "{{exporter}}")], "percentunit", thresholds=[(alert_threshold("JaegerExporterQueueNearlyFull"), "red")]),
        Panel("Storage write errors", "Share of bulk index attempts to Elasticsearch that failed (alert "
              "JaegerStorageWriteErrors above 1%).",
              [(f"sum by (name) (rate(jaeger_storage_bulk_index_errors{{{JOB}}}[$__rate_interval])) / "
                f"(sum by (name) (rate(jaeger_storage_bulk_index_attempts{{{JOB}}}[$__rate_interval])) > 0)", "{{name}}")],
              "percentunit", thresholds=[(alert_threshold("JaegerStorageWriteErrors"), "red")]),
    ]
    return dashboard("tracing", "Tracing", "Jaeger's collector: spans received, exported, queued, and written to storage.",
                     panels, ["observability-stack", "traces"], [("Runbooks", RUNBOOKS)])
