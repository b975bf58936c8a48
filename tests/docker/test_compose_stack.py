"""The whole compose stack on a real Docker engine: up --wait, then every UI and API answers,
secured, with the generated credentials. Skipped (with the reason) where no engine runs."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conftest import ROOT
from obsstack import envfile

pytestmark = pytest.mark.docker
DEADLINE_S = 600


PORTS = {"GRAFANA_PORT": 23000, "PROMETHEUS_PORT": 29090, "ALERTMANAGER_PORT": 29093, "KIBANA_PORT": 25601,
         "ELASTICSEARCH_PORT": 29200, "JAEGER_UI_PORT": 26686, "OTLP_GRPC_PORT": 24317, "OTLP_HTTP_PORT": 24318}


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory) -> Iterator[tuple[Path, dict[str, str]]]:
    from testcontainers.compose import DockerCompose

    project = tmp_path_factory.mktemp("compose") / "stack"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", ".venv", ".tools", ".env", "__pycache__"))
    setup = subprocess.run([sys.executable, str(project / "scripts/setup.py"), "--project-dir", str(project), "-y",
                            "--skip-preflight"], capture_output=True, text=True, check=False)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    # A private project name and ports away from the defaults, so a developer's own stack is untouched.
    env_path = project / ".env"
    text = env_path.read_text().replace("COMPOSE_PROJECT_NAME=observability", "COMPOSE_PROJECT_NAME=obs-test")
    for key, port in PORTS.items():
        text = re.sub(rf"(?m)^{key}=.*$", f"{key}={port}", text)
    env_path.write_text(text)
    with DockerCompose(project, env_file=str(env_path), build=True, wait=True,
                       profiles=["logging", "tracing", "demo"]):
        yield project, envfile.read_env(env_path)


def poll(check, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(2)
    pytest.fail(f"{what} not true within {DEADLINE_S}s (last error: {last})")


def test_prometheus_requires_auth_and_every_target_is_up(stack):
    _, env = stack
    assert requests.get("http://127.0.0.1:29090/-/ready", timeout=5).status_code == 401
    auth = ("prometheus", env["PROMETHEUS_WEB_PASSWORD"])

    def all_up() -> bool:
        targets = requests.get("http://127.0.0.1:29090/api/v1/targets", auth=auth, timeout=5).json()["data"]
        active = targets["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    poll(all_up, "every scrape target up")


def test_alertmanager_requires_auth(stack):
    _, env = stack
    assert requests.get("http://127.0.0.1:29093/-/ready", timeout=5).status_code == 401
    ok = requests.get("http://127.0.0.1:29093/-/ready", auth=("alertmanager", env["ALERTMANAGER_WEB_PASSWORD"]), timeout=5)
    assert ok.status_code == 200


def test_grafana_login_and_datasources(stack):
    _, env = stack
    auth = ("admin", env["GRAFANA_ADMIN_PASSWORD"])
    assert requests.get("http://127.0.0.1:23000/api/datasources", timeout=5).status_code == 401
    assert requests.get("http://127.0.0.1:23000/api/datasources", auth=("admin", "admin"), timeout=5).status_code == 401
    uids = {d["uid"] for d in requests.get("http://127.0.0.1:23000/api/datasources", auth=auth, timeout=5).json()}
    assert {"prometheus", "alertmanager", "elasticsearch-logs", "jaeger"} <= uids
    health = requests.get("http://127.0.0.1:23000/api/datasources/uid/prometheus/health", auth=auth, timeout=10)
    assert health.json().get("status") == "OK", health.text


def test_elasticsearch_kibana_and_jaeger_answer(stack):
    _, env = stack
    poll(lambda: requests.get("http://127.0.0.1:29200/_cluster/health", auth=("elastic", env["ELASTIC_PASSWORD"]),
                              timeout=5).json()["status"] in ("green", "yellow"), "Elasticsearch health")
    assert requests.get("http://127.0.0.1:29200/", timeout=5).status_code == 401
    poll(lambda: requests.get("http://127.0.0.1:25601/api/status", auth=("elastic", env["ELASTIC_PASSWORD"]),
                              timeout=5).json()["status"]["overall"]["level"] == "available", "Kibana available")
    poll(lambda: requests.get("http://127.0.0.1:26686/api/services", timeout=5).status_code == 200, "Jaeger query API")
