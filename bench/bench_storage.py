#!/usr/bin/env python3
"""Storage and remote-write cost at 100k and 1M active series, side by side in one run, on the
real Prometheus 3.5.3 and VictoriaMetrics 1.145.0 in .tools/bin.

For each --series size, on one synthetic series set (see SeriesSet: pre-rendered text exposition
split over targets of --per-target series, values changing at every scrape interval):

  A  storage    Prometheus (server) and VictoriaMetrics (single, -promscrape.config) scrape the
                same targets at --interval: the same bytes at the same time, each parsed by the
                store's own scraper, as a Prometheus server normally ingests (the case of the
                sizing guides); remote write is left to B, where it is the topology. After the series exist and one more round, a window of
                --window scrape rounds gives: RSS (VmRSS, max over the window) and per series
                ((RSS - the process's RSS before any series) / series), CPU seconds per million
                samples (utime + stime from /proc/PID/stat over the window, divided by the samples
                the store itself counted), CPU spent creating the series (start to the window), and
                disk growth per sample over the window.
  B  remote     Both stop scraping (config reloaded without scrape jobs) and a Prometheus --agent
     write      scrapes the same targets, with the same labels, and remote-writes to Prometheus
                (--web.enable-remote-write-receiver) and to VictoriaMetrics (/api/v1/write), with
                the shipped agent's queue_config (src/obsstack/agent.py). Over --window rounds:
                samples/s sent per queue and the lag, prometheus_remote_storage_highest_timestamp_in_seconds
                - prometheus_remote_storage_queue_highest_sent_timestamp_seconds (what the shipped
                PrometheusRemoteWriteBehind alert reads), polled every second; the receivers' CPU
                per million samples received; the agent's RSS and CPU.
  C  backlog    Both receivers are stopped with SIGSTOP for --outage seconds (the agent's link is
     drain      down: connections hang, as across a cut network), then SIGCONT. Time from the
                restart until each queue's lag is back under 2 scrape intervals, the samples it sent
                meanwhile, the most shards it used, and the samples it failed (lost).

Run it niced on a shared machine; it prints the load average it saw. About 10 minutes for both
sizes at the defaults (15 s interval, 4-round windows, 60 s outage) on 2 cores; the drain takes
longer when other work holds the CPU.

    nice -n 10 .venv/bin/python bench/bench_storage.py                      # 100k and 1M series
    nice -n 10 .venv/bin/python bench/bench_storage.py --series 100000 --json /tmp/storage.json
    .venv/bin/python bench/bench_storage.py --series 20000 --interval 5 --window 2 --outage 15   # a quick look
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

from obsstack import paths
from obsstack.agent import agent_config
from obsstack.net import free_port

ROOT = paths.project_dir()
TOOLS = ROOT / ".tools" / "bin"
JOB = "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


# ------------------------------------------------------------------ the synthetic series set
CODES = ("200", "201", "204", "301", "304", "400", "401", "404", "429", "500")
NAMESPACES = 8


@dataclass(frozen=True)
class SeriesSet:
    """SERIES series split into targets of PER_TARGET (the last may be smaller). In each target,
    METRICS families (`bench_metric_00` ...), each with rows of {namespace, pod, code}: pods are
    named after their target, so the whole set has series / (METRICS x len(CODES)) pods. With
    `job` and `instance` added at the scrape, a series has 6 labels, like a typical
    container-level series. Even families are counters (integers), odd ones gauges (2 decimals).
    VARIANTS bodies per target differ in every value: the feed serves the next one each scrape
    interval, so no series is constant."""
    series: int
    per_target: int = 50_000
    metrics: int = 50
    variants: int = 4

    @property
    def targets(self) -> int:
        return math.ceil(self.series / self.per_target)

    def target_size(self, target: int) -> int:
        return min(self.per_target, self.series - target * self.per_target)

    def rows(self, target: int) -> list[int]:
        """Rows per family in TARGET: its series dealt out over the families."""
        size = self.target_size(target)
        return [size // self.metrics + (1 if m < size % self.metrics else 0) for m in range(self.metrics)]

    @staticmethod
    def value(metric: int, row: int, variant: int) -> str:
        if metric % 2 == 0:  # a counter: a large integer stepping by 1..97 each variant
            return str((row * 7 + metric * 131) * 100 + variant * (row % 97 + 1))
        return f"{((row * 31 + metric * 17 + variant * 37) % 10_000) / 100:.2f}"  # a gauge

    def bodies(self, target: int) -> list[bytes]:
        """The exposition of TARGET, one body per variant (text format 0.0.4)."""
        prefixes: list[tuple[int, int, str]] = []
        for metric, count in enumerate(self.rows(target)):
            for row in range(count):
                pod = row // len(CODES)
                prefixes.append((metric, row, f'bench_metric_{metric:02d}{{namespace="ns-{pod % NAMESPACES}",'
                                              f'pod="app-{target:03d}-{pod:05d}",code="{CODES[row % len(CODES)]}"}} '))
        out = []
        for variant in range(self.variants):
            parts: list[str] = []
            last = -1
            for metric, row, prefix in prefixes:
                if metric != last:
                    kind = "counter" if metric % 2 == 0 else "gauge"
                    parts.append(f"# TYPE bench_metric_{metric:02d} {kind}\n")
                    last = metric
                parts.append(prefix + self.value(metric, row, variant) + "\n")
            out.append("".join(parts).encode())
        return out


# ------------------------------------------------------------------ the feed: pre-rendered targets
def _feed(series_set: SeriesSet, ports: list[int], interval: float, ready: Any) -> None:
    """Child process: render every body, then serve target N on ports[N]; the body served is the
    variant of the current scrape interval, the same for every scraper at the same time."""
    bodies = [series_set.bodies(target) for target in range(series_set.targets)]

    def handler_for(variants: list[bytes]) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = variants[int(time.time() // interval) % len(variants)]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass
        return Handler

    servers = []
    for port, variants in zip(ports, bodies):
        server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(variants))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    ready.set()
    threading.Event().wait()  # until terminated


# ------------------------------------------------------------------ processes and /proc
def until(check: Callable[[], T | None], what: str, deadline_s: float, every: float = 0.5) -> T:
    """Poll CHECK until it returns something truthy; fail with WHAT after DEADLINE_S seconds."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            result = check()
        except requests.RequestException:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (within {deadline_s:.0f} s)")
        time.sleep(every)


