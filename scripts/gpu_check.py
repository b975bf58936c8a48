#!/usr/bin/env python3
"""Compare the GPU exporter's NVML collection with nvidia-smi on a machine with NVIDIA GPUs.

Prints one line per GPU and field (exporter value, nvidia-smi value, tolerance, OK/DIFF), the GPU
memory of each process name against nvidia-smi's compute apps, the measured NVML collection time per
GPU and the cost of a whole scrape (collection + exposition). Exit 0: all within tolerance;
1: differences; 2: no GPU.

    .venv/bin/python scripts/gpu_check.py [--runs N] [--exposition FILE] [--xid] [--pcie-throughput]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


import pynvml
from prometheus_client import CollectorRegistry, generate_latest

from gpu_exporter.exporter import Config, Exporter
from gpu_exporter.exposition import metrics_app
from gpu_exporter.model import Snapshot
from gpu_exporter.procinfo import ProcResolver
from gpu_exporter.sampler import Sampler, SamplerOptions

QUERY = "index,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw"
MIB = 1024 ** 2


def smi() -> dict[str, dict[str, str]]:
    out = subprocess.run(["nvidia-smi", f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    rows = {}
    for line in out.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        rows[cells[0]] = dict(zip(QUERY.split(","), cells))
    return rows


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:          # "[N/A]", "[Not Supported]"
        return None


def compare(name: str, ours: float | None, theirs: float | None, tol: float) -> bool:
    if ours is None or theirs is None:
        ok = ours is None and theirs is None
        print(f"  {name:<16} exporter={ours!s:>12} nvidia-smi={theirs!s:>12}  {'OK (both absent)' if ok else 'ABSENT on one side'}")
        return ok
    ok = abs(ours - theirs) <= tol
    print(f"  {name:<16} exporter={ours:>12.1f} nvidia-smi={theirs:>12.1f}  tol ±{tol:<8.1f} {'OK' if ok else 'DIFF'}")
    return ok


def smi_processes() -> dict[str, float]:
    """nvidia-smi's compute apps: MiB of GPU memory summed by process name (/proc/PID/comm, as the exporter names them)."""
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    resolve = ProcResolver()
    by_name: dict[str, float] = {}
    for line in out.strip().splitlines():
        pid, used = (c.strip() for c in line.split(","))
        name = resolve(int(pid))[0]
        by_name[name] = by_name.get(name, 0.0) + (number(used) or 0.0)
    return by_name


def compare_processes(snap: Snapshot) -> bool:
    ours: dict[str, float] = {}
    for p in snap.processes:
        ours[p.process] = ours.get(p.process, 0.0) + (p.memory_bytes or 0.0) / MIB
    theirs = smi_processes()
    print(f"processes: exporter {sorted(ours)}, nvidia-smi {sorted(theirs)}")
    ok = True
    for name in sorted(set(ours) | set(theirs)):
        ok &= compare(f"{name[:12]} MiB", ours.get(name), theirs.get(name), 64.0)
    return ok


def time_scrapes(runs: int, config: Config) -> tuple[list[float], bytes]:
    """Wall time of whole scrapes as Prometheus causes them: a fresh collection and the gzipped
    /metrics body the exporter's server answers."""
    exporter = Exporter(pynvml, config=config)
    registry = CollectorRegistry(auto_describe=False)
    exporter.register(registry)
    exporter.start()
    app = metrics_app(registry)
    request = {"HTTP_ACCEPT_ENCODING": "gzip"}
    times = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        exporter.collection.get(refresh=True)
        b"".join(app(dict(request), lambda status, headers: None))
        times.append(time.perf_counter() - t0)
    body = generate_latest(registry)
    exporter.close()
    return times[1:], body


