#!/usr/bin/env python3
"""Dashboard refresh cost over 7 days of data: the shipped panels (reading recording rules) against
the same panels written raw (every recording rule inlined), on the real Prometheus and promtool.

    .venv/bin/python bench/bench_dashboards.py capture     # once: the stack's own series -> bench/data/
    .venv/bin/python bench/bench_dashboards.py run [--copies N] [--repeat 3] [--keep DIR]

capture starts the native stack (`obsstack native`), lets it run and saves every series the
dashboards read, directly or through recording rules, with each counter's rate and each gauge's
value: bench/data/stack_series.json. run then
  1. writes 7 days of those series at the stack's 15 s interval as OpenMetrics, one file a day, and loads
     them with `promtool tsdb create-blocks-from openmetrics` (counters keep their rate with a
     daily swing, gauges swing around their value);
  2. starts Prometheus on that TSDB and backfills every recording rule with `promtool tsdb
     create-blocks-from rules`, one pass per level of rules reading rules;
  3. times each dashboard's refresh as a user waits for it: every panel query (range queries for
     graphs and heatmaps, instant queries for stats and tables, variables at All), the dashboard's
     variable queries and its alert annotation, run 6 at a time as Grafana's frontend and the
     browser do, at 1h, 24h and 7d, both forms alternating; it prints the median of --repeat
     refreshes and the raw / rules ratio, as Markdown.
Grafana's $__rate_interval is max(step + scrape interval, 4 x scrape interval) with the 15 s
interval here, and step is range / 1000 points (at least 15 s). --copies N stores every series N
times with instance suffixes -1..-N-1 besides the original, as N hosts, databases and app replicas.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from obsstack import paths
from obsstack.net import free_port
from obsstack.promql import metric_names, substitute_variables
from obsstack.rules import load_rules

ROOT = paths.project_dir()

TOOLS = ROOT / ".tools" / "bin"
SERIES_FILE = ROOT / "bench" / "data" / "stack_series.json"
INTERVAL = 15                       # seconds between backfilled samples: the stack's scrape interval
# Grafana's frontend sends a dashboard's queries at once; the browser then holds at most 6 open
# HTTP/1.1 connections to one host (Chromium's limit): a refresh runs 6 queries at a time.
CONCURRENT_QUERIES = 6
DAY = 86400
RANGES = {"1h": 3600, "24h": DAY, "7d": 7 * DAY}
MAX_POINTS = 1000
REF = re.compile(r'(?<![\w:"$])([a-zA-Z_]\w*:[\w:]*)(\{[^}]*\})?(\[[^\]]+\])?')


# ------------------------------------------------------------------ rules and dashboards
@dataclass(frozen=True)
class Record:
    expr: str
    labels: dict[str, str]


def load_records() -> dict[str, list[Record]]:
    records: dict[str, list[Record]] = {}
    for found in load_rules(ROOT):
        rule = found.spec
        if found.record:
            records.setdefault(found.record, []).append(
                Record(" ".join(found.expr.split()), {k: str(v) for k, v in rule.get("labels", {}).items()}))
    return records


def rate_interval(step: int) -> int:
    return max(step + INTERVAL, 4 * INTERVAL)


def substitute(expr: str, seconds: int, step: int) -> str:
    return substitute_variables(expr, {"__rate_interval": f"{rate_interval(step)}s", "__interval": f"{step}s",
                                       "__range": f"{seconds}s"})


def dashboards() -> list[tuple[str, list[tuple[str, str]]]]:
    """(uid, [(kind, expr)]) for each dashboard: its panels' Prometheus targets, its variables'
    queries (kind "variable": label_values(selector, label)) and its annotations (kind "annotation")."""
    found = []
    for path in sorted((ROOT / "grafana/dashboards").rglob("*.json")):
        dashboard = json.loads(path.read_text())
        queries = [(panel["type"], target["expr"]) for panel in dashboard["panels"]
                   if panel.get("datasource", {}).get("type") == "prometheus" for target in panel.get("targets", [])]
        queries += [("variable", v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query"]
        queries += [("annotation", a["expr"]) for a in dashboard.get("annotations", {}).get("list", []) if a.get("expr")]
        found.append((dashboard["uid"], queries))
    return found


def inline(expr: str, records: dict[str, list[Record]]) -> str:
    """The expression with every recording rule replaced by its own expression (recursively)."""
    def replace(match: re.Match[str]) -> str:
        name, matchers, window = match[1], match[2] or "", match[3]
        if name not in records:
            return match[0]
        wanted: dict[str, str] = {}
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', matchers):
            if op == "=~" and (value == ".*" or value.startswith("$")):
                continue                                   # a dashboard variable at All
            if op != "=":
                raise ValueError(f"cannot inline {match[0]!r}: only = matchers and variables at All")
            wanted[label] = value
        parts = []
        for record in records[name]:
            if any(label in record.labels and record.labels[label] != value for label, value in wanted.items()):
                continue
            body = inline(record.expr, records)
            for label, value in record.labels.items():
                body = f'label_replace({body}, "{label}", "{value}", "", "")'
            parts.append(f"({body})")
        if not parts:
            raise ValueError(f"no definition of {name} matches {matchers}")
        body = " or ".join(parts)
        for label, value in wanted.items():         # the matchers a static label did not settle
            if not all(label in r.labels for r in records[name]):
                body = f'(({body}) and on ({label}) label_replace(vector(1), "{label}", "{value}", "", ""))'
        if window:                                     # a range over a rule becomes a subquery
            return f"({body}){window[:-1]}:{INTERVAL}s]"
        return f"({body})"
    return REF.sub(replace, expr)


def raw_metrics(records: dict[str, list[Record]]) -> set[str]:
    """Every stored metric the dashboards read, directly or through recording rules."""
    names: set[str] = set()
    pending = [expr for _, queries in dashboards() for _, expr in queries]
    seen: set[str] = set()
    while pending:
        for name in metric_names(pending.pop()):
            if name in records:
                if name not in seen:
                    seen.add(name)
                    pending += [r.expr for r in records[name]]
            else:
                names.add(name)
    return names - {"ALERTS", "ALERTS_FOR_STATE"}    # made by rule evaluation, not stored by a scrape


def levels(records: dict[str, list[Record]]) -> list[list[str]]:
    """Recording rules by depth: level 0 reads only stored metrics, level n reads level n-1."""
    depth: dict[str, int] = {}

    def of(name: str) -> int:
        if name not in depth:
            depth[name] = 0
            depth[name] = max([of(n) + 1 for r in records[name] for n in metric_names(r.expr) if n in records], default=0)
        return depth[name]
    for name in records:
        of(name)
    return [[n for n in records if depth[n] == level] for level in range(max(depth.values()) + 1)]


# ------------------------------------------------------------------ capture
def capture(settle: int) -> int:
    records = load_records()
    wanted = sorted(raw_metrics(records))
    state = Path(tempfile.mkdtemp(prefix="obs-bench-"))
    state.chmod(0o755)
    native = [sys.executable, "-m", "obsstack", "native"]
    try:
        up = subprocess.run([*native, "up", "--state-dir", str(state)], capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            raise SystemExit(f"native_stack.py up failed: {up.stderr}")
        prometheus = json.loads(up.stdout)["components"]["prometheus"]
        url, auth = prometheus["url"], tuple(prometheus["auth"])
        print(f"native stack up; letting it run {settle} s so every rate has data", file=sys.stderr)
        time.sleep(settle)
        meta = requests.get(f"{url}/api/v1/metadata", auth=auth, timeout=30).json()["data"]
        series: list[dict[str, Any]] = []
        missing = []
        for name in wanted:
            family = re.sub(r"_(bucket|count|sum|total)$", "", name)
            kind = (meta.get(name) or meta.get(family) or [{"type": "gauge"}])[0]["type"]
            counter = kind in ("counter", "histogram", "summary") and not (kind == "summary" and name == family)
            query = f'rate({{__name__="{name}"}}[1m])' if counter else f'{{__name__="{name}"}}'
            result = requests.get(f"{url}/api/v1/query", params={"query": query}, auth=auth,
                                  timeout=30).json()["data"]["result"]
            if not result:
                missing.append(name)
            for item in result:
                labels = {"__name__": name, **item["metric"]}
                series.append({"labels": labels, "kind": "counter" if counter else "gauge",
                               "value": float(item["value"][1])})
        SERIES_FILE.parent.mkdir(parents=True, exist_ok=True)
        SERIES_FILE.write_text(json.dumps({"captured": time.strftime("%Y-%m-%d"), "series": series,
                                           "not_in_native_stack": missing}, indent=0, sort_keys=True) + "\n")
        print(f"{len(series)} series of {len(wanted) - len(missing)} metrics -> {SERIES_FILE.relative_to(ROOT)}; "
              f"absent natively (cAdvisor, dcgm, logging, Jaeger): {len(missing)} metrics", file=sys.stderr)
        return 0
    finally:
        subprocess.run([*native, "down", "--state-dir", str(state)], capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)


# ------------------------------------------------------------------ run
def om_labels(labels: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    inner = ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return labels["__name__"] + (f"{{{inner}}}" if inner else "")


def write_day(path: Path, series: list[dict[str, Any]], start: int, day_start: int, day_end: int) -> None:
    """One day of samples; each metric's series together, each series in time order, as OpenMetrics."""
    period = 2 * math.pi / DAY
    with path.open("w") as out:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for s in series:
            by_name.setdefault(s["labels"]["__name__"], []).append(s)
        for name in sorted(by_name):
            for n, s in enumerate(by_name[name]):
                head = om_labels(s["labels"])
                value, phase = s["value"], (n % 24) / 24 * 2 * math.pi
                lines = []
                for t in range(day_start, day_end, INTERVAL):
                    x = t - start
                    if s["kind"] == "counter":      # integral of value * (1 + 0.3 sin): never decreases
                        v = value * (x + 0.3 / period * (math.cos(phase) - math.cos(period * x + phase))) + value * 3600
                    elif value in (0.0, 1.0) or math.isnan(value):
                        v = value
                    else:
                        v = value * (1 + 0.1 * math.sin(period * x + phase))
                    lines.append(f"{head} {v:.6g} {t}\n")
                out.writelines(lines)
        out.write("# EOF\n")


