"""The exporter's own health: NVML reachable, devices, collection time, errors."""
from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .base import SnapshotCollector
from .worker import Collection

LOG = logging.getLogger(__name__)


class SelfCollector(SnapshotCollector):
    def __init__(self, collection: Collection, backend: str = "nvml") -> None:
        super().__init__(collection)
        self._backend = backend

    def collect(self) -> Iterator[Metric]:
        # Always served, even if reading the snapshot fails: it says what this exporter is.
        backend = GaugeMetricFamily("gpu_exporter_backend", "Where GPU data comes from: nvml, or simulated for demos.",
                                    labels=["backend"])
        backend.add_metric([self._backend], 1)
        yield backend
        yield from super().collect()

    def _collect(self) -> list[Metric]:
        snap = self._collection.get()
        out: list[Metric] = []
        up = GaugeMetricFamily("gpu_exporter_up", "1 if NVML answered the last collection, else 0 (reason says why).",
                               labels=["reason"])
        up.add_metric([snap.reason], 1 if snap.up else 0)
        out.append(up)
        if snap.devices is not None:
            out.append(GaugeMetricFamily("gpu_exporter_devices", "GPUs NVML reported in the last collection.",
                                         value=snap.devices))
        if snap.duration_seconds is not None:
            out.append(GaugeMetricFamily("gpu_exporter_collection_duration_seconds",
                                         "Time the last completed NVML collection took.", value=snap.duration_seconds))
        if snap.last_success is not None:
            out.append(GaugeMetricFamily("gpu_exporter_last_success_timestamp_seconds",
                                         "Unix time of the last collection in which NVML answered.", value=snap.last_success))
        errors = CounterMetricFamily("gpu_exporter_errors", "NVML call failures by error (NotSupported is never counted).",
                                     labels=["reason"])
        counts = dict(snap.errors)
        if self._collection.timeouts:
            counts["Timeout"] = counts.get("Timeout", 0) + self._collection.timeouts
        for reason in sorted(counts):
            errors.add_metric([reason], counts[reason])
        out.append(errors)
        out.append(CounterMetricFamily("gpu_exporter_processes_dropped",
                                       "GPU process series left out by the --max-processes cap.",
                                       value=snap.processes_dropped))
        return out
