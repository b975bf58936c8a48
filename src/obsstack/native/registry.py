"""How a component joins the native stack: a module under components/ registers a function that
builds its process (command line, readiness check) from the run's Context, and optionally one that
prepares its files first (configs, a database), the way node_exporter's collectors register."""
from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..net import free_port
from ..timescale import TimeScale
from .process import Component, NativeStackError


@dataclass
class Context:
    """What a component needs to know about this run: where things are, its port, its password."""

    project: Path
    state: Path
    tools: Path
    scale: TimeScale
    ports: dict[str, int]
    passwords: dict[str, str]
    python: str = sys.executable
    # What one component's preparation tells the others (e.g. the scrape jobs left out).
    facts: dict[str, Any] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def tool(self, name: str) -> str:
        path = self.tools / name
        if not path.exists():
            raise NativeStackError(f"{path} is missing: run `obsstack toolchain install` (or `make test`)")
        return str(path)

    def addresses(self) -> dict[str, str]:
        """Every compose `service:port` the configs name -> the native component's loopback address."""
        return {address: f"127.0.0.1:{self.ports[spec.name]}" for spec in REGISTRY for address in spec.compose_addresses}


@dataclass(frozen=True)
class Registered:
    name: str
    build: Callable[[Context], Component]
    # compose `service:port` addresses this component stands in for natively
    compose_addresses: tuple[str, ...] = ()
    # it has a login: a password is generated for the run
    login: bool = False
    prepare: Callable[[Context], None] | None = None


# In start order: what a component depends on registers (and so starts) before it.
REGISTRY: list[Registered] = []


def component(name: str, *, compose_addresses: tuple[str, ...] = (), login: bool = False,
              prepare: Callable[[Context], None] | None = None) -> Callable[[Callable[[Context], Component]], Callable[[Context], Component]]:
    def register(build: Callable[[Context], Component]) -> Callable[[Context], Component]:
        if any(spec.name == name for spec in REGISTRY):
            raise ValueError(f"component {name} registered twice")
        REGISTRY.append(Registered(name, build, compose_addresses, login, prepare))
        return build

    return register


def new_context(project: Path, state: Path, tools: Path, scale: TimeScale) -> Context:
    return Context(project, state, tools, scale, ports={spec.name: free_port() for spec in REGISTRY},
                   passwords={spec.name: secrets.token_urlsafe(18) for spec in REGISTRY if spec.login})