class Prometheus:
    def __init__(self, workdir: Path) -> None:
        self.data = workdir / "tsdb"
        self.config = workdir / "prometheus.yml"
        self.config.write_text(f"global: {{scrape_interval: {INTERVAL}s, evaluation_interval: {INTERVAL}s}}\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "prometheus.log").open("a")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(TOOLS / "prometheus"), f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=3650d",
             "--query.max-samples=200000000", "--query.timeout=5m"], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"prometheus exited; see {self.log.name}")
            time.sleep(0.5)
        raise SystemExit("prometheus not ready within 120 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


def promtool(*args: str) -> None:
    proc = subprocess.run([str(TOOLS / "promtool"), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"promtool {' '.join(args[:3])} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def build_tsdb(workdir: Path, series: list[dict[str, Any]], end: int) -> Prometheus:
    start = end - 7 * DAY
    prom = Prometheus(workdir)
    t0 = time.monotonic()
    for day in range(7):
        path = workdir / f"day{day}.om"
        write_day(path, series, start, start + day * DAY, start + (day + 1) * DAY)
        promtool("tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h", str(path), str(prom.data))
        path.unlink()
    print(f"raw series: {len(series)} x {7 * DAY // INTERVAL} samples loaded in {time.monotonic() - t0:.0f} s",
          file=sys.stderr)
    records = load_records()
    t0 = time.monotonic()
    for level, names in enumerate(levels(records)):
        rules = {"groups": [{"name": f"level{level}", "interval": f"{INTERVAL}s", "rules": [
            {"record": name, "expr": r.expr, **({"labels": r.labels} if r.labels else {})}
            for name in names for r in records[name]]}]}
        rule_file = workdir / f"level{level}.yml"
        rule_file.write_text(yaml.safe_dump(rules))
        out = workdir / f"rules{level}"
        prom.start()
        try:
            promtool("tsdb", "create-blocks-from", "rules", f"--start={start}", f"--end={end}", f"--url={prom.url}",
                     f"--output-dir={out}", f"--eval-interval={INTERVAL}s", str(rule_file))
        finally:
            prom.stop()
        for block in out.iterdir():
            if block.is_dir():
                shutil.move(str(block), prom.data / block.name)
    print(f"recording rules backfilled ({len(levels(records))} levels) in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return prom


def run_query(prom: Prometheus, kind: str, expr: str, seconds: int, end: int, step: int) -> int:
    """One request as Grafana makes it; the number of series (or values) it returned."""
    if kind == "variable":
        match = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", expr.strip())
        if not match:
            raise SystemExit(f"variable query not understood: {expr}")
        selector, label = match[1], match[2]
        params = {"start": end - seconds, "end": end, **({"match[]": substitute(selector, seconds, step)} if selector else {})}
        answer = requests.get(f"{prom.url}/api/v1/label/{label}/values", params=params, timeout=600).json()
    else:
        expr = substitute(expr, seconds, step)
        if kind in ("stat", "table"):
            api, params = "query", {"query": expr, "time": end}
        else:  # graphs, heatmaps and the annotation band are range queries
            api, params = "query_range", {"query": expr, "start": end - seconds, "end": end, "step": step}
        answer = requests.post(f"{prom.url}/api/v1/{api}", data=params, timeout=600).json()
    if answer.get("status") != "success":
        raise SystemExit(f"query failed ({answer.get('error')}): {expr[:300]}")
    return len(answer["data"] if kind == "variable" else answer["data"]["result"])


def time_queries(prom: Prometheus, queries: list[tuple[str, str]], seconds: int, end: int) -> tuple[float, int]:
    """Wall time of one dashboard refresh, every query run CONCURRENT_QUERIES at a time, and the
    number of series it returned."""
    step = max(INTERVAL, round(seconds / MAX_POINTS))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENT_QUERIES) as pool:
        returned = sum(pool.map(lambda query: run_query(prom, *query, seconds, end, step), queries))
    return time.perf_counter() - t0, returned


def replicate(series: list[dict[str, Any]], copies: int) -> list[dict[str, Any]]:
    out = list(series)
    for k in range(1, copies):
        out += [{**s, "labels": {**s["labels"], "instance": f"{s['labels'].get('instance', '')}-{k}"}} for s in series]
    return out


def run(repeat: int, keep: Path | None, copies: int) -> int:
    if not SERIES_FILE.exists():
        raise SystemExit(f"{SERIES_FILE.relative_to(ROOT)} missing: run `bench/bench_dashboards.py capture` first")
    captured = json.loads(SERIES_FILE.read_text())
    records = load_records()
    workdir = keep or Path(tempfile.mkdtemp(prefix="obs-bench-dash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    end = int(time.time()) // INTERVAL * INTERVAL - 5 * INTERVAL
    try:
        series = replicate(captured["series"], copies)
        prom = build_tsdb(workdir, series, end)
        prom.start()
        try:
            forms = {uid: {"rules": queries, "raw": [(kind, expr if kind == "variable" else inline(expr, records))
                                                     for kind, expr in queries]}
                     for uid, queries in dashboards()}
            for uid, form in forms.items():          # warm the page cache once per form
                for name in ("rules", "raw"):
                    time_queries(prom, form[name], DAY, end)
            print(f"Prometheus {prometheus_version()}, {len(series)} stored series ({copies} x the native stack's) x 7 days at "
                  f"{INTERVAL} s, recording rules backfilled; a refresh = every panel, variable and annotation query, "
                  f"{CONCURRENT_QUERIES} at a time; median of {repeat} refreshes; raw / rules = speed-up.\n", flush=True)
            print("| Dashboard | queries | " + " | ".join(f"{r}: rules / raw / ratio" for r in RANGES) + " |")
            print("| --- | --- | " + " | ".join("---" for _ in RANGES) + " |")
            for uid, form in forms.items():
                cells, differ = [], []
                for label, seconds in RANGES.items():
                    times: dict[str, list[float]] = {"rules": [], "raw": []}
                    counts: dict[str, int] = {}
                    for _ in range(repeat):
                        for name in ("rules", "raw"):
                            elapsed, counts[name] = time_queries(prom, form[name], seconds, end)
                            times[name].append(elapsed)
                    rules_s, raw_s = statistics.median(times["rules"]), statistics.median(times["raw"])
                    cells.append(f"{rules_s * 1e3:.0f} / {raw_s * 1e3:.0f} ms / **{raw_s / rules_s:.1f}x**")
                    if counts["rules"] != counts["raw"]:
                        differ.append(f"{label}: {counts['rules']} vs {counts['raw']} series")
                note = f" (series returned differ: {'; '.join(differ)})" if differ else ""
                print(f"| {uid}{note} | {len(form['rules'])} | " + " | ".join(cells) + " |", flush=True)
        finally:
            prom.stop()
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def prometheus_version() -> str:
    out = subprocess.run([str(TOOLS / "prometheus"), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"version (\S+)", out)
    return match[1] if match else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture", help="save the native stack's series the dashboards read")
    cap.add_argument("--settle", type=int, default=90, help="seconds the stack runs before capture (default %(default)s)")
    go = sub.add_parser("run", help="backfill 7 days and time every dashboard in both forms")
    go.add_argument("--repeat", type=int, default=3, help="refreshes per dashboard, range and form (default %(default)s)")
    go.add_argument("--copies", type=int, default=1, help="store the captured series N times (default %(default)s)")
    go.add_argument("--keep", type=Path, help="build the TSDB in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args()
    if not (TOOLS / "promtool").exists():
        raise SystemExit("no .tools/bin/promtool: run `make test` (or `obsstack toolchain install`) first")
    return capture(args.settle) if args.command == "capture" else run(args.repeat, args.keep, args.copies)


if __name__ == "__main__":
    sys.exit(main())
