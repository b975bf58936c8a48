"""Runs collections in a worker thread under a deadline; concurrent readers share one collection."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from .model import Snapshot

LOG = logging.getLogger(__name__)


class Collection:
    """``get()`` returns the newest snapshot, starting a collection when the last one is older than
    ``max_age`` seconds. A collection still running after ``deadline`` seconds (a hung NVML call)
    makes ``get()`` answer at once with up 0, reason Timeout, until that call returns."""

    def __init__(self, sample: Callable[[], Snapshot], deadline: float = 5.0, max_age: float = 1.0) -> None:
        self._sample = sample
        self._deadline = deadline
        self._max_age = max_age
        self._lock = threading.Lock()
        self._last: Snapshot | None = None
        self._running: threading.Event | None = None
        self._started = 0.0
        self._timed_out = False
        self._timeouts = 0
        # One long-lived worker: starting a thread per collection cost more than a simulated GPU's sampling.
        self._requests: queue.SimpleQueue[threading.Event | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def _serve(self) -> None:
        while (done := self._requests.get()) is not None:
            self._run(done)

    def _run(self, done: threading.Event) -> None:
        try:
            snap = self._sample()
        except Exception:  # noqa: BLE001 - the sampler should not raise; never kill the worker silently
            LOG.exception("collection failed")
            snap = Snapshot(up=False, reason="Unknown", finished=time.monotonic())
        with self._lock:
            self._last = snap
            self._running = None
            if self._timed_out:
                LOG.warning("hung NVML collection returned after %.1f s", time.monotonic() - self._started)
                self._timed_out = False
        done.set()

    def get(self, refresh: bool = False) -> Snapshot:
        with self._lock:
            now = time.monotonic()
            done = self._running
            if done is None:
                if not refresh and self._last is not None and now - self._last.finished < self._max_age:
                    return self._last
                done = self._running = threading.Event()
                self._started = now
                if self._worker is None:
                    self._worker = threading.Thread(target=self._serve, name="gpu-collect", daemon=True)
                    self._worker.start()
                self._requests.put(done)
            remaining = self._started + self._deadline - now
        if remaining > 0 and done.wait(remaining):
            with self._lock:
                assert self._last is not None
                return self._last
        return self._timeout_snapshot()

    def _timeout_snapshot(self) -> Snapshot:
        with self._lock:
            if not self._timed_out:
                self._timed_out = True
                self._timeouts += 1
                LOG.warning("NVML collection exceeded its %.1f s deadline; serving gpu_exporter_up 0 until it returns",
                            self._deadline)
            base = self._last or Snapshot(up=False, reason="Timeout")
            return replace(base, up=False, reason="Timeout", devices=None, gpus=(), processes=())

    def close(self, shutdown: Callable[[], None]) -> None:
        """Stop the worker; run ``shutdown`` (nvmlShutdown) unless a collection is still in flight."""
        self._requests.put(None)
        with self._lock:
            if self._running is None:
                shutdown()
            else:
                LOG.warning("a collection is still running; leaving NVML to process exit")

    @property
    def timeouts(self) -> int:
        """Collections that overran the deadline (gpu_exporter_errors_total{reason="Timeout"})."""
        return self._timeouts


class Ticker:
    """Background refresh every ``interval`` seconds (the --interval mode); scrapes read the cache."""

    def __init__(self, collection: Collection, interval: float) -> None:
        self._collection = collection
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gpu-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._collection.get(refresh=True)
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
