"""The HTTP API (WSGI), instrumented: RED metrics with trace-id exemplars, spans, ECS JSON access logs."""
from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable

from opentelemetry import trace
from prometheus_client import make_wsgi_app

from .faults import Faults
from .jobs import JobQueue, new_job
from .telemetry import Metrics, current_ids

LOG = logging.getLogger("demo_app.http")
StartResponse = Callable[..., object]
# Route templates, never raw paths: label values stay bounded whatever URLs clients send.
ROUTES = [
    ("GET", re.compile(r"^/api/items/\d+$"), "/api/items/{id}"),
    ("GET", re.compile(r"^/api/items$"), "/api/items"),
    ("POST", re.compile(r"^/api/orders$"), "/api/orders"),
    ("GET", re.compile(r"^/healthz$"), "/healthz"),
    ("GET", re.compile(r"^/admin/faults$"), "/admin/faults"),
    ("POST", re.compile(r"^/admin/faults$"), "/admin/faults"),
]
STATUS_TEXT = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


def route_of(method: str, path: str) -> str | None:
    for route_method, pattern, template in ROUTES:
        if route_method == method and pattern.match(path):
            return template
    return None


class DemoApp:
    def __init__(self, metrics: Metrics, faults: Faults, jobs: JobQueue, tracer: trace.Tracer) -> None:
        self.metrics, self.faults, self.jobs, self.tracer = metrics, faults, jobs, tracer
        self.metrics_app = make_wsgi_app(metrics.registry)
        self.rng = random.Random()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            return self.metrics_app(environ, start_response)
        route = route_of(method, path) or "unmatched"
        start = time.perf_counter_ns()
        self.metrics.in_flight.inc()
        # ECS fields, dotted (ecs-logging nests them); "route", the template, is our own.
        fields: dict[str, object] = {"http.request.method": method, "url.path": path, "route": route}
        if user_agent := environ.get("HTTP_USER_AGENT"):
            fields["user_agent.original"] = user_agent
        with self.tracer.start_as_current_span(f"{method} {route}", kind=trace.SpanKind.SERVER,
                                               attributes={"http.request.method": method, "http.route": route}) as span:
            try:
                status, body = self.handle(method, route, path, environ)
            except Exception:
                LOG.exception("request failed", extra=fields)  # ecs-logging adds error.type/message/stack_trace
                status, body = 500, {"error": "internal error"}
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            duration_ns = time.perf_counter_ns() - start
            ids = current_ids()
            exemplar = {"trace_id": ids[0]} if ids else None
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(duration_ns / 1e9, exemplar=exemplar)
            self.metrics.in_flight.dec()
            # Every request, probes included: the log pipeline drops the stack's own (user agent obsstack-probe/).
            (LOG.error if status >= 500 else LOG.info)(
                "%s %s %d", method, route, status,
                extra={**fields, "http.response.status_code": status, "event.duration": duration_ns})
        data = json.dumps(body).encode()
        start_response(f"{status} {STATUS_TEXT.get(status, '')}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def handle(self, method: str, route: str, path: str, environ: dict) -> tuple[int, dict]:
        if route == "/healthz":
            return 200, {"status": "ok"}
        if route == "/admin/faults":
            if method == "GET":
                return 200, vars(self.faults.get())
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                changes = json.loads(environ["wsgi.input"].read(length) or b"{}")
                return 200, vars(self.faults.update(changes))
            except (ValueError, TypeError) as exc:
                return 400, {"error": str(exc)}
        if route == "unmatched":
            return 404, {"error": "not found"}
        settings = self.faults.get()
        with self.tracer.start_as_current_span("work"):
            time.sleep(self.rng.uniform(0.002, 0.03) + settings.extra_latency_seconds)
        if self.faults.should_fail(self.rng):
            return 500, {"error": "injected failure"}
        if route == "/api/orders":
            job = new_job()
            with self.tracer.start_as_current_span("queue.push"):
                self.jobs.push(job)
            return 202, {"job": job["id"]}
        if route == "/api/items/{id}":
            return 200, {"id": int(path.rsplit("/", 1)[1]), "name": "widget"}
        return 200, {"items": [1, 2, 3]}
