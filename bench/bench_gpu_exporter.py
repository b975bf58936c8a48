#!/usr/bin/env python3
"""Exporter-side cost of a scrape against the simulated NVML (no GPU needed).

For 1, 8 and 16 simulated GPUs with 100 GPU processes: wall-clock latency (p50/p99) and CPU time
(all threads) of one scrape as Prometheus 3 makes it (Accept: OpenMetrics, Accept-Encoding: gzip)
= one fresh collection + the /metrics body, then RSS after 100 and after 10,000 scrapes. The
"prometheus_client" column is the same scrape through the library's own make_wsgi_app, which
answers OpenMetrics gzipped at level 9: what the exporter's fast exposition replaced. Real NVML
calls cost more than the simulated ones (scripts/gpu_check.py measures them on a real GPU); this
measures the exporter's own Python work.

    .venv/bin/python bench/bench_gpu_exporter.py [--scrapes N] [--rounds N] [--rss-scrapes N]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from gpu_exporter.exporter import Config, Exporter
from gpu_exporter.exposition import metrics_app
from gpu_exporter.simulated import SimulatedNvml
from prometheus_client import CollectorRegistry, make_wsgi_app


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


PROMETHEUS_3_REQUEST = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": "",
                        "HTTP_ACCEPT_ENCODING": "gzip",
                        "HTTP_ACCEPT": "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,"
                                       "application/openmetrics-text;version=0.0.1;q=0.4,"
                                       "text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2"}
App = Callable[[dict, Callable[..., object]], Iterable[bytes]]


def setup(gpus: int, processes: int, library: bool = False) -> tuple[Exporter, App]:
    sim = SimulatedNvml(gpus, processes=processes)
    exporter = Exporter(sim, backend="simulated", config=Config(max_age=3600, max_processes=1000),
                        resolve=sim.process_info)
    registry = CollectorRegistry(auto_describe=False)
    exporter.register(registry)
    gc.freeze()          # as the exporter's main() does after startup
    return exporter, make_wsgi_app(registry) if library else metrics_app(registry)


def scrape(exporter: Exporter, app: App) -> int:
    exporter.collection.get(refresh=True)
    return len(b"".join(app(dict(PROMETHEUS_3_REQUEST), lambda status, headers: None)))


def measure(gpus: int, processes: int, n: int, library: bool = False) -> dict[str, float]:
    exporter, registry = setup(gpus, processes, library)
    for _ in range(20):
        scrape(exporter, registry)
    walls, cpus = [], []
    size = 0
    for _ in range(n):
        c0, w0 = time.process_time(), time.perf_counter()
        size = scrape(exporter, registry)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    exporter.close()
    walls.sort()
    return {"p50": statistics.median(walls) * 1e3, "p99": walls[int(0.99 * (n - 1))] * 1e3,
            "cpu": statistics.fmean(cpus) * 1e3, "bytes": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scrapes", type=int, default=1000)
    parser.add_argument("--rss-scrapes", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds per row; the row shows the median round and the range of p99 per GPU "
                             "(a shared machine's noise moves single rounds by ±20%%)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, simulated NVML, {args.processes} GPU processes, {args.rounds} rounds "
          f"of {args.scrapes} scrapes per row (one fresh collection + /metrics body each); median round")
    print(f"{'GPUs':>4} {'p50 ms':>8} {'p99 ms':>8} {'p99 ms/GPU':>10} {'(range)':>13} {'CPU ms/scrape':>13} "
          f"{'gzip bytes':>10} {'prometheus_client p99 ms/GPU':>28}")

    def median_round(gpus: int, library: bool) -> tuple[dict[str, float], float, float]:
        rounds = sorted((measure(gpus, args.processes, args.scrapes, library) for _ in range(args.rounds)),
                        key=lambda r: r["p99"])
        return rounds[len(rounds) // 2], rounds[0]["p99"] / gpus, rounds[-1]["p99"] / gpus

    for gpus in (1, 8, 16):
        r, low, high = median_round(gpus, False)
        lib, lib_low, lib_high = median_round(gpus, True)
        print(f"{gpus:>4} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['p99'] / gpus:>10.3f} {f'{low:.2f}-{high:.2f}':>13} "
              f"{r['cpu']:>13.2f} {r['bytes']:>10} {lib['p99'] / gpus:>10.3f} ({lib_low:.2f}-{lib_high:.2f})")
    exporter, registry = setup(8, args.processes)
    for _ in range(100):
        scrape(exporter, registry)
    gc.collect()
    after_100 = rss_kib()
    for _ in range(args.rss_scrapes - 100):
        scrape(exporter, registry)
    gc.collect()
    after_n = rss_kib()
    exporter.close()
    print(f"RSS (8 GPUs): after 100 scrapes {after_100} KiB, after {args.rss_scrapes} scrapes {after_n} KiB "
          f"(growth {after_n - after_100:+d} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
