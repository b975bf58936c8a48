"""Kibana: its overall status (plugins included, as a logged-in user sees it) is available."""
from __future__ import annotations

from ..stack import Stack, get


def status(stack: Stack) -> str:
    level = get(stack.needs("kibana"), "/api/status").json()["status"]["overall"]["level"]
    if level != "available":
        raise AssertionError(f"Kibana overall status {level}")
    return "available"


CHECKS = [("kibana", "status", status)]