def dir_bytes(root: Path) -> int:
    size = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                size += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:  # a part merged away meanwhile
                pass
    return size


@dataclass
class Proc:
    name: str
    args: list[str]
    data: Path
    port: int
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(self.args, stdout=self.log.open("a"), stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.popen
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.popen.returncode}); see {self.log}:\n"
                               + self.log.read_text()[-2000:])
        return self.popen.pid

    def cpu_s(self) -> float:
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # fields 3.. of proc(5); comm may hold spaces
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def memory_kib(self) -> dict[str, int]:
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0])
        return values

    def rss(self) -> int:
        return self.memory_kib()["VmRSS"] * 1024

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        return parse_metrics(requests.get(self.url("/metrics"), timeout=10).text)

    def signal(self, number: int) -> None:
        os.kill(self.pid, number)

    def stop(self) -> None:
        if not self.popen or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGCONT)  # in case it is stopped
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The text exposition as name -> [(labels, value)] (enough for the servers' own /metrics)."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        labels: dict[str, str] = {}
        name = head
        if "{" in head:
            name, _, rest = head.partition("{")
            for pair in rest.rstrip("}").split('",'):
                if "=" in pair:
                    key, _, val = pair.partition("=")
                    labels[key.strip().strip(",")] = val.strip().strip('"')
        try:
            out.setdefault(name, []).append((labels, float(value)))
        except ValueError:
            continue
    return out


def total(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: str) -> float:
    return sum(v for labels, v in metrics.get(name, []) if all(labels.get(k) == x for k, x in match.items()))


# ------------------------------------------------------------------ the stores
class Store:
    """A store under test and how it counts what it ingested."""
    samples_metric = ""
    series_metric = ""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc

    def samples(self) -> float:
        return total(self.proc.metrics(), self.samples_metric)

    def series(self) -> float:
        return total(self.proc.metrics(), self.series_metric)

    def disk(self) -> int:
        return dir_bytes(self.proc.data)

    def stored_bytes_per_sample(self) -> float | None:
        """The store's own figure for its sample storage, where it reports one."""
        return None

    def ready(self) -> bool:
        raise NotImplementedError

    def reload(self) -> float:
        """SIGHUP; returns the count of config reloads before it, for reloaded()."""
        raise NotImplementedError

    def reloaded(self, before: float) -> bool:
        raise NotImplementedError


class PrometheusStore(Store):
    samples_metric = "prometheus_tsdb_head_samples_appended_total"
    series_metric = "prometheus_tsdb_head_series"

    def ready(self) -> bool:
        return requests.get(self.proc.url("/-/ready"), timeout=5).status_code == 200

    def reload(self) -> float:
        before = time.time()
        self.proc.signal(signal.SIGHUP)
        return before

    def reloaded(self, before: float) -> bool:
        metrics = self.proc.metrics()
        return (total(metrics, "prometheus_config_last_reload_success_timestamp_seconds") >= math.floor(before)
                and total(metrics, "prometheus_config_last_reload_successful") == 1)


class VictoriaMetricsStore(Store):
    samples_metric = "vm_rows_added_to_storage_total"
    series_metric = "vm_new_timeseries_created_total"

    def ready(self) -> bool:
        return requests.get(self.proc.url("/health"), timeout=5).status_code == 200

    def stored_bytes_per_sample(self) -> float | None:
        # VictoriaMetrics' own bytes per stored sample: data size / rows of the sample parts, not
        # the index (its DiskRunsOutOfSpaceIn3Days alert, deployment/docker/rules/alerts-single-node.yml).
        metrics = self.proc.metrics()
        size = sum(v for labels, v in metrics.get("vm_data_size_bytes", []) if labels.get("type", "").startswith("storage/"))
        rows = sum(v for labels, v in metrics.get("vm_rows", []) if labels.get("type", "").startswith("storage/"))
        return round(size / rows, 2) if rows else None

    def disk(self) -> int:
        # Recent samples sit in memory for a few seconds: flush them, as the figure is disk growth.
        requests.get(self.proc.url("/internal/force_flush"), timeout=30)
        return dir_bytes(self.proc.data)

    def reload(self) -> float:
        before = total(self.proc.metrics(), "vm_promscrape_config_reloads_total")
        self.proc.signal(signal.SIGHUP)
        return before

    def reloaded(self, before: float) -> bool:
        metrics = self.proc.metrics()
        return total(metrics, "vm_promscrape_config_reloads_total") > before and \
            total(metrics, "vm_promscrape_config_last_reload_successful") == 1


# ------------------------------------------------------------------ measuring
@dataclass
class Snapshot:
    at: float
    cpu: dict[str, float]
    samples: dict[str, float]
    disk: dict[str, int] = field(default_factory=dict)


def snapshot(stores: dict[str, Store], procs: dict[str, Proc], with_disk: bool = False) -> Snapshot:
    return Snapshot(time.monotonic(), {name: p.cpu_s() for name, p in procs.items()},
                    {name: s.samples() for name, s in stores.items()},
                    {name: s.disk() for name, s in stores.items()} if with_disk else {})


def queue_state(agent: Proc) -> dict[str, dict[str, float]]:
    """Per remote-write queue: lag (s), samples sent, failed, retried, shards."""
    metrics = agent.metrics()
    highest = total(metrics, "prometheus_remote_storage_highest_timestamp_in_seconds")
    out = {}
    for labels, sent_ts in metrics.get("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", []):
        name = labels["remote_name"]
        out[name] = {
            "lag": highest - sent_ts if sent_ts > 0 else math.inf,
            "sent": total(metrics, "prometheus_remote_storage_samples_total", remote_name=name),
            "failed": total(metrics, "prometheus_remote_storage_samples_failed_total", remote_name=name),
            "retried": total(metrics, "prometheus_remote_storage_samples_retried_total", remote_name=name),
            "shards": total(metrics, "prometheus_remote_storage_shards", remote_name=name),
        }
    return out


class LoadWatch:
    """The 1-minute load average, sampled whenever the run polls anything."""

    def __init__(self) -> None:
        self.before = os.getloadavg()
        self.samples: list[float] = []

    def note(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, Any]:
        return {"before": [round(x, 2) for x in self.before], "max_1m": round(max(self.samples, default=0), 2),
                "median_1m": round(statistics.median(self.samples), 2) if self.samples else None,
                "after": [round(x, 2) for x in os.getloadavg()]}


def scrape_config(ports: list[int], interval: float) -> dict[str, Any]:
    return {"global": {"scrape_interval": f"{interval:g}s", "scrape_timeout": f"{min(interval, 10):g}s"},
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in ports]}]}]}


