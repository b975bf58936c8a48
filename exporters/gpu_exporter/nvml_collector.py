"""A prometheus_client Collector over NVML that never raises out of collect()."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from types import ModuleType

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LOG = logging.getLogger(__name__)


class NvmlCollector(Collector):
    """Reports whether NVML answers and how many GPUs it sees.

    Without a driver or library the exporter stays up and says so with ``gpu_exporter_up 0``
    and a ``reason``; it never crash-loops.
    """

    def __init__(self, nvml: ModuleType | object, backend: str = "nvml") -> None:
        self._nvml = nvml
        self._backend = backend
        self._lock = threading.Lock()
        self._initialised = False
        self._logged_reason: str | None = None

    def describe(self) -> list[Metric]:
        # Returning [] stops the registry from calling collect() at registration time.
        return []

    def _ensure_init(self) -> None:
        if not self._initialised:
            self._nvml.nvmlInit()
            self._initialised = True

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gpu_exporter_up", "1 if NVML answered the last collection, else 0.", labels=["reason"])
        devices = GaugeMetricFamily("gpu_exporter_devices", "GPUs NVML reported in the last collection.")
        backend = GaugeMetricFamily("gpu_exporter_backend", "Where GPU data comes from: nvml, or simulated for demos.",
                                    labels=["backend"])
        backend.add_metric([self._backend], 1)
        yield backend
        with self._lock:
            try:
                self._ensure_init()
                count = int(self._nvml.nvmlDeviceGetCount())
            except self._nvml.NVMLError as exc:
                reason = type(exc).__name__.removeprefix("NVMLError_") or "Unknown"
                if reason != self._logged_reason:
                    LOG.warning("NVML unavailable (%s): %s; serving gpu_exporter_up 0", reason, exc)
                    self._logged_reason = reason
                self._shutdown()
                up.add_metric([reason], 0)
                yield up
                return
        self._logged_reason = None
        up.add_metric([""], 1)
        devices.add_metric([], count)
        yield up
        yield devices

    def _shutdown(self) -> None:
        if self._initialised:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass
            self._initialised = False

    def close(self) -> None:
        with self._lock:
            self._shutdown()
