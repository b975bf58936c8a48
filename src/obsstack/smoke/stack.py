"""The stack a smoke test checks, whichever way it was deployed, and how checks reach it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .. import compose, envfile, paths
from ..checks import render_project
from ..native import COMPONENTS as NATIVE_COMPONENTS
from ..uis import BY_PORT

TIMEOUT_S = 5
NATIVE_ONLY_REASON = "not part of the native stack (cannot run without Docker)"
# The smoke test's components that are compose services only some profiles run.
OPTIONAL_SERVICES = {"elasticsearch": "elasticsearch", "kibana": "kibana", "filebeat": "filebeat", "jaeger": "jaeger",
                     "demo_app": "demo-app"}


class SmokeError(Exception):
    """The stack to check could not be read; the message says why."""


class Skip(Exception):
    """The component is not deployed; the message says why."""


@dataclass
class Endpoint:
    url: str
    auth: tuple[str, str] | None = None


@dataclass
class Stack:
    kind: str  # "compose" or "native"
    endpoints: dict[str, Endpoint]
    not_deployed: dict[str, str] = field(default_factory=dict)  # component -> why
    gpu_overlay: bool = False
    project_dir: Path = field(default_factory=paths.project_dir)

    @classmethod
    def from_env(cls, path: Path, project_dir: Path) -> Stack:
        """The compose stack as `config` renders it with this .env: which services run, on which
        published ports, and the logins from .env."""
        project, error = render_project(project_dir, path)
        if project is None:
            raise SmokeError(f"cannot read the stack from {project_dir} with {path}: {error}")
        env = envfile.read_env(path)
        services = project["services"]
        endpoints = {}
        for port in compose.published_ports(project):
            ui = BY_PORT.get((port.service, port.target))
            if ui and ui.component:
                host = "127.0.0.1" if port.host_ip in ("", "0.0.0.0") else port.host_ip
                endpoints[ui.component] = Endpoint(f"http://{host}:{port.port}", ui.login(env))
        not_deployed = {component: f"service {service} is not in this stack (COMPOSE_PROFILES)"
                        for component, service in OPTIONAL_SERVICES.items() if service not in services}
        return cls("compose", endpoints, not_deployed, "dcgm-exporter" in services, project_dir)

    @classmethod
    def from_native(cls, path: Path) -> Stack:
        data = json.loads(path.read_text())
        endpoints = {name: Endpoint(c["url"], tuple(c["auth"]) if c.get("auth") else None)
                     for name, c in data["components"].items()}
        not_deployed = {name: NATIVE_ONLY_REASON for name in ("grafana", "elasticsearch", "kibana", "filebeat", "jaeger")
                        if name not in NATIVE_COMPONENTS}
        return cls("native", endpoints, not_deployed)

    def needs(self, component: str) -> Endpoint | None:
        """The component's endpoint; Skip (with the reason) when it is not deployed."""
        if component in self.not_deployed:
            raise Skip(self.not_deployed[component])
        return self.endpoints.get(component)

    def query(self, expr: str) -> list[dict]:
        """An instant PromQL query against the stack's Prometheus."""
        return get(self.endpoints["prometheus"], "/api/v1/query", params={"query": expr}).json()["data"]["result"]


def get(endpoint: Endpoint, path: str, **kwargs) -> requests.Response:
    response = requests.get(f"{endpoint.url}{path}", auth=endpoint.auth, timeout=TIMEOUT_S, **kwargs)
    response.raise_for_status()
    return response