@dataclass
class World:
    """One size's processes: the feed, the two stores and (from B on) the agent."""
    series: int
    interval: float
    rounds: int
    work: Path
    ports: list[int]
    load: LoadWatch
    stores: dict[str, Store]
    agent: Proc | None = None

    @property
    def procs(self) -> dict[str, Proc]:
        return {name: store.proc for name, store in self.stores.items()}

    def watched(self) -> dict[str, Proc]:
        return {**self.procs, **({"agent": self.agent} if self.agent else {})}


def start_stores(series: int, args: argparse.Namespace, load: LoadWatch, work: Path) -> World:
    ports = [free_port() for _ in range(SeriesSet(series, per_target=args.per_target).targets)]
    config = work / "scrape.yml"
    config.write_text(yaml.safe_dump(scrape_config(ports, args.interval)))
    prom_port, vm_port = free_port(), free_port()
    prom = Proc("prometheus", [str(TOOLS / "prometheus"), f"--config.file={config}", f"--storage.tsdb.path={work / 'prom'}",
                               f"--web.listen-address=127.0.0.1:{prom_port}", "--web.enable-remote-write-receiver"],
                work / "prom", prom_port, work / "prometheus.log")
    # As the HA overlay runs it (docker-compose.ha.yml): dedup at the scrape interval.
    vm = Proc("victoriametrics", [str(TOOLS / "victoria-metrics"), f"-storageDataPath={work / 'vm'}",
                                  f"-httpListenAddr=127.0.0.1:{vm_port}", f"-promscrape.config={config}",
                                  f"-dedup.minScrapeInterval={args.interval:g}s", "-retentionPeriod=1d"],
              work / "vm", vm_port, work / "victoriametrics.log")
    world = World(series, args.interval, args.window, work, ports, load,
                  {"prometheus": PrometheusStore(prom), "victoriametrics": VictoriaMetricsStore(vm)})
    for proc in world.procs.values():
        proc.start()
    for name, store in world.stores.items():
        until(store.ready, f"{name} ready", 60)
    return world


