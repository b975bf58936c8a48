"""The demo app's ECS JSON logs (ecs-logging plus OpenTelemetry ids), from real requests through its WSGI app."""
from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import make_server
from wsgiref.util import setup_testing_defaults

import pytest
import yaml
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.exposition import ThreadingWSGIServer

from conftest import ROOT
from demo_app.__main__ import QuietHandler
from demo_app.faults import Faults, FaultSettings
from demo_app.jobs import JobQueue, MemoryQueue, Worker, new_job
from demo_app.telemetry import SERVICE_NAME, Metrics, setup_logging, setup_tracing
from demo_app.web import DemoApp

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def field(entry: dict[str, Any], name: str) -> Any:
    """A field by its dotted ECS name, whether the line nests it ({"service": {"name": ...}}) or not;
    KeyError when absent."""
    if name in entry:
        return entry[name]
    parts = name.split(".")
    for i in range(1, len(parts)):
        head = entry.get(".".join(parts[:i]))
        if isinstance(head, dict):
            try:
                return field(head, ".".join(parts[i:]))
            except KeyError:
                pass
    raise KeyError(name)


def has(entry: dict[str, Any], name: str) -> bool:
    try:
        field(entry, name)
    except KeyError:
        return False
    return True


class DownQueue(MemoryQueue):
    """A queue whose backend is gone: POST /api/orders raises inside the request."""

    def push(self, job: dict) -> None:
        raise RuntimeError("queue down")


class DownStore:
    def record(self, job_id: str, status: str, duration: float) -> None:
        raise ConnectionError("results database down")


@pytest.fixture(scope="module")
def tracing() -> tuple[trace.Tracer, InMemorySpanExporter]:
    tracer = setup_tracing(SERVICE_NAME, None)  # as main() does; no endpoint: nothing leaves the process
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()  # to read back each request's real span ids
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer, exporter


@pytest.fixture()
def tracer(tracing: tuple[trace.Tracer, InMemorySpanExporter]) -> trace.Tracer:
    tracing[1].clear()
    return tracing[0]


@pytest.fixture()
def log_stream() -> Iterator[io.StringIO]:
    """What the handler setup_logging installs writes, instead of stderr."""
    root = logging.getLogger()
    level = root.level
    handler = setup_logging("INFO", SERVICE_NAME)
    stream = io.StringIO()
    handler.setStream(stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO, logger: str | None = None) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line must be JSON
    return [e for e in entries if logger is None or field(e, "log.logger") == logger]


def finished(tracing: tuple[trace.Tracer, InMemorySpanExporter], name: str) -> ReadableSpan:
    spans = [s for s in tracing[1].get_finished_spans() if s.name == name]
    assert len(spans) == 1, [s.name for s in tracing[1].get_finished_spans()]
    return spans[0]


def ids_of(span: ReadableSpan) -> tuple[str, str]:
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def build_app(tracer: trace.Tracer, jobs: JobQueue | None = None, error_ratio: float = 0.0) -> DemoApp:
    # As demo_app.__main__.main builds it, with the in-memory queue: no Redis, no PostgreSQL.
    return DemoApp(Metrics(), Faults(FaultSettings(error_ratio=error_ratio)), jobs or MemoryQueue(), tracer)


def call(app: DemoApp, method: str, path: str, user_agent: str | None = None) -> int:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(b"{}"),
                               "CONTENT_LENGTH": "2"}
    if user_agent:
        environ["HTTP_USER_AGENT"] = user_agent
    setup_testing_defaults(environ)
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers: statuses.append(status)))
    return int(statuses[0].split()[0])


def assert_ecs_basics(entry: dict[str, Any], level: str, span: ReadableSpan) -> None:
    assert TIMESTAMP.match(entry["@timestamp"]), entry
    assert field(entry, "log.level") == level
    assert isinstance(entry["message"], str) and not entry["message"].lstrip().startswith("{")
    assert entry["service"] == {"name": SERVICE_NAME}  # ecs-logging nests dotted names
    assert field(entry, "service.name") == span.resource.attributes["service.name"]  # one name, logs and traces
    assert not has(entry, "log.original")  # excluded: it would repeat message
    trace_id, span_id = field(entry, "trace.id"), field(entry, "span.id")
    assert HEX32.match(trace_id) and HEX16.match(span_id), entry
    assert (trace_id, span_id) == ids_of(span)


def test_lines_carry_trace_ids_only_inside_a_span_from_any_logger(log_stream, tracer, tracing):
    logging.getLogger("demo_app").info("starting")
    with tracer.start_as_current_span("unit"):
        logging.getLogger("demo_app.child.of.child").warning("inside %s", "a span")  # propagated to root
    outside, inside = lines(log_stream)
    assert not has(outside, "trace.id") and not has(outside, "span.id")
    assert outside["message"] == "starting" and field(outside, "service.name") == SERVICE_NAME
    assert_ecs_basics(inside, "warning", finished(tracing, "unit"))
    assert inside["message"] == "inside a span"


