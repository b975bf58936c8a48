"""The real Grafana runs every panel's query of every shipped dashboard (through /api/ds/query, as a
dashboard refresh does) and none may fail. Skipped, with the reason, where no Docker engine runs."""
from __future__ import annotations

import json
import time

import pytest
import requests

from conftest import ROOT
from obsstack.promql import substitute_variables

pytestmark = pytest.mark.docker
DASHBOARDS = sorted((ROOT / "grafana/dashboards").rglob("*.json"))


def test_every_panel_query_runs_in_grafana(stack):
    auth = ("admin", stack.env["GRAFANA_ADMIN_PASSWORD"])
    now = int(time.time() * 1000)
    failures = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            queries = [{"refId": t["refId"], "datasource": {"type": "prometheus", "uid": "prometheus"},
                        "expr": substitute_variables(t["expr"]), "instant": t.get("instant", False),
                        "range": t.get("range", True), "format": t.get("format", "time_series"),
                        "intervalMs": 15000, "maxDataPoints": 500} for t in panel.get("targets", [])]
            if not queries:
                continue
            response = requests.post(f"{stack.url('GRAFANA_PORT')}/api/ds/query", auth=auth, timeout=60,
                                     json={"queries": queries, "from": str(now - 3600_000), "to": str(now)})
            if response.status_code != 200:
                failures.append(f"{dashboard['uid']}/{panel['title']}: HTTP {response.status_code} {response.text[:200]}")
                continue
            for ref, result in response.json().get("results", {}).items():
                if result.get("error"):
                    failures.append(f"{dashboard['uid']}/{panel['title']} {ref}: {result['error'][:200]}")
    assert not failures, "\n".join(failures)