def storage_phase(world: World, baseline: dict[str, int], cpu_at_feed: dict[str, float]) -> dict[str, Any]:
    """A: both stores scrape the feed. The window opens once every series exists and a second
    round is in, and closes after --window more rounds, counted by each store."""
    series, stores, procs = world.series, world.stores, world.procs

    def settled() -> bool:
        world.load.note()
        return all(s.series() >= series and s.samples() >= 2 * series for s in stores.values())
    until(settled, "both stores holding every series for a second round", world.interval * 6 + series / 5_000)
    start = snapshot(stores, procs, with_disk=True)
    rss: dict[str, list[int]] = {name: [] for name in procs}

    def window_closed() -> bool:
        world.load.note()
        for name, proc in procs.items():
            rss[name].append(proc.rss())
        return all(s.samples() >= start.samples[n] + world.rounds * series for n, s in stores.items())
    until(window_closed, f"{world.rounds} scrape rounds", world.interval * (world.rounds + 4))
    end = snapshot(stores, procs, with_disk=True)
    out = {}
    for name in procs:
        samples = end.samples[name] - start.samples[name]
        out[name] = {
            "rss_idle_bytes": baseline[name], "rss_max_bytes": max(rss[name]), "rss_last_bytes": rss[name][-1],
            "bytes_per_series": round((max(rss[name]) - baseline[name]) / series),
            "cpu_s_per_million_samples": round((end.cpu[name] - start.cpu[name]) / samples * 1e6, 2),
            "cpu_s_creating_series": round(start.cpu[name] - cpu_at_feed[name], 1),
            "disk_bytes_per_sample": round((end.disk[name] - start.disk[name]) / samples, 2),
            "stored_bytes_per_sample": stores[name].stored_bytes_per_sample(),
            "disk_bytes": end.disk[name], "samples_in_window": samples, "window_s": round(end.at - start.at, 1),
        }
    return out


