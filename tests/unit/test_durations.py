"""The one duration grammar (Prometheus's) and the native stack's time scale."""
from __future__ import annotations

import pytest

from obsstack.durations import parse_duration
from obsstack.native_config import scale_ranges
from obsstack.timescale import FAST, REAL


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("5m", 300), ("1h30m", 5400), ("14d", 14 * 86400), ("2w", 14 * 86400), ("1y", 365 * 86400),
    ("250ms", 0.25), ("1m30s", 90),
])
def test_parses_prometheus_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "1m1h", "1.5h", "5min"])
def test_refuses_what_prometheus_refuses_naming_it(text):
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration(text)


def test_fast_scale_divides_with_floors():
    assert FAST.duration("2m") == "2s"
    assert FAST.window("5m") == "12s", "a range never drops under the scale's minimum (rate needs samples)"
    assert FAST.window("1d") == "1440s"
    assert FAST.duration("1m", FAST.min_repeat_s) == "10s"
    assert scale_ranges("sum(rate(x[5m])) / sum(rate(x[1h30m:1m]))", FAST) == "sum(rate(x[12s])) / sum(rate(x[90s:1s]))"
    assert not REAL.scaled and REAL.duration("5m") == "300s"