class TimedNvml:
    """pynvml with every nvml* call timed, to find the slow NVML calls on this GPU and driver."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def __getattr__(self, name: str) -> object:
        attr = getattr(pynvml, name)
        if not (callable(attr) and name.startswith("nvml")):
            return attr

        def timed(*args: object, **kwargs: object) -> object:
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.times.setdefault(name, []).append(time.perf_counter() - t0)
        return timed


def per_call(runs: int) -> None:
    nvml = TimedNvml()
    sampler = Sampler(nvml, SamplerOptions(processes=True))
    for _ in range(runs):
        sampler.sample()
    sampler.close()
    print("NVML calls, median per call over the sampled collections (slowest first):")
    for name, values in sorted(nvml.times.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {name:<44} {statistics.median(values) * 1e6:>9.1f} us  x{len(values)}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="collections and scrapes to time (default %(default)s)")
    parser.add_argument("--exposition", type=Path, metavar="FILE", help="also write one real /metrics body to FILE")
    parser.add_argument("--xid", action="store_true", help="scrape with the Xid event thread on")
    parser.add_argument("--pcie-throughput", action="store_true", help="scrape with PCIe throughput on")
    parser.add_argument("--per-call", action="store_true", help="also time each NVML call the exporter makes")
    args = parser.parse_args()
    if shutil.which("nvidia-smi") is None:
        print("no nvidia-smi on PATH: not a machine with an NVIDIA driver")
        return 2
    sampler = Sampler(pynvml, SamplerOptions(processes=True))
    snap = sampler.sample()
    if not snap.up or not snap.gpus:
        print(f"NVML not usable: up={snap.up} reason={snap.reason!r} devices={snap.devices}")
        return 2
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        snap = sampler.sample()
        times.append(time.perf_counter() - t0)
    reference = smi()
    n = len(snap.gpus)
    ok = compare_processes(snap)
    print(f"driver {snap.driver_version}, CUDA {snap.cuda_version}, {n} GPU(s)")
    print(f"NVML collection (device + processes): median {statistics.median(times) * 1e3:.2f} ms, "
          f"max {max(times) * 1e3:.2f} ms, per GPU {statistics.median(times) * 1e3 / n:.2f} ms "
          f"over {args.runs} runs")
    if snap.errors:
        print(f"exporter errors: {snap.errors}")
    for gpu in snap.gpus:
        v = gpu.values
        row = reference.get(str(gpu.info.index))
        print(f"GPU {gpu.info.index} {gpu.info.uuid} ({gpu.info.model})")
        if row is None:
            print("  missing from nvidia-smi")
            ok = False
            continue
        if row["uuid"] != gpu.info.uuid:
            print(f"  uuid DIFF: exporter {gpu.info.uuid}, nvidia-smi {row['uuid']}")
            ok = False
        util = v.get("gpu_utilization_ratio")
        ok &= compare("utilization %", util * 100 if util is not None else None, number(row["utilization.gpu"]), 15)
        used = v.get("gpu_memory_used_bytes")
        total = v.get("gpu_memory_total_bytes")
        smi_total = number(row["memory.total"])
        ok &= compare("memory.used MiB", used / MIB if used is not None else None, number(row["memory.used"]),
                      max(64.0, 0.02 * (smi_total or 0)))
        # nvidia-smi's total may or may not include the driver-reserved part, depending on the driver.
        reserved = v.get("gpu_memory_reserved_bytes", 0.0)
        ok &= compare("memory.total MiB", total / MIB if total is not None else None, smi_total,
                      max(2.0, reserved / MIB + 2))
        ok &= compare("temperature C", v.get("gpu_temperature_celsius"), number(row["temperature.gpu"]), 3)
        power = v.get("gpu_power_usage_watts")
        smi_power = number(row["power.draw"])
        ok &= compare("power W", power, smi_power, max(10.0, 0.1 * (smi_power or 0)))
    sampler.close()
    config = Config(processes=True, xid=args.xid, pcie_throughput=args.pcie_throughput)
    scrapes, body = time_scrapes(args.runs, config)
    samples = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    print(f"whole scrape (collection + gzipped /metrics body, xid={args.xid}, pcie_throughput={args.pcie_throughput}): "
          f"p50 {statistics.median(scrapes) * 1e3:.2f} ms, p99 {percentile(scrapes, 0.99) * 1e3:.2f} ms, "
          f"per GPU p99 {percentile(scrapes, 0.99) * 1e3 / n:.2f} ms; {samples} samples, {len(body)} bytes")
    if args.per_call:
        per_call(args.runs)
    if args.exposition:
        args.exposition.write_bytes(body)
        print(f"exposition written to {args.exposition}")
    print("all within tolerance" if ok else "DIFFERENCES found")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
