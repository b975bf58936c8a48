"""Faults the demo can be told to show at run time (POST /admin/faults), so alerts can be demonstrated."""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass


@dataclass
class FaultSettings:
    error_ratio: float = 0.0  # share of API requests answered with HTTP 500
    extra_latency_seconds: float = 0.0  # added to every API request
    job_failure_ratio: float = 0.02  # share of background jobs that fail

    def validate(self) -> None:
        for name in ("error_ratio", "job_failure_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if not 0.0 <= self.extra_latency_seconds <= 30.0:
            raise ValueError(f"extra_latency_seconds must be between 0 and 30, got {self.extra_latency_seconds}")


class Faults:
    def __init__(self, settings: FaultSettings) -> None:
        settings.validate()
        self._settings = settings
        self._lock = threading.Lock()

    def get(self) -> FaultSettings:
        with self._lock:
            return FaultSettings(**asdict(self._settings))

    def update(self, changes: dict[str, float]) -> FaultSettings:
        unknown = set(changes) - set(asdict(self._settings))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            candidate = FaultSettings(**{**asdict(self._settings), **{k: float(v) for k, v in changes.items()}})
            candidate.validate()
            self._settings = candidate
            return FaultSettings(**asdict(candidate))

    def should_fail(self, rng: random.Random) -> bool:
        return rng.random() < self.get().error_ratio
