"""The whole compose stack on a real Docker engine: `up --wait`, then the smoke test (every part
works, with the generated credentials), and what the smoke test does not look at: that every UI and
API refuses a request without them. Skipped (with the reason) where no engine runs."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests

pytestmark = pytest.mark.docker


def test_smoke_test_passes_against_the_stack(stack):
    proc = subprocess.run([sys.executable, "-m", "obsstack", "smoke", "--env-file", str(stack.project / ".env"),
                           "--wait", "300"], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIP" not in proc.stdout.replace("GPU overlay off", ""), "every profile is on: nothing may be skipped"


@pytest.mark.parametrize("port_key, path", [
    ("PROMETHEUS_PORT", "/-/ready"), ("ALERTMANAGER_PORT", "/-/ready"), ("GRAFANA_PORT", "/api/datasources"),
    ("ELASTICSEARCH_PORT", "/"), ("KIBANA_PORT", "/api/data_views"),
])
def test_every_ui_refuses_requests_without_credentials(stack, port_key, path):
    assert requests.get(f"{stack.url(port_key)}{path}", timeout=10).status_code == 401


def test_grafana_refuses_the_default_password(stack):
    response = requests.get(f"{stack.url('GRAFANA_PORT')}/api/datasources", auth=("admin", "admin"), timeout=10)
    assert response.status_code == 401