@pytest.mark.parametrize(("method", "path", "user_agent", "status", "route"), [
    ("GET", "/api/items/7", "pytest-client/1.0", 200, "/api/items/{id}"),
    ("GET", "/healthz", "obsstack-probe/healthcheck", 200, "/healthz"),  # probes are logged too
    ("POST", "/api/orders", None, 202, "/api/orders"),
    ("GET", "/no/such/page", None, 404, "unmatched"),
])
def test_every_request_gets_an_ecs_access_line(log_stream, tracer, tracing, method, path, user_agent, status, route):
    assert call(build_app(tracer), method, path, user_agent) == status
    [entry] = lines(log_stream, "demo_app.http")
    assert_ecs_basics(entry, "info", finished(tracing, f"{method} {route}"))
    assert entry["message"] == f"{method} {route} {status}"
    assert field(entry, "http.request.method") == method
    assert field(entry, "url.path") == path  # raw, not the template
    assert entry["route"] == route
    code = field(entry, "http.response.status_code")
    assert type(code) is int and code == status
    duration = field(entry, "event.duration")
    assert type(duration) is int and 0 < duration < 10**10  # nanoseconds: under 10 s
    if route in ("/api/items/{id}", "/api/orders"):
        assert duration >= 2_000_000  # these sleep at least 2 ms: nanoseconds, not seconds or milliseconds
    if user_agent:
        assert field(entry, "user_agent.original") == user_agent
    else:
        assert not has(entry, "user_agent")


def test_a_failed_request_is_logged_at_error(log_stream, tracer, tracing):
    assert call(build_app(tracer, error_ratio=1.0), "GET", "/api/items") == 500
    [entry] = lines(log_stream, "demo_app.http")
    assert_ecs_basics(entry, "error", finished(tracing, "GET /api/items"))
    assert entry["message"] == "GET /api/items 500" and field(entry, "http.response.status_code") == 500
    assert not has(entry, "error")  # an injected 500, not an exception


def test_an_exception_fills_the_ecs_error_fields(log_stream, tracer, tracing):
    assert call(build_app(tracer, jobs=DownQueue()), "POST", "/api/orders", "pytest-client/1.0") == 500
    failure, access = lines(log_stream, "demo_app.http")
    span = finished(tracing, "POST /api/orders")
    assert_ecs_basics(failure, "error", span)
    assert failure["message"] == "request failed"
    assert field(failure, "error.type") == "RuntimeError"
    assert field(failure, "error.message") == "queue down"
    assert 'raise RuntimeError("queue down")' in field(failure, "error.stack_trace")
    assert field(failure, "url.path") == "/api/orders"
    assert_ecs_basics(access, "error", span)
    assert access["message"] == "POST /api/orders 500" and field(access, "http.response.status_code") == 500


def test_job_lines_carry_the_job_id_and_its_span(log_stream, tracer, tracing):
    worker = Worker(MemoryQueue(), None, Metrics(), Faults(FaultSettings(job_failure_ratio=0.0)), tracer,
                    threading.Event())
    job = new_job()
    worker.process(job)  # the worker thread's body, run here
    [entry] = lines(log_stream, "demo_app.jobs")
    assert_ecs_basics(entry, "info", finished(tracing, "job.process"))
    assert entry["message"] == "job succeeded" and entry["job"] == {"id": job["id"]}


def test_a_job_that_cannot_be_recorded_logs_the_error(log_stream, tracer, tracing):
    worker = Worker(MemoryQueue(), DownStore(), Metrics(),  # type: ignore[arg-type]  # a fake ResultStore
                    Faults(FaultSettings(job_failure_ratio=0.0)), tracer, threading.Event())
    job = new_job()
    worker.process(job)
    failure, outcome = lines(log_stream, "demo_app.jobs")
    span = finished(tracing, "job.process")
    assert_ecs_basics(failure, "error", span)
    assert field(failure, "job.id") == job["id"] and field(failure, "error.type") == "ConnectionError"
    assert field(failure, "error.message") == "results database down"
    assert_ecs_basics(outcome, "info", span)
    assert outcome["message"] == "job failed" and field(outcome, "job.id") == job["id"]


def test_the_compose_healthcheck_is_logged_with_the_probe_user_agent(log_stream, tracer, tracing):
    """Runs the exact healthcheck command of docker-compose.yml against the app served on a free port."""
    check = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["demo-app"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"] and len(check) == 4
    server = make_server("127.0.0.1", 0, build_app(tracer), ThreadingWSGIServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert "http://127.0.0.1:8000/" in check[3]
        proc = subprocess.run([sys.executable, "-c", check[3].replace("http://127.0.0.1:8000", url)],
                              capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 0, proc.stderr
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    # The app logs before it answers, so the line is written once the probe has its answer.
    [entry] = lines(log_stream, "demo_app.http")
    assert_ecs_basics(entry, "info", finished(tracing, "GET /healthz"))
    assert field(entry, "url.path") == "/healthz" and field(entry, "http.response.status_code") == 200
    assert field(entry, "user_agent.original").startswith("obsstack-probe/")
