"""Grafana: its database, every datasource of a deployed service healthy, every shipped dashboard provisioned."""
from __future__ import annotations

import json

import requests

from ..stack import TIMEOUT_S, Stack, get


def healthy(stack: Stack) -> str:
    grafana = stack.needs("grafana")
    health = get(grafana, "/api/health").json()
    if health.get("database") != "ok":
        raise AssertionError(f"Grafana database: {health}")
    broken = []
    sources = get(grafana, "/api/datasources").json()
    for source in sources:
        if (source["type"] == "elasticsearch" and "elasticsearch" in stack.not_deployed) or (
                source["type"] == "jaeger" and "jaeger" in stack.not_deployed):
            continue
        result = requests.get(f"{grafana.url}/api/datasources/uid/{source['uid']}/health", auth=grafana.auth,
                              timeout=TIMEOUT_S * 2)
        if result.status_code != 200:
            broken.append(f"{source['name']}: {result.text[:120]}")
    if broken:
        raise AssertionError("datasources unhealthy: " + "; ".join(broken))
    shipped = {json.loads(p.read_text())["uid"] for p in (stack.project_dir / "grafana/dashboards").rglob("*.json")}
    found = {d["uid"] for d in get(grafana, "/api/search", params={"type": "dash-db"}).json()}
    missing = shipped - found
    if missing:
        raise AssertionError(f"dashboards not provisioned: {', '.join(sorted(missing))}")
    return f"Grafana {health.get('version')}, {len(sources)} datasources healthy, {len(shipped)} dashboards present"


CHECKS = [("grafana", "health, datasources, dashboards", healthy)]