def start_agent(world: World) -> None:
    """The stores stop scraping (config reloaded without jobs); an agent scrapes the same targets,
    so the same series arrive by remote write, with the shipped agent's queue_config."""
    config = world.work / "scrape.yml"
    config.write_text(yaml.safe_dump({"global": scrape_config(world.ports, world.interval)["global"], "scrape_configs": []}))
    for name, store in world.stores.items():
        before = store.reload()
        until(lambda: store.reloaded(before), f"{name} reloaded without scrape jobs", 30)
    shipped = agent_config("bench-agent", "http://unused", "/unused", {}, scrape_interval=f"{world.interval:g}s")
    queue_config = shipped["remote_write"][0]["queue_config"]
    agent_yml = world.work / "agent.yml"
    agent_yml.write_text(yaml.safe_dump({
        **scrape_config(world.ports, world.interval),
        "remote_write": [{"url": store.proc.url("/api/v1/write"), "name": name, "queue_config": queue_config}
                         for name, store in world.stores.items()]}))
    port = free_port()
    world.agent = Proc("agent", [str(TOOLS / "prometheus"), "--agent", f"--config.file={agent_yml}",
                                 f"--storage.agent.path={world.work / 'agent'}", f"--web.listen-address=127.0.0.1:{port}"],
                       world.work / "agent", port, world.work / "agent.log")
    world.agent.start()
    until(lambda: requests.get(world.agent.url("/-/ready"), timeout=5).status_code == 200, "agent ready", 60)


