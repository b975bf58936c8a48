"""The background job queue: Redis when configured (so the Redis exporter sees real traffic), else in
memory; each finished job is recorded in PostgreSQL when configured."""
from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
import uuid
from typing import Protocol

from opentelemetry import trace

from .faults import Faults
from .telemetry import Metrics

LOG = logging.getLogger("demo_app.jobs")
QUEUE_KEY = "demo:jobs"


class JobQueue(Protocol):
    def push(self, job: dict) -> None: ...
    def pop(self, timeout: float) -> dict | None: ...
    def depth(self) -> int: ...


class MemoryQueue:
    def __init__(self) -> None:
        self._queue: queue.Queue[dict] = queue.Queue()

    def push(self, job: dict) -> None:
        self._queue.put(job)

    def pop(self, timeout: float) -> dict | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def depth(self) -> int:
        return self._queue.qsize()


class RedisQueue:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def push(self, job: dict) -> None:
        self._redis.lpush(QUEUE_KEY, json.dumps(job))

    def pop(self, timeout: float) -> dict | None:
        item = self._redis.brpop([QUEUE_KEY], timeout=max(1, int(timeout)))
        return json.loads(item[1]) if item else None

    def depth(self) -> int:
        return int(self._redis.llen(QUEUE_KEY))


class ResultStore:
    """Finished jobs in PostgreSQL: gives the postgres exporter real reads and writes to show."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self._dsn = dsn
        self._psycopg = psycopg
        self._lock = threading.Lock()
        self._conn = None

    def _connection(self):
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            self._conn.execute("CREATE TABLE IF NOT EXISTS demo_jobs (id text PRIMARY KEY, status text NOT NULL, "
                               "duration_seconds double precision NOT NULL, finished_at timestamptz NOT NULL DEFAULT now())")
        return self._conn

    def record(self, job_id: str, status: str, duration: float) -> None:
        with self._lock:
            try:
                self._connection().execute("INSERT INTO demo_jobs (id, status, duration_seconds) VALUES (%s, %s, %s)",
                                           (job_id, status, duration))
            except self._psycopg.Error:
                self._conn = None
                raise


def new_job() -> dict:
    return {"id": uuid.uuid4().hex, "enqueued_at": time.time()}


class Worker(threading.Thread):
    def __init__(self, jobs: JobQueue, store: ResultStore | None, metrics: Metrics, faults: Faults,
                 tracer: trace.Tracer, stop: threading.Event) -> None:
        super().__init__(name="demo-worker", daemon=True)
        self.jobs, self.store, self.metrics, self.faults, self.tracer, self.stop = jobs, store, metrics, faults, tracer, stop
        self.rng = random.Random()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.metrics.queue_depth.set(self.jobs.depth())
                job = self.jobs.pop(timeout=1.0)
            except Exception:  # the queue's backend is down: say so, keep trying
                LOG.exception("job queue unavailable")
                self.stop.wait(2)
                continue
            if job is not None:
                self.process(job)

    def process(self, job: dict) -> None:
        start = time.perf_counter()
        with self.tracer.start_as_current_span("job.process", attributes={"job.id": job["id"]}):
            time.sleep(self.rng.uniform(0.01, 0.08))
            failed = self.rng.random() < self.faults.get().job_failure_ratio
            status = "failed" if failed else "succeeded"
            duration = time.perf_counter() - start
            try:
                if self.store is not None:
                    self.store.record(job["id"], status, duration)
            except Exception:
                LOG.exception("could not record job", extra={"job.id": job["id"]})
                status = "failed"
            self.metrics.jobs.labels(status).inc()
            self.metrics.job_duration.observe(duration)
            (LOG.warning if failed else LOG.info)("job %s", status, extra={"job.id": job["id"]})
