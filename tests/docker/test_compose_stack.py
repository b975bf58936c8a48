"""The whole compose stack on a real Docker engine: up --wait, then every UI and API answers,
secured, with the generated credentials. Skipped (with the reason) where no engine runs."""
from __future__ import annotations

import pytest
import requests

from docker_stack import poll

pytestmark = pytest.mark.docker


def test_prometheus_requires_auth_and_every_target_is_up(stack):
    env = stack.env
    assert requests.get("http://127.0.0.1:29090/-/ready", timeout=5).status_code == 401
    auth = ("prometheus", env["PROMETHEUS_WEB_PASSWORD"])

    def all_up() -> bool:
        targets = requests.get("http://127.0.0.1:29090/api/v1/targets", auth=auth, timeout=5).json()["data"]
        active = targets["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    poll(all_up, "every scrape target up")


def test_alertmanager_requires_auth(stack):
    env = stack.env
    assert requests.get("http://127.0.0.1:29093/-/ready", timeout=5).status_code == 401
    ok = requests.get("http://127.0.0.1:29093/-/ready", auth=("alertmanager", env["ALERTMANAGER_WEB_PASSWORD"]), timeout=5)
    assert ok.status_code == 200


def test_grafana_login_and_datasources(stack):
    env = stack.env
    auth = ("admin", env["GRAFANA_ADMIN_PASSWORD"])
    assert requests.get("http://127.0.0.1:23000/api/datasources", timeout=5).status_code == 401
    assert requests.get("http://127.0.0.1:23000/api/datasources", auth=("admin", "admin"), timeout=5).status_code == 401
    uids = {d["uid"] for d in requests.get("http://127.0.0.1:23000/api/datasources", auth=auth, timeout=5).json()}
    assert {"prometheus", "alertmanager", "elasticsearch-logs", "jaeger"} <= uids
    health = requests.get("http://127.0.0.1:23000/api/datasources/uid/prometheus/health", auth=auth, timeout=10)
    assert health.json().get("status") == "OK", health.text


def test_elasticsearch_kibana_and_jaeger_answer(stack):
    env = stack.env
    poll(lambda: requests.get("http://127.0.0.1:29200/_cluster/health", auth=("elastic", env["ELASTIC_PASSWORD"]),
                              timeout=5).json()["status"] in ("green", "yellow"), "Elasticsearch health")
    assert requests.get("http://127.0.0.1:29200/", timeout=5).status_code == 401
    poll(lambda: requests.get("http://127.0.0.1:25601/api/status", auth=("elastic", env["ELASTIC_PASSWORD"]),
                              timeout=5).json()["status"]["overall"]["level"] == "available", "Kibana available")
    poll(lambda: requests.get("http://127.0.0.1:26686/api/services", timeout=5).status_code == 200, "Jaeger query API")
