"""Per-process GPU memory and SM utilisation, by process name and container (and GPU instance, for MIG)."""
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
        for p in snap.processes:
            labels = dict(zip(LABELS, (p.gpu, p.uuid, p.process, p.container)))
            if p.gpu_instance:          # on a MIG GPU instance: dcgm-exporter's labels for it
                labels |= {"GPU_I_ID": p.gpu_instance, "GPU_I_PROFILE": p.profile}
            for family, value in ((mem, p.memory_bytes), (sm, p.sm_ratio)):
                if value is not None:
                    family.add_sample(family.name, labels, value)
        return [f for f in (mem, sm) if f.samples]
