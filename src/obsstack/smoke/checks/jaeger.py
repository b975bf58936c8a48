"""Jaeger: a span sent over OTLP/HTTP with a unique trace id comes back from its query API."""
from __future__ import annotations

import time
import uuid

import requests

from ..stack import TIMEOUT_S, Stack


def trace_returned(stack: Stack) -> str:
    jaeger = stack.needs("jaeger")
    trace_id, span_id, now = uuid.uuid4().hex, uuid.uuid4().hex[:16], time.time_ns()
    span = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "smoke-test"}}]},
                               "scopeSpans": [{"spans": [{"traceId": trace_id, "spanId": span_id, "name": "smoke", "kind": 1,
                                                          "startTimeUnixNano": str(now - 1_000_000),
                                                          "endTimeUnixNano": str(now)}]}]}]}
    requests.post(f"{stack.endpoints['otlp'].url}/v1/traces", json=span, timeout=TIMEOUT_S).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = requests.get(f"{jaeger.url}/api/traces/{trace_id}", timeout=TIMEOUT_S)
        if response.status_code == 200 and response.json().get("data"):
            return f"span of trace {trace_id} returned by Jaeger"
        time.sleep(2)
    raise AssertionError(f"trace {trace_id} not returned by Jaeger within 60s")


CHECKS = [("jaeger", "trace returned", trace_returned)]
