"""Opt-in Xid counter: a thread waiting on NVML critical-error events (nvmlEventSetWait)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pynvml
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from .errors import reason_of

LOG = logging.getLogger(__name__)


class XidWatcher(Collector):
    """Counts Xids per GPU in gpu_xid_errors_total{gpu, UUID, xid}. Uses its own NVML reference
    (nvmlInit is reference-counted), so the sampler's re-initialisations do not disturb it."""

    def __init__(self, nvml: Any, wait_ms: int = 500, retry_s: float = 10.0) -> None:
        self._nvml = nvml
        self._wait_ms = wait_ms
        self._retry_s = retry_s
        self._counts: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gpu-xid", daemon=True)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("gpu_xid_errors", "Xid errors reported by the driver since the exporter started.",
                                     labels=["gpu", "UUID", "xid"])
        with self._lock:
            items = sorted(self._counts.items())
        for labels, n in items:
            family.add_metric(list(labels), n)
        yield family

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except pynvml.NVMLError as exc:
                LOG.warning("Xid event watch stopped (%s); retrying in %.0f s", reason_of(exc), self._retry_s)
            except Exception:  # noqa: BLE001 - keep the thread alive
                LOG.exception("Xid event watch failed")
            self._stop.wait(self._retry_s)

    def _session(self) -> None:
        nvml = self._nvml
        nvml.nvmlInit()
        event_set = None
        try:
            event_set = nvml.nvmlEventSetCreate()
            by_uuid: dict[str, str] = {}
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = nvml.nvmlDeviceGetUUID(handle)
                try:
                    nvml.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, event_set)
                except pynvml.NVMLError as exc:
                    LOG.info("GPU %d: no Xid events (%s)", index, reason_of(exc))
                    continue
                by_uuid[uuid] = str(index)
            if not by_uuid:
                return
            LOG.info("watching Xid events on %d GPU(s)", len(by_uuid))
            while not self._stop.is_set():
                try:
                    data = nvml.nvmlEventSetWait(event_set, self._wait_ms)
                except pynvml.NVMLError_Timeout:
                    continue
                if data.eventType & pynvml.nvmlEventTypeXidCriticalError:
                    uuid = nvml.nvmlDeviceGetUUID(data.device)
                    key = (by_uuid.get(uuid, ""), uuid, str(data.eventData))
                    LOG.warning("GPU %s (%s): Xid %s", key[0], uuid, key[2])
                    with self._lock:
                        self._counts[key] = self._counts.get(key, 0) + 1
        finally:
            if event_set is not None:
                try:
                    nvml.nvmlEventSetFree(event_set)
                except pynvml.NVMLError:
                    pass
            try:
                nvml.nvmlShutdown()
            except pynvml.NVMLError:
                pass
