"""Metrics, traces and JSON logs of the demo app, correlated by trace id."""
from __future__ import annotations

import json
import logging
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """RED metrics for the API and the job queue, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests served.", ["method", "route", "status"],
                                registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "Time to serve an HTTP request.",
                                  ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("http_requests_in_flight", "HTTP requests being served now.", registry=self.registry)
        self.jobs = Counter("demo_jobs", "Background jobs finished, by outcome.", ["status"], registry=self.registry)
        self.job_duration = Histogram("demo_job_duration_seconds", "Time to run a background job.",
                                      buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("demo_queue_depth", "Jobs waiting in the queue.", registry=self.registry)


def setup_tracing(service_name: str, otlp_endpoint: str | None) -> trace.Tracer:
    """Real trace and span ids always (logs and exemplars carry them); exported only with an endpoint."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")))
    trace.set_tracer_provider(provider)
    return trace.get_tracer("demo_app")


def current_ids() -> tuple[str, str] | None:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with trace_id/span_id of the active span, for Filebeat and Logstash."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "log.level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": "demo-app",
        }
        ids = current_ids()
        if ids:
            entry["trace_id"], entry["span_id"] = ids
        for key in ("route", "method", "status", "duration_ms", "job_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error.stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
