"""A generic supervisor of the native stack's processes: start each in its own session, wait until
it is ready, tell whether it still runs, stop it (its whole process group). Pids are kept with the
kernel's start time of the process, so a recycled pid is never signalled."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests


class NativeStackError(RuntimeError):
    """A component failed to start or stop; the message names it and where its log is."""


@dataclass
class Component:
    """One process of the stack, as data: STATE/plan.json keeps it so `start NAME` can restart it."""

    name: str
    argv: list[str]
    url: str
    # {"http": URL, "contains": TEXT (optional), "auth": true (optional)} or {"tcp": PORT}
    ready: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    cwd: str | None = None
    # PostgreSQL's SIGTERM waits for every client to leave; SIGINT is its fast shutdown.
    stop_signal: str = "SIGTERM"

    def is_ready(self) -> bool:
        if "tcp" in self.ready:
            try:
                with socket.create_connection(("127.0.0.1", self.ready["tcp"]), timeout=1):
                    return True
            except OSError:
                return False
        try:
            response = requests.get(self.ready["http"], auth=self.auth if self.ready.get("auth") else None, timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200 and self.ready.get("contains", "") in response.text


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a live process (field 22 of /proc/PID/stat), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Any live process left in the group (PostgreSQL's children, say)?"""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


class Supervisor:
    """Starts, watches and stops components; their pids live in STATE/pids.json, logs in STATE/logs/."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.pids_file = state / "pids.json"

    def start(self, component: Component) -> dict[str, Any]:
        log = (self.state / "logs" / f"{component.name}.log").open("ab")
        # The Python components (webhook sink, GPU exporter, demo app) are installed distributions.
        env = {**os.environ, **component.env}
        proc = subprocess.Popen(component.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=component.cwd or self.state, start_new_session=True)
        log.close()
        return {"pid": proc.pid, "start": process_start_time(proc.pid), "stop_signal": component.stop_signal}

    def wait_ready(self, component: Component, entry: dict[str, Any], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive(entry):
                raise NativeStackError(f"{component.name} exited during start; see {self.log_tail(component.name)}")
            if component.is_ready():
                return
            time.sleep(0.1)
        raise NativeStackError(f"{component.name} not ready within {timeout:.0f}s; see {self.log_tail(component.name)}")

    def log_tail(self, name: str) -> str:
        path = self.state / "logs" / f"{name}.log"
        lines = path.read_text(errors="replace").splitlines()[-5:] if path.exists() else []
        return f"{path}:\n    " + "\n    ".join(lines)

    @staticmethod
    def alive(entry: dict[str, Any]) -> bool:
        return entry.get("start") is not None and process_start_time(entry["pid"]) == entry["start"]

    def read_pids(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.pids_file.read_text()) if self.pids_file.exists() else {}

    def write_pids(self, pids: dict[str, dict[str, Any]]) -> None:
        tmp = self.pids_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(pids, indent=2))
        tmp.replace(self.pids_file)

    def stop(self, pids: dict[str, dict[str, Any]], grace: float = 15) -> list[str]:
        """Stop these processes, last started first; returns the names of any that survived SIGKILL."""
        running = {name: entry for name, entry in reversed(list(pids.items())) if self.alive(entry)}
        for entry in running.values():
            signal_group(entry["pid"], signal.Signals[entry.get("stop_signal", "SIGTERM")])
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(self.alive(e) or group_alive(e["pid"]) for e in running.values()):
            time.sleep(0.1)
        for entry in running.values():
            signal_group(entry["pid"], signal.SIGKILL)
        time.sleep(0.2)
        return [name for name, entry in running.items() if self.alive(entry) or group_alive(entry["pid"])]
