"""`obsstack backup` and `obsstack restore` on the native stack's real Prometheus and Alertmanager:
samples and a silence saved from one stack come back in a fresh stack started from an empty state
folder (the first one's folder deleted). Durations are printed (`pytest -s`) and bounded.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.toolchain
TOOLS = ("prometheus", "alertmanager", "node_exporter", "postgres", "initdb", "postgres_exporter", "redis-server",
         "redis_exporter", "blackbox_exporter")
DEADLINE_S = 90
ADMIN_API = "--web.enable-admin-api"


def obsstack(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obsstack", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ), check=False)


class Native:
    """One native stack in its own fresh state folder."""

    def __init__(self) -> None:
        # Under /tmp, world-searchable: PostgreSQL runs as `nobody` when the tests run as root.
        self.state = Path(tempfile.mkdtemp(prefix="obs-backup-"))
        self.state.chmod(0o755)
        self.endpoints: dict = {}

    def up(self) -> Native:
        proc = obsstack("native", "up", "--fast", "--state-dir", str(self.state))
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
                         for p in sorted((self.state / "logs").glob("*.log")))
        assert proc.returncode == 0, f"{proc.stderr}\n{logs}"
        self.endpoints = json.loads(proc.stdout)
        return self

    def native(self, *args: str) -> None:
        proc = obsstack("native", *args, "--state-dir", str(self.state))
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def down(self) -> None:
        obsstack("native", "down", "--state-dir", str(self.state))
        shutil.rmtree(self.state, ignore_errors=True)

    def api(self, name: str, path: str, method: str = "GET", **kwargs) -> requests.Response:
        component = self.endpoints["components"][name]
        response = requests.request(method, f"{component['url']}{path}", auth=tuple(component["auth"]), timeout=10, **kwargs)
        response.raise_for_status()
        return response


def poll(what: str, check: Callable[[], object], deadline_s: float = DEADLINE_S) -> object:
    deadline = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except requests.RequestException as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    pytest.fail(f"{what} not within {deadline_s}s; last: {last!r}")


def raw_samples(stack: Native, selector: str, at: float, window_s: int = 600) -> list[dict]:
    """Every raw sample of the series of selector in the window_s before `at`."""
    return stack.api("prometheus", "/api/v1/query", params={"query": f"{selector}[{window_s}s]", "time": f"{at:.3f}"}
                     ).json()["data"]["result"]


@pytest.fixture
def natives(tool) -> Iterator[Callable[[], Native]]:
    for name in TOOLS:
        tool(name)
    started: list[Native] = []

    def start() -> Native:
        started.append(Native())
        return started[-1].up()

    yield start
    for stack in started:
        stack.down()


def test_backup_then_restore_into_a_fresh_stack_brings_back_samples_and_silences(natives, tmp_path):
    old = natives()
    plan = json.loads((old.state / "plan.json").read_text())
    assert ADMIN_API not in next(c for c in plan if c["name"] == "prometheus")["argv"], "Grafana's users would reach it"

    # Some samples: Prometheus' own `up`, at least three scrapes, their exact timestamps and values.
    series = poll("three scrapes of Prometheus itself", lambda: [
        s for s in raw_samples(old, 'up{job="prometheus"}', time.time()) if len(s["values"]) >= 3])
    labels, (stamp, value) = series[0]["metric"], series[0]["values"][0]
    selector = "up{" + ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__") + "}"

    silence = {"matchers": [{"name": "alertname", "value": "BackupRestoreProbe", "isRegex": False, "isEqual": True}],
               "startsAt": datetime.now(timezone.utc).isoformat(), "createdBy": "tests/live/test_backup.py",
               "endsAt": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat(), "comment": f"probe {old.state.name}"}
    silence_id = old.api("alertmanager", "/api/v2/silences", "POST", json=silence).json()["silenceID"]

    dest = tmp_path / "backups"
    began = time.monotonic()
    made = obsstack("backup", "--dest", str(dest), "--native-state", str(old.state), "--json")
    backup_s = time.monotonic() - began
    assert made.returncode == 0, made.stdout + made.stderr
    report = json.loads(made.stdout)
    folder = Path(report["folder"])
    assert [p.name for p in dest.iterdir()] == [folder.name]
    manifest = json.loads((folder / "manifest.json").read_text())
    parts = manifest["parts"]
    assert parts["prometheus"]["status"] == "saved" and parts["prometheus"]["wal_segments"] >= 1, parts
    assert parts["alertmanager"]["status"] == "saved" and parts["alertmanager"]["active_silences"] == 1, parts
    assert {parts[n]["status"] for n in ("grafana", "elasticsearch")} == {"skipped"}
    assert "alertmanager/storage/silences" in manifest["files"] and "alertmanager/storage/nflog" in manifest["files"]
    assert [s["id"] for s in json.loads((folder / "alertmanager/silences.json").read_text())] == [silence_id]
    # Alertmanager came back after its consistent copy.
    assert old.api("alertmanager", f"/api/v2/silence/{silence_id}").json()["status"]["state"] == "active"

    # Wipe: the first stack and its state folder are gone; a fresh one starts from nothing.
    old.down()
    new = natives()
    assert raw_samples(new, selector, stamp + 0.001) == [], "a fresh stack has none of the old samples"
    assert new.api("alertmanager", "/api/v2/silences").json() == []

    began = time.monotonic()
    restored = obsstack("restore", str(folder), "--native-state", str(new.state))
    restore_s = time.monotonic() - began
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restore: " in restored.stdout and "FAIL" not in restored.stdout

    # The old sample, at its own timestamp from before the backup, with its value.
    found = poll("the old sample after restore",
                 lambda: [s for s in raw_samples(new, selector, stamp + 0.001, window_s=1) if s["values"]])
    assert found[0]["metric"] == labels and found[0]["values"][0] == [stamp, value]
    back = poll("the silence after restore", lambda: [
        s for s in new.api("alertmanager", "/api/v2/silences").json() if s["id"] == silence_id])
    assert back[0]["status"]["state"] == "active" and back[0]["comment"] == silence["comment"]
    # The restored Prometheus scrapes again: a sample newer than the restore.
    after = time.time()
    poll("a scrape after restore", lambda: [s for s in raw_samples(new, 'up{job="prometheus"}', time.time(), 30)
                                            if float(s["values"][-1][0]) > after])

    print(f"\nbackup: {backup_s:.2f}s wall ({manifest['duration_s']:.2f}s in the manifest, "
          f"Alertmanager down {parts['alertmanager']['downtime_s']:.2f}s, "
          f"Prometheus down {parts['prometheus']['stopped_seconds']:.2f}s, {manifest['total_bytes']} bytes, "
          f"{len(manifest['files'])} files); restore: {restore_s:.2f}s wall")
    assert backup_s < 60 and restore_s < 60
