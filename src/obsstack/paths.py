"""Every path the tools use, and its override: one place.

OBSSTACK_PROJECT_DIR  the stack's folder (docker-compose.yml, .env); default: the checkout this
                      package is installed from (an editable install), else the current folder
OBS_TOOLS_DIR         the test toolchain (real Prometheus, promtool, ...); default: PROJECT/.tools
"""
from __future__ import annotations

import os
from pathlib import Path

# src/obsstack/paths.py -> the checkout, when installed editable from it
_CHECKOUT = Path(__file__).resolve().parents[2]


def project_dir() -> Path:
    override = os.environ.get("OBSSTACK_PROJECT_DIR")
    if override:
        return Path(override).resolve()
    if (_CHECKOUT / "docker-compose.yml").exists():
        return _CHECKOUT
    return Path.cwd()


def env_file(project: Path | None = None) -> Path:
    return (project or project_dir()) / ".env"


def tools_dir(project: Path | None = None) -> Path:
    override = os.environ.get("OBS_TOOLS_DIR")
    return Path(override) if override else (project or project_dir()) / ".tools"


def tools_bin(project: Path | None = None) -> Path:
    return tools_dir(project) / "bin"


def native_state_dir(project: Path | None = None) -> Path:
    return (project or project_dir()) / ".native"
