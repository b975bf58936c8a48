"""Per-process GPU memory and SM utilisation, by process name and container."""
from __future__ import annotations

import logging

from prometheus_client.core import GaugeMetricFamily, Metric

from .base import SnapshotCollector

LOG = logging.getLogger(__name__)
LABELS = ["gpu", "UUID", "process", "container"]


class ProcessCollector(SnapshotCollector):
    """Series exist only while a matching process runs: a process that exited is gone next scrape."""

    def _collect(self) -> list[Metric]:
        snap = self._collection.get()
        if not snap.up:
            return []
        mem = GaugeMetricFamily("gpu_process_memory_used_bytes",
                                "GPU memory used by processes with this name in this container.", labels=LABELS)
        sm = GaugeMetricFamily("gpu_process_sm_utilization_ratio",
                               "SM utilisation of these processes over their last NVML sample (0-1).", labels=LABELS)
        count = GaugeMetricFamily("gpu_processes", "Processes with this name in this container on the GPU.", labels=LABELS)
        for p in snap.processes:
            labels = [p.gpu, p.uuid, p.process, p.container]
            count.add_metric(labels, p.count)
            if p.memory_bytes is not None:
                mem.add_metric(labels, p.memory_bytes)
            if p.sm_ratio is not None:
                sm.add_metric(labels, p.sm_ratio)
        return [f for f in (mem, sm, count) if f.samples]
