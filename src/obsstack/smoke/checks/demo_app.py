"""The demo app serves its own load and Prometheus records it."""
from __future__ import annotations

from ..stack import Stack


def traffic_scraped(stack: Stack) -> str:
    stack.needs("demo_app")
    if not stack.query('sum(rate(http_requests_total{job="demo-app"}[1m])) > 0'):
        raise AssertionError("no requests recorded from the demo app yet")
    return "demo app serving and scraped"


CHECKS = [("demo_app", "traffic scraped", traffic_scraped)]
