"""Metrics, traces and ECS JSON logs of the demo app, correlated by trace id."""
from __future__ import annotations

import logging

import ecs_logging
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# One name for the OTel resource and the logs' service.name, so Kibana and Jaeger agree.
SERVICE_NAME = "demo-app"
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


class TraceContextFilter(logging.Filter):
    """Adds the active span's ids as ECS trace.id/span.id: ecs-logging nests dotted record attributes
    but does not read the OpenTelemetry context itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = current_ids()
        if ids:
            record.__dict__["trace.id"], record.__dict__["span.id"] = ids
        return True


def setup_logging(level: str, service_name: str) -> logging.StreamHandler:
    """One ECS JSON object a line on stderr, for Filebeat and Logstash; returns the handler it installs."""
    handler = logging.StreamHandler()
    # log.original would repeat message in every line.
    handler.setFormatter(ecs_logging.StdlibFormatter(extra={"service.name": service_name},
                                                     exclude_fields=["log.original"]))
    # On the handler, not a logger: logger filters skip records propagated from child loggers.
    handler.addFilter(TraceContextFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return handler
