"""The HA overlay (docker-compose.ha.yml) on a real Docker engine, metrics only: the images as pinned,
the configs as mounted. tests/live/test_ha.py proves the behaviour with the same binaries natively;
this proves the containers: the three Alertmanagers find each other by their service names, both
replicas write to VictoriaMetrics through its login, and Grafana's long-term datasource answers.
Skipped (with the reason) where no engine runs."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from docker_stack import RunningStack, poll, prepare

pytestmark = pytest.mark.docker
# Beside the main Docker suite's stack (tests/conftest.py `stack`), never on its ports.
PORT_OFFSET = 100


@pytest.fixture(scope="module")
def ha_stack(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    from testcontainers.compose import DockerCompose

    running = prepare(tmp_path_factory.mktemp("compose-ha"), project_name="obs-test-ha", profiles="",
                      compose_file="docker-compose.yml:docker-compose.ha.yml", port_offset=PORT_OFFSET)
    with DockerCompose(running.project, env_file=str(running.project / ".env"), build=True, wait=True):
        yield running


def get(stack: RunningStack, port_key: str, path: str, login: tuple[str, str], **params: str) -> Any:
    response = requests.get(f"{stack.url(port_key)}{path}", auth=login, params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def test_the_three_alertmanagers_form_one_cluster(ha_stack):
    login = ("alertmanager", ha_stack.env["ALERTMANAGER_WEB_PASSWORD"])
    for port_key in ("ALERTMANAGER_PORT", "ALERTMANAGER_B_PORT", "ALERTMANAGER_C_PORT"):
        poll(lambda: len(get(ha_stack, port_key, "/api/v2/status", login)["cluster"]["peers"]) == 3,
             f"{port_key}: three peers in the cluster", 180)


def test_both_replicas_reach_victoriametrics_as_one_copy(ha_stack):
    login = ("prometheus", ha_stack.env["PROMETHEUS_WEB_PASSWORD"])
    for port_key in ("PROMETHEUS_PORT", "PROMETHEUS_B_PORT"):
        poll(lambda: get(ha_stack, port_key, "/api/v1/query", login, query="prometheus_remote_storage_samples_total > 0")["data"]["result"],
             f"{port_key} sends samples to VictoriaMetrics", 180)
    series = poll(lambda: get(ha_stack, "VM_PORT", "/api/v1/query", login, query='up{job="node"}')["data"]["result"],
                  "node's `up` in VictoriaMetrics", 180)
    assert len(series) == 1 and "replica" not in series[0]["metric"], series


def test_grafana_reads_victoriametrics(ha_stack):
    login = (ha_stack.env.get("GRAFANA_ADMIN_USER") or "admin", ha_stack.env["GRAFANA_ADMIN_PASSWORD"])
    health = poll(lambda: get(ha_stack, "GRAFANA_PORT", "/api/datasources/uid/victoriametrics/health", login),
                  "Grafana's VictoriaMetrics datasource healthy", 180)
    assert health["status"] == "OK", health
