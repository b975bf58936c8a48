#!/usr/bin/env python3
"""The logs pipeline's cost: what runs here, and what needs Docker.

here    The ECS transform (logstash/scripts/ecs.rb), the only code of ours in Logstash, on the
        contract's Filebeat events cycled to --events, timed inside Ruby 3.1 (the language level of
        Logstash's JRuby 9.4; JRuby's JIT differs, so read the figure as a relative one), side by
        side in the same run with a pass-through filter: the ratio is what the transform costs over
        the Event API alone.
docker  Against a running compose stack (make up): a container writes --lines lines as fast as
        it can; reports Logstash's events/s (its node stats: events out over the burst) and the
        delay from a line's write to its document being searchable (sampled lines).

Examples:
  .venv/bin/python bench/bench_log_pipeline.py here --events 20000 --rounds 5
  .venv/bin/python bench/bench_log_pipeline.py docker --env-file .env --lines 20000
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType

from obsstack import paths

ROOT = paths.project_dir()
RUNNER = ROOT / "tests/contract/run_ruby_filter.rb"
PASSTHROUGH = "def register(_params); end\ndef filter(event)\n  [event]\nend\n"


def load_module(name: str, path: Path) -> ModuleType:
    """A test helper by its path (the tests are not an installed package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and the helper's own imports look modules up there
    spec.loader.exec_module(module)
    return module


def load_pipeline() -> ModuleType:
    """tests/contract/pipeline.py: the Filebeat model that shapes the contract's events."""
    load_module("log_documents", ROOT / "tests/log_documents.py")
    return load_module("contract_pipeline", ROOT / "tests/contract/pipeline.py")


def time_filter(ruby: Path, script: Path, events: list[dict], rounds: int) -> list[float]:
    proc = subprocess.run([str(ruby), str(RUNNER), str(script)], input=json.dumps(events), capture_output=True,
                          text=True, env={**os.environ, "BENCH_ROUNDS": str(rounds)}, timeout=1800, check=True)
    report = json.loads(proc.stdout)
    return [report["events"] / seconds for seconds in report["seconds"]]


def here(args: argparse.Namespace) -> int:
    pipeline = load_pipeline()
    paths = pipeline.Paths()
    base = [event for case in paths.contract["cases"] for event in pipeline.filebeat_events(case, paths, pipeline.START)]
    events = list(itertools.islice(itertools.cycle(base), args.events))
    with tempfile.TemporaryDirectory() as tmp:
        passthrough = Path(tmp) / "passthrough.rb"
        passthrough.write_text(PASSTHROUGH)
        # Alternate the two so that machine noise hits both alike.
        ecs, plain = [], []
        for _ in range(args.rounds):
            ecs += time_filter(args.ruby, ROOT / "logstash/scripts/ecs.rb", events, 1)
            plain += time_filter(args.ruby, passthrough, events, 1)
    version = subprocess.run([str(args.ruby), "-e", "print RUBY_VERSION"], capture_output=True, text=True).stdout
    print(f"Ruby {version}, {len(events)} events ({len(base)} distinct, every kind of the contract), {args.rounds} rounds")
    print("| filter | events/s median | min | max | median cost per event |")
    print("| --- | --- | --- | --- | --- |")
    for name, rates in (("ecs.rb (ECS transform)", ecs), ("pass-through", plain)):
        median = statistics.median(rates)
        print(f"| {name} | {median:,.0f} | {min(rates):,.0f} | {max(rates):,.0f} | {1e6 / median:.1f} µs |")
    print(f"ratio pass-through / ecs.rb: {statistics.median(plain) / statistics.median(ecs):.1f}x")
    return 0


def docker(args: argparse.Namespace) -> int:
    import requests

    env = dict(line.split("=", 1) for line in args.env_file.read_text().splitlines() if "=" in line and not line.startswith("#"))
    es = f"http://127.0.0.1:{env.get('ELASTICSEARCH_PORT', '9200')}"
    auth = ("elastic", env["ELASTIC_PASSWORD"].strip("'\""))
    project = ["docker", "compose", "--project-directory", str(args.env_file.parent)]

    def events_out() -> int:
        out = subprocess.run([*project, "exec", "-T", "logstash", "curl", "-s", "http://127.0.0.1:9600/_node/stats/pipelines/main"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["pipelines"]["main"]["events"]["out"]

    def count(query: dict) -> int:
        return requests.get(f"{es}/logs-docker-default/_count", auth=auth, timeout=10, json={"query": query}).json()["count"]

    # A container that prints what it reads: the bench decides exactly when each line is written.
    writer = subprocess.Popen(["docker", "run", "-i", "--rm", "--label", "com.docker.compose.service=bench",
                               "python:3.12.14-slim", "python", "-u", "-c",
                               "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()\n"],
                              stdin=subprocess.PIPE, text=True)
    assert writer.stdin
    try:
        delays = []
        for _ in range(args.samples):
            marker = f"delay-{uuid.uuid4().hex}"
            start = time.monotonic()
            writer.stdin.write(marker + "\n")
            writer.stdin.flush()
            while count({"match_phrase": {"message": marker}}) == 0:
                if time.monotonic() - start > 120:
                    raise SystemExit(f"{marker} not searchable within 120 s")
                time.sleep(0.05)
            delays.append(time.monotonic() - start)
        run_id = uuid.uuid4().hex[:8]
        before, start = events_out(), time.monotonic()
        for i in range(args.lines):
            writer.stdin.write(f"burst {run_id} {i}\n")
        writer.stdin.flush()
        while count({"match_phrase": {"message": f"burst {run_id}"}}) < args.lines:
            if time.monotonic() - start > 1800:
                raise SystemExit("the burst was not stored within 30 minutes")
            time.sleep(0.5)
        elapsed, delta = time.monotonic() - start, events_out() - before
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)
    print(f"write -> searchable, idle pipeline, {len(delays)} lines: min {min(delays):.2f} s, "
          f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s")
    print(f"burst of {args.lines} lines stored in {elapsed:.1f} s: {args.lines / elapsed:,.0f} lines/s end to end; "
          f"Logstash sent {delta / elapsed:,.0f} events/s (node stats, every container's events)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    h = sub.add_parser("here", help="time the ECS transform under Ruby 3.1 (no Docker needed)")
    h.add_argument("--events", type=int, default=20000)
    h.add_argument("--rounds", type=int, default=5)
    h.add_argument("--ruby", type=Path, default=ROOT / ".tools/bin/ruby", help="Ruby 3.1 (make test installs it)")
    d = sub.add_parser("docker", help="throughput and delay of the real pipeline (a running compose stack)")
    d.add_argument("--env-file", type=Path, default=ROOT / ".env")
    d.add_argument("--lines", type=int, default=20000)
    d.add_argument("--samples", type=int, default=10, help="lines timed one by one for the delay")
    args = parser.parse_args(argv)
    return here(args) if args.command == "here" else docker(args)


if __name__ == "__main__":
    sys.exit(main())
