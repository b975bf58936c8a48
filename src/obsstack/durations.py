"""Prometheus's duration grammar, the one the whole project reads and writes: units y, w, d, h, m, s,
ms, largest first, each at most once (`1h30m`, `90s`, `250ms`, `14d`)."""
from __future__ import annotations

import re

UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
# A duration inside a PromQL expression: a range or a subquery's window and step.
DURATION_TEXT = r"(?:\d+(?:ms|[smhdwy]))+"


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration; ValueError naming the text otherwise."""
    match = DURATION.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"not a Prometheus duration: {text!r} (e.g. 30s, 5m, 1h30m, 14d)")
    return sum(int(value) * seconds for value, seconds in zip(match.groups(), UNITS.values()) if value)


def format_duration(seconds: float) -> str:
    """Whole seconds, at least 1s: what the scaled-down configs of the native stack need."""
    return f"{max(1, round(seconds))}s"
