"""Dashboards as code: one module per dashboard (its build() returns the dashboard's JSON), built
with builder.py; render() gives every grafana/dashboards/<folder>/<uid>.json (`obsstack dashboards`)."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import (
    application,
    containers,
    gpu,
    logs_pipeline,
    node,
    overview,
    postgresql,
    redis,
    slo,
    stack_health,
    tracing,
)

# Folder (Grafana shows the directory name as the folder title) and uid -> builder.
DASHBOARDS: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
    ("Overview", "overview"): overview.build,
    ("Infrastructure", "node"): node.build,
    ("Infrastructure", "containers"): containers.build,
    ("Data stores", "postgresql"): postgresql.build,
    ("Data stores", "redis"): redis.build,
    ("GPU", "gpu"): gpu.build,
    ("Application", "application"): application.build,
    ("Application", "slo"): slo.build,
    ("Stack health", "stack-health"): stack_health.build,
    ("Stack health", "logs-pipeline"): logs_pipeline.build,
    ("Stack health", "tracing"): tracing.build,
}


def render(project: Path) -> dict[Path, str]:
    """Each dashboard's file under project/grafana/dashboards and its JSON text."""
    return {project / "grafana/dashboards" / folder / f"{uid}.json": json.dumps(build(), indent=2, sort_keys=True) + "\n"
            for (folder, uid), build in DASHBOARDS.items()}
