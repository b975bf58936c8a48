"""smoke_test.py against a stack that is not running: every check fails with the reason, fast."""
from __future__ import annotations

import json
import re
import subprocess
import sys

from conftest import ROOT

from obsstack import envfile
from obsstack.net import free_port


def closed_port() -> int:
    """A port nothing listens on: free now, and nothing is started on it."""
    return free_port()


def test_down_stack_fails_every_check_and_skips_disabled_profiles(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_env(ROOT / ".env.example", env)
    text = env.read_text().replace("COMPOSE_PROFILES=logging,tracing,demo", "COMPOSE_PROFILES=demo")
    for key in ("PROMETHEUS_PORT", "ALERTMANAGER_PORT", "GRAFANA_PORT"):
        text = re.sub(rf"(?m)^{key}=.*$", f"{key}={closed_port()}", text)
    env.write_text(text)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/smoke_test.py"), "--env-file", str(env), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    status = {(c["component"], c["check"]): c["status"] for c in report["checks"]}
    assert status[("prometheus", "ready")] == "FAIL"
    assert status[("grafana", "health, datasources, dashboards")] == "FAIL"
    assert status[("elasticsearch", "cluster health")] == "SKIP"
    assert status[("jaeger", "trace returned")] == "SKIP"
    assert all("Connection" in c["detail"] for c in report["checks"] if c["status"] == "FAIL")
    assert not report["ok"]


def test_missing_env_names_the_setup_command(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/smoke_test.py"), "--env-file", str(tmp_path / ".env")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "make up" in proc.stderr
