"""How fast time runs in the native stack: real time for use, 60 times faster for the tests.

One object says it all, instead of a `fast` flag that every renderer interprets on its own."""
from __future__ import annotations

from dataclasses import dataclass

from .durations import format_duration, parse_duration


@dataclass(frozen=True)
class TimeScale:
    name: str
    divisor: float = 1.0
    # Fixed intervals in a scaled stack (None: as the shipped configs say).
    scrape_s: float | None = None
    evaluation_s: float | None = None
    grouping_s: float | None = None
    # Floors: rate() must still see several samples; the Watchdog must not repeat every second.
    min_range_s: float = 0.0
    min_repeat_s: float = 0.0
    # Prometheus sends alerts already firing at its start one resend delay later (1m by default).
    alert_resend_delay: str | None = None

    @property
    def scaled(self) -> bool:
        return self.divisor != 1.0

    def duration(self, text: str, floor_s: float = 0.0) -> str:
        """A configured duration (a rule's `for`, a repeat interval) in this time scale."""
        return format_duration(max(floor_s, parse_duration(text) / self.divisor))

    def window(self, text: str) -> str:
        """A PromQL range window in this time scale, never shorter than min_range_s."""
        return self.duration(text, self.min_range_s)


REAL = TimeScale("real")
# 3 s scrapes, not 1 s: postgres_exporter needs ~2 s to report pg_up 0 while its database is down.
FAST = TimeScale("fast", divisor=60, scrape_s=3, evaluation_s=1, grouping_s=1, min_range_s=12, min_repeat_s=10,
                 alert_resend_delay="1s")
