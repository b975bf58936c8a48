"""The compose stack the Docker suite (tests/docker/) runs: one copy of the repository, its own project name and
ports (so a developer's own stack is untouched), every profile on. Shared by the suite's modules."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from conftest import ROOT
from obsstack import envfile

DEADLINE_S = 600
PROJECT = "obs-test"
PORTS = {"GRAFANA_PORT": 23000, "PROMETHEUS_PORT": 29090, "ALERTMANAGER_PORT": 29093, "KIBANA_PORT": 25601,
         "ELASTICSEARCH_PORT": 29200, "JAEGER_UI_PORT": 26686, "OTLP_GRPC_PORT": 24317, "OTLP_HTTP_PORT": 24318,
         # The tls profile's ports (Caddy listens inside on the same numbers).
         "TLS_HTTP_PORT": 20080, "TLS_HTTPS_PORT": 20443, "PROMETHEUS_TLS_PORT": 29443, "ALERTMANAGER_TLS_PORT": 29493,
         "KIBANA_TLS_PORT": 25643, "JAEGER_TLS_PORT": 26643, "OTLP_HTTP_TLS_PORT": 24328, "OTLP_GRPC_TLS_PORT": 24327,
         # Other hosts' Filebeat (logging) and the HA overlay's ports (tests/docker/test_ha_stack.py).
         "LOGSTASH_HOSTS_PORT": 25045, "PROMETHEUS_B_PORT": 29092, "ALERTMANAGER_B_PORT": 29095,
         "ALERTMANAGER_C_PORT": 29096, "VM_PORT": 28428, "PROMETHEUS_B_TLS_PORT": 29444}


@dataclass
class RunningStack:
    project: Path
    env: dict[str, str]
    port_offset: int = 0

    def url(self, port_key: str) -> str:
        return f"http://127.0.0.1:{PORTS[port_key] + self.port_offset}"

    def compose(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "compose", "--project-directory", str(self.project), *args],
                              capture_output=True, text=True, timeout=timeout, check=check)

    @property
    def elastic(self) -> tuple[str, str]:
        return ("elastic", self.env["ELASTIC_PASSWORD"])

    def reload_env(self) -> None:
        self.env = envfile.read_env(self.project / ".env")


def prepare(tmp: Path, project_name: str = PROJECT, profiles: str = "logging,tracing,demo,tls", compose_file: str = "",
            port_offset: int = 0) -> RunningStack:
    """A copy of the repository set up as `make up` would, with its own project name and ports
    (PORTS + PORT_OFFSET: two test stacks can run side by side)."""
    project = tmp / "stack"
    # hosts/ and the files rendered from it: a developer's own registry must not make the test stack expect hosts.
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", ".venv", ".tools", ".env", "__pycache__", "hosts",
                                                                 "generated"))
    setup = subprocess.run([sys.executable, "-m", "obsstack", "setup", "--project-dir", str(project), "-y",
                            "--skip-preflight"], capture_output=True, text=True, check=False)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    env_path = project / ".env"
    text = env_path.read_text().replace("COMPOSE_PROJECT_NAME=observability", f"COMPOSE_PROJECT_NAME={project_name}")
    for key, port in PORTS.items():
        text = re.sub(rf"(?m)^{key}=.*$", f"{key}={port + port_offset}", text)
    text = re.sub(r"(?m)^COMPOSE_PROFILES=.*$", f"COMPOSE_PROFILES={profiles}", text)
    if compose_file:
        text = re.sub(r"(?m)^COMPOSE_FILE=.*$", "", text) + f"COMPOSE_FILE={compose_file}\n"
    text = re.sub(r"(?m)^JAEGER_PUBLIC_URL=.*$", f"JAEGER_PUBLIC_URL=http://localhost:{PORTS['JAEGER_UI_PORT']}", text)
    env_path.write_text(text)
    return RunningStack(project, envfile.read_env(env_path), port_offset)


def poll(check: Callable[[], object], what: str, deadline_s: float = DEADLINE_S) -> object:
    """Call check until it returns something truthy (returned) or the deadline passes (the test fails)."""
    deadline = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except (requests.RequestException, KeyError, ValueError) as exc:
            last = exc
        time.sleep(2)
    pytest.fail(f"{what} not true within {deadline_s:.0f}s (last: {last!r})")