def remote_write_phase(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """B: once both queues send every series with a lag under 2 intervals, a window of --window
    rounds: samples/s sent, lag each second, the receivers' CPU per sample, the agent's cost."""
    agent, series, interval = world.agent, world.series, world.interval
    assert agent
    cpu_at_start, idle = agent.cpu_s(), agent.rss()

    def caught_up() -> bool:
        world.load.note()
        state = queue_state(agent)
        return len(state) == len(world.stores) and \
            all(q["sent"] >= 2 * series and q["lag"] < 2 * interval for q in state.values())
    until(caught_up, "the agent's queues sending every series with a lag under 2 intervals", interval * 8 + series / 10_000)
    first_rounds_cpu = agent.cpu_s() - cpu_at_start
    procs = world.watched()
    q0, start = queue_state(agent), snapshot(world.stores, procs)
    lags: dict[str, list[float]] = {name: [] for name in q0}
    rss: dict[str, list[int]] = {name: [] for name in procs}

    def window_closed() -> bool:
        world.load.note()
        for name, q in queue_state(agent).items():
            lags[name].append(q["lag"])
        for name, proc in procs.items():
            rss[name].append(proc.rss())
        return time.monotonic() - start.at >= world.rounds * interval
    until(window_closed, "remote-write window", world.rounds * interval + 30, every=1.0)
    q1, end = queue_state(agent), snapshot(world.stores, procs)
    elapsed = end.at - start.at
    remote = {}
    for name in q0:
        received = end.samples[name] - start.samples[name]
        remote[name] = {
            "samples_per_s_sent": round((q1[name]["sent"] - q0[name]["sent"]) / elapsed),
            "samples_per_s_scraped": round(series / interval),
            "lag_median_s": round(statistics.median(lags[name]), 2), "lag_max_s": round(max(lags[name]), 2),
            "receiver_cpu_s_per_million_samples": round((end.cpu[name] - start.cpu[name]) / received * 1e6, 2),
            "receiver_rss_max_bytes": max(rss[name]), "failed": q1[name]["failed"], "shards": q1[name]["shards"],
        }
    scraped = series * elapsed / interval
    agent_figures = {"rss_idle_bytes": idle, "rss_max_bytes": max(rss["agent"]),
                     "bytes_per_series": round((max(rss["agent"]) - idle) / series),
                     "cpu_s_first_rounds": round(first_rounds_cpu, 1),
                     "cpu_s_per_million_samples_scraped": round((end.cpu["agent"] - start.cpu["agent"]) / scraped * 1e6, 2),
                     "window_s": round(elapsed, 1)}
    return remote, agent_figures


def drain_phase(world: World, outage: float) -> tuple[dict[str, Any], int]:
    """C: both receivers SIGSTOPped for OUTAGE seconds, then SIGCONT; until each queue's lag is
    under 2 intervals again. Returns per queue figures and the agent's peak RSS meanwhile."""
    agent, interval = world.agent, world.interval
    assert agent
    names = list(queue_state(agent))
    for proc in world.procs.values():
        proc.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    peak_lag = {name: 0.0 for name in names}
    agent_rss: list[int] = []

    def outage_over() -> bool:
        world.load.note()
        for name, q in queue_state(agent).items():
            peak_lag[name] = max(peak_lag[name], q["lag"])
        agent_rss.append(agent.rss())
        return time.monotonic() - stopped >= outage
    until(outage_over, "the outage", outage + 30, every=1.0)
    at_restore = queue_state(agent)
    for proc in world.procs.values():
        proc.signal(signal.SIGCONT)
    restored = time.monotonic()
    drained: dict[str, float] = {}
    resumed: dict[str, float] = {}
    shards_max = {name: 0.0 for name in names}
    timeline: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in names}

    def caught_up() -> bool:
        world.load.note()
        now = time.monotonic()
        agent_rss.append(agent.rss())
        for name, q in queue_state(agent).items():
            peak_lag[name] = max(peak_lag[name], q["lag"])
            shards_max[name] = max(shards_max[name], q["shards"])
            timeline[name].append((now - restored, q["lag"], q["sent"], q["shards"]))
            if name not in resumed and q["sent"] > at_restore[name]["sent"]:
                resumed[name] = now
            if name not in drained and q["lag"] < 2 * interval:
                drained[name] = now
        return len(drained) == len(names)
    deadline = max(300.0, 5 * outage) + world.series / 10_000
    try:
        until(caught_up, "the backlog drained", deadline, every=0.5)
    except TimeoutError:
        pass  # reported as not drained within the deadline
    final = queue_state(agent)
    out = {}
    for name in names:
        done = drained.get(name)
        spent = (done or time.monotonic()) - restored
        sent = next((s for t, _, s, _ in timeline[name] if t >= spent), final[name]["sent"]) - at_restore[name]["sent"]
        out[name] = {
            "outage_s": outage, "lag_at_restore_s": round(at_restore[name]["lag"], 1), "lag_peak_s": round(peak_lag[name], 1),
            "drain_s": round(spent, 1) if done else None, "not_drained_within_s": None if done else round(deadline),
            # The first send after the restart: what the retry backoff held it.
            "resumed_after_s": round(resumed[name] - restored, 1) if name in resumed else None,
            "samples_sent_draining": sent,
            # Under 2 s the polling (every 0.5 s) makes a rate meaningless.
            "samples_per_s_draining": round(sent / spent) if spent >= 2 else None,
            "peak_samples_per_s_5s": round(peak_rate([(t, s) for t, _, s, _ in timeline[name]], 5.0)),
            "shards_max": shards_max[name], "failed": final[name]["failed"], "retried": final[name]["retried"],
            "timeline_s_lag_sent_shards": [[round(t, 1), round(lag, 1), s, sh] for t, lag, s, sh in timeline[name]],
        }
    return out, max(agent_rss)


