#!/usr/bin/env python3
"""Compare the GPU exporter's NVML collection with nvidia-smi on a machine with NVIDIA GPUs.

Prints one line per GPU and field (exporter value, nvidia-smi value, tolerance, OK/DIFF) and the
measured NVML collection time per GPU. Exit 0: all within tolerance; 1: differences; 2: no GPU.

    .venv/bin/python scripts/gpu_check.py [--runs N]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "exporters"))

import pynvml  # noqa: E402

from gpu_exporter.sampler import Sampler, SamplerOptions  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="collections to time (default %(default)s)")
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
    print(f"driver {snap.driver_version}, CUDA {snap.cuda_version}, {n} GPU(s)")
    print(f"NVML collection (device + processes): median {statistics.median(times) * 1e3:.2f} ms, "
          f"max {max(times) * 1e3:.2f} ms, per GPU {statistics.median(times) * 1e3 / n:.2f} ms "
          f"over {args.runs} runs")
    if snap.errors:
        print(f"exporter errors: {snap.errors}")
    ok = True
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
    print("all within tolerance" if ok else "DIFFERENCES found")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
