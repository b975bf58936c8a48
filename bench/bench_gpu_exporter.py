#!/usr/bin/env python3
"""Exporter-side cost of a scrape against the simulated NVML (no GPU needed).

For 1, 8 and 16 simulated GPUs with 100 GPU processes: wall-clock latency (p50/p99) and CPU time
(all threads) of one scrape = one fresh collection + text exposition, then RSS after 100 and after
10,000 scrapes. Real NVML calls cost more than the simulated ones (see scripts/gpu_check.py for the
measured NVML time per GPU); this measures the exporter's own Python work.

    .venv/bin/python bench/bench_gpu_exporter.py [--scrapes N] [--rss-scrapes N]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "exporters"))

from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from gpu_exporter.exporter import Config, Exporter  # noqa: E402
from gpu_exporter.simulated import SimulatedNvml  # noqa: E402


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def setup(gpus: int, processes: int) -> tuple[Exporter, CollectorRegistry]:
    sim = SimulatedNvml(gpus, processes=processes)
    exporter = Exporter(sim, backend="simulated", config=Config(max_age=3600, max_processes=1000),
                        resolve=sim.process_info)
    registry = CollectorRegistry(auto_describe=False)
    exporter.register(registry)
    gc.freeze()          # as the exporter's main() does after startup
    return exporter, registry


def scrape(exporter: Exporter, registry: CollectorRegistry) -> int:
    exporter.collection.get(refresh=True)
    return len(generate_latest(registry))


def measure(gpus: int, processes: int, n: int) -> dict[str, float]:
    exporter, registry = setup(gpus, processes)
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
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, simulated NVML, {args.processes} GPU processes, "
          f"{args.scrapes} scrapes per row (one fresh collection + exposition each)")
    print(f"{'GPUs':>4} {'p50 ms':>8} {'p99 ms':>8} {'p99 ms/GPU':>10} {'CPU ms/scrape':>13} {'bytes':>8}")
    for gpus in (1, 8, 16):
        r = measure(gpus, args.processes, args.scrapes)
        print(f"{gpus:>4} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['p99'] / gpus:>10.3f} {r['cpu']:>13.2f} {r['bytes']:>8}")
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