def run_size(series: int, args: argparse.Namespace, load: LoadWatch, workdir: Path) -> dict[str, Any]:
    series_set = SeriesSet(series, per_target=args.per_target)
    result: dict[str, Any] = {"series": series, "targets": series_set.targets, "per_target": args.per_target}
    work = workdir / f"s{series}"
    work.mkdir()
    started = time.monotonic()
    world: World | None = None
    feed = None
    try:
        # The stores start first and scrape nothing yet (the feed is still rendering): their RSS
        # then is the baseline the per-series figure subtracts.
        world = start_stores(series, args, load, work)
        baseline = {name: p.rss() for name, p in world.procs.items()}
        ctx = multiprocessing.get_context("fork")
        ready = ctx.Event()
        feed = ctx.Process(target=_feed, args=(series_set, world.ports, args.interval, ready), daemon=True)
        render_start = time.monotonic()
        feed.start()
        if not ready.wait(timeout=600):
            raise TimeoutError("the feed never finished rendering")
        result["render_s"] = round(time.monotonic() - render_start, 1)
        result["exposition_bytes_per_series"] = round(len(series_set.bodies(0)[0]) / series_set.target_size(0), 1)
        log(f"{series:,} series: feed up ({series_set.targets} targets, rendered in {result['render_s']} s)")
        cpu_at_feed = {name: p.cpu_s() for name, p in world.procs.items()}

        result["storage"] = storage_phase(world, baseline, cpu_at_feed)
        log(f"{series:,} series: A done: " + ", ".join(f"{n} {s['bytes_per_series']} B/series, "
                                                       f"{s['cpu_s_per_million_samples']} CPU s/M samples"
                                                       for n, s in result["storage"].items()))
        start_agent(world)
        result["remote_write"], result["agent"] = remote_write_phase(world)
        log(f"{series:,} series: B done: " + ", ".join(f"{n} {r['samples_per_s_sent']:,}/s lag {r['lag_median_s']} s"
                                                       for n, r in result["remote_write"].items()))
        result["drain"], result["agent"]["rss_max_bytes_outage"] = drain_phase(world, args.outage)
        log(f"{series:,} series: C done: " + ", ".join(
            f"{n} {d['drain_s'] if d['drain_s'] is not None else '>' + str(d['not_drained_within_s'])} s"
            for n, d in result["drain"].items()))
    finally:
        result["elapsed_s"] = round(time.monotonic() - started, 1)
        if world:
            for proc in world.watched().values():
                proc.stop()
        if feed and feed.is_alive():
            feed.terminate()
            feed.join(timeout=10)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return result


def peak_rate(points: list[tuple[float, float]], span: float) -> float:
    """The highest rate over any SPAN seconds of (time, counter) points."""
    best, j = 0.0, 0
    for i, (t, value) in enumerate(points):
        while j < i and t - points[j][0] > span:
            j += 1
        if j < i and t - points[j][0] >= span / 2:
            best = max(best, (value - points[j][1]) / (t - points[j][0]))
    return best


