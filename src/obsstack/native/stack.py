"""The native stack as a whole: plan every registered component for a run, start them in order and
wait for each, then for Prometheus to scrape every target; status, stop and start one, down."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import requests

from .. import paths
from ..envfile import write_private
from ..timescale import REAL, TimeScale
from . import components  # noqa: F401  (registers every component)
from .process import Component, NativeStackError, Supervisor
from .registry import REGISTRY, new_context


class NativeStack:
    def __init__(self, state_dir: Path, tools_bin: Path, scale: TimeScale = REAL, project: Path | None = None) -> None:
        self.state = state_dir.resolve()
        self.tools = tools_bin
        self.scale = scale
        self.project = project or paths.project_dir()
        self.supervisor = Supervisor(self.state)
        self.endpoints_file = self.state / "endpoints.json"

    def plan(self) -> tuple[list[Component], dict[str, Any]]:
        """Ports and passwords for this run, each component's files prepared, its process built."""
        ctx = new_context(self.project, self.state, self.tools, self.scale)
        (self.state / "logs").mkdir(parents=True, exist_ok=True)
        for spec in REGISTRY:
            if spec.prepare:
                spec.prepare(ctx)
        return [spec.build(ctx) for spec in REGISTRY], ctx.facts

    def up(self, timeout: float = 120) -> dict[str, Any]:
        if self.supervisor.pids_file.exists() and any(self.supervisor.alive(e) for e in self.supervisor.read_pids().values()):
            raise NativeStackError(f"a native stack already runs from {self.state}: run `down` first")
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        planned, facts = self.plan()
        plan_file = self.state / "plan.json"  # holds the run's passwords: private
        write_private(plan_file, json.dumps([asdict(c) for c in planned], indent=2))
        started: dict[str, dict[str, Any]] = {}
        try:
            for component in planned:
                started[component.name] = self.supervisor.start(component)
                self.supervisor.write_pids(started)
                self.supervisor.wait_ready(component, started[component.name], timeout)
            self.wait_targets(next(c for c in planned if c.name == "prometheus"), timeout)
        except BaseException:
            self.supervisor.stop(started)
            raise
        endpoints = {
            "components": {c.name: {"url": c.url, "pid": started[c.name]["pid"], **({"auth": list(c.auth)} if c.auth else {})}
                           for c in planned},
            "time_scale": {"name": self.scale.name, "divisor": self.scale.divisor},
            "state_dir": str(self.state),
            "skipped_jobs": facts.get("skipped_jobs", {}),
        }
        self.endpoints_file.write_text(json.dumps(endpoints, indent=2) + "\n")
        self.endpoints_file.chmod(0o600)
        return endpoints

    def wait_targets(self, prometheus: Component, timeout: float) -> None:
        """`up` returns once Prometheus has scraped every target successfully."""
        deadline = time.monotonic() + timeout
        down: list[str] = []
        while time.monotonic() < deadline:
            try:
                active = requests.get(f"{prometheus.url}/api/v1/targets?state=active", auth=prometheus.auth,
                                      timeout=2).json()["data"]["activeTargets"]
                down = [f"{t['labels']['job']}: {t['lastError'] or t['health']}" for t in active if t["health"] != "up"]
                if active and not down:
                    return
            except (requests.RequestException, KeyError, ValueError):
                pass
            time.sleep(0.2)
        raise NativeStackError(f"targets not up within {timeout:.0f}s: {'; '.join(down)}")

    def load_plan(self) -> dict[str, Component]:
        plan_file = self.state / "plan.json"
        if not plan_file.exists():
            raise NativeStackError(f"no native stack in {self.state}: run `up` first")
        return {c["name"]: Component(**{**c, "auth": tuple(c["auth"]) if c["auth"] else None})
                for c in json.loads(plan_file.read_text())}

    def stop_one(self, name: str) -> None:
        """Stop one component (to inject a fault); `start_one` brings it back as it was."""
        pids = self.supervisor.read_pids()
        if name not in pids:
            raise NativeStackError(f"unknown component {name!r}; known: {', '.join(pids)}")
        if self.supervisor.stop({name: pids[name]}):
            raise NativeStackError(f"{name} survived SIGKILL")

    def start_one(self, name: str, timeout: float = 60) -> None:
        plan, pids = self.load_plan(), self.supervisor.read_pids()
        if name not in plan:
            raise NativeStackError(f"unknown component {name!r}; known: {', '.join(plan)}")
        if self.supervisor.alive(pids.get(name, {})):
            raise NativeStackError(f"{name} is already running")
        pids[name] = self.supervisor.start(plan[name])
        self.supervisor.write_pids(pids)
        self.supervisor.wait_ready(plan[name], pids[name], timeout)

    def status(self) -> dict[str, str]:
        return {name: ("running" if self.supervisor.alive(entry) else "stopped")
                for name, entry in self.supervisor.read_pids().items()}

    def down(self) -> list[str]:
        """Stop every process of this stack, Prometheus first (so it does not alert on exporters going
        away); returns the names of any that survived (should be none)."""
        survivors = self.supervisor.stop(self.supervisor.read_pids())
        if not survivors:
            self.supervisor.pids_file.unlink(missing_ok=True)
        return survivors
