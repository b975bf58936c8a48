#!/usr/bin/env python3
"""Alert delivery latency at the shipped intervals, on the native stack (real Prometheus,
Alertmanager, exporters, PostgreSQL, Redis): stop Redis, PostgreSQL and node_exporter at once and
time each alert from the fault to its notification at the webhook sink.

The floor of each is what the configuration makes it wait at best: the rule's `for` plus the
route's group_wait. Noticing the fault adds up to one scrape interval and one evaluation interval,
so the configuration's own bound is floor + scrape + evaluation. The ratio measured / floor shows
what the pipeline adds. Takes about 4.5 minutes a run.

    .venv/bin/python bench/alert_latency.py --runs 2
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

from obsstack import paths
from obsstack.durations import parse_duration
from obsstack.rules import alerts

ROOT = paths.project_dir()

FAULTS = {"redis": ("RedisDown", "redis"), "postgres": ("PostgresqlDown", "postgres"), "node_exporter": ("TargetDown", "node")}


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "obsstack", "native", *args, "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"native_stack.py {' '.join(args)} failed: {proc.stderr}")
    return proc


def floors() -> dict[str, tuple[float, float]]:
    """alert -> (floor, bound) in seconds, from the shipped configs."""
    prometheus = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())["global"]
    route = yaml.safe_load((ROOT / "alertmanager/alertmanager.yml").read_text())["route"]
    rules = {r.alert: r.spec for r in alerts(ROOT)}
    notice = parse_duration(prometheus["scrape_interval"]) + parse_duration(prometheus["evaluation_interval"])
    result = {}
    for alert, _ in FAULTS.values():
        floor = parse_duration(rules[alert].get("for", "0s")) + parse_duration(route["group_wait"])
        result[alert] = (floor, floor + notice)
    return result


def one_run() -> dict[str, float]:
    state = Path(tempfile.mkdtemp(prefix="obs-bench-"))
    state.chmod(0o755)
    try:
        endpoints = json.loads(cli(state, "up").stdout)
        sink = endpoints["components"]["webhook_sink"]["url"]
        time.sleep(30)  # a settled stack: every series has history
        injected = time.time()
        for component in FAULTS:
            cli(state, "stop", component)
        latency: dict[str, float] = {}
        deadline = time.monotonic() + 600
        while len(latency) < len(FAULTS) and time.monotonic() < deadline:
            for entry in requests.get(f"{sink}/notifications", timeout=5).json():
                for alert in entry["body"]["alerts"]:
                    for alertname, job in FAULTS.values():
                        labels = alert["labels"]
                        if labels.get("alertname") == alertname and labels.get("job") == job and \
                                alert["status"] == "firing" and entry["received_at"] >= injected:
                            latency.setdefault(alertname, entry["received_at"] - injected)
            time.sleep(0.5)
        return latency
    finally:
        subprocess.run([sys.executable, "-m", "obsstack", "native", "down", "--state-dir", str(state)],
                       capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    floor_of = floors()
    samples: dict[str, list[float]] = {alert: [] for alert in floor_of}
    for _ in range(args.runs):
        for alert, seconds in one_run().items():
            samples[alert].append(seconds)
    print("| Alert | floor (`for` + group_wait) | bound (+ scrape + evaluation) | measured (min / median / max) | median / floor |")
    print("| --- | --- | --- | --- | --- |")
    for alert, values in samples.items():
        floor, bound = floor_of[alert]
        if not values:
            print(f"| {alert} | {floor:.0f} s | {bound:.0f} s | not delivered within 600 s | — |")
            continue
        median = statistics.median(values)
        print(f"| {alert} | {floor:.0f} s | {bound:.0f} s | {min(values):.1f} / {median:.1f} / {max(values):.1f} s "
              f"({len(values)} runs) | {median / floor:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