# ------------------------------------------------------------------ report
def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def rate(value: float | None) -> str:
    return f"{value:,.0f}/s" if value else "—"


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = [f"Machine: {meta['cores']} cores, {meta['memory_gib']} GiB; load average before "
           f"{meta['load']['before']}, 1-minute max during the run {meta['load']['max_1m']} (median "
           f"{meta['load']['median_1m']}), after {meta['load']['after']}. Prometheus {meta['versions']['prometheus']}, "
           f"VictoriaMetrics {meta['versions']['victoria-metrics']}. Scrape interval {meta['interval']:g} s, "
           f"windows of {meta['window']} rounds, outage {meta['outage']:g} s; {meta['elapsed_s']:.0f} s in all.", ""]
    out += ["**A. Storage, both scraping the same targets** (per series = (RSS − RSS before any series) / series)", "",
            "| series | store | RSS idle | RSS steady (max) | per series | CPU s / 1M samples | CPU s creating the series | disk growth / sample |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if "storage" not in r:
            out.append(f"| {r['series']:,} | — | failed: {r.get('error', '?')} | | | | | |")
            continue
        for name, s in r["storage"].items():
            out.append(f"| {r['series']:,} | {name} | {mib(s['rss_idle_bytes'])} | {mib(s['rss_max_bytes'])} | "
                       f"**{s['bytes_per_series']:,} B** | {s['cpu_s_per_million_samples']} | {s['cpu_s_creating_series']} | "
                       f"{s['disk_bytes_per_sample']} B |")
    out += ["", "**B. Remote write from a Prometheus agent scraping the same targets** (lag: highest timestamp − "
            "highest sent, polled each second)", "",
            "| series | queue | scraped / s | sent / s | lag median / max | receiver CPU s / 1M samples | receiver RSS | agent RSS (per series) | agent CPU s / 1M samples |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        for name, q in r.get("remote_write", {}).items():
            a = r["agent"]
            out.append(f"| {r['series']:,} | {name} | {q['samples_per_s_scraped']:,} | {q['samples_per_s_sent']:,} | "
                       f"{q['lag_median_s']} / {q['lag_max_s']} s | {q['receiver_cpu_s_per_million_samples']} | "
                       f"{mib(q['receiver_rss_max_bytes'])} | {mib(a['rss_max_bytes'])} ({a['bytes_per_series']:,} B) | "
                       f"{a['cpu_s_per_million_samples_scraped']} |")
    out += ["", "**C. Backlog drain: both receivers stopped (SIGSTOP), then continued**", "",
            "| series | queue | outage | lag at restart | first send after | back under 2 intervals after | samples sent draining | mean / peak (5 s) rate | shards (max) | failed |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        for name, d in r.get("drain", {}).items():
            took = f"**{d['drain_s']} s**" if d["drain_s"] is not None else f"not within {d['not_drained_within_s']:.0f} s"
            resumed = f"{d['resumed_after_s']} s" if d["resumed_after_s"] is not None else "—"
            out.append(f"| {r['series']:,} | {name} | {d['outage_s']:g} s | {d['lag_at_restore_s']} s | {resumed} | {took} | "
                       f"{d['samples_sent_draining']:,.0f} | {rate(d['samples_per_s_draining'])} / {rate(d['peak_samples_per_s_5s'])} | "
                       f"{d['shards_max']:.0f} | {d['failed']:.0f} |")
    return "\n".join(out)


def versions() -> dict[str, str]:
    recorded = json.loads((ROOT / ".tools" / "versions.json").read_text())
    return {name: recorded.get(name, "?") for name in ("prometheus", "victoria-metrics")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, nargs="+", default=[100_000, 1_000_000], help="sizes to run, in order")
    parser.add_argument("--per-target", type=int, default=50_000, help="series per scrape target (default 50000)")
    parser.add_argument("--interval", type=float, default=15.0, help="scrape interval, seconds (default 15: the stack's)")
    parser.add_argument("--window", type=int, default=4, help="scrape rounds per measuring window (default 4)")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the receivers stay stopped (default 60)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs (their folder is printed)")
    args = parser.parse_args()
    for tool in ("prometheus", "victoria-metrics"):
        if not (TOOLS / tool).exists():
            parser.error(f"{TOOLS / tool} is missing: run `scripts/toolchain.py install` first")
    load = LoadWatch()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="obs-bench-storage-"))
    results = []
    try:
        for series in args.series:
            try:
                results.append(run_size(series, args, load, workdir))
            except (TimeoutError, RuntimeError, requests.RequestException) as error:
                log(f"{series:,} series failed: {error}")
                results.append({"series": series, "error": str(error)})
    finally:
        if args.keep:
            log(f"data and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    meta = {"cores": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "load": load.summary(), "versions": versions(), "interval": args.interval, "window": args.window,
            "outage": args.outage, "elapsed_s": time.monotonic() - started, "kernel": platform.release()}
    print(report(results, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
