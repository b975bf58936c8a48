"""Prometheus' and Alertmanager's command lines and web configs: docker-compose.yml's own flags and
basic auth, with the paths and addresses made native."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import bcrypt
import yaml

from .. import native_config
from ..envfile import write_private
from .registry import Context


def server_argv(ctx: Context, service: str, storage_flag: str, extra: dict[str, str] | None = None) -> list[str]:
    return [ctx.tool(service), *native_config.replace_flags(
        native_config.compose_command(ctx.project / "docker-compose.yml", service), {
            "--config.file": str(ctx.state / service / f"{service}.yml"),
            storage_flag: str(ctx.state / service / "data"),
            "--web.config.file": str(ctx.state / "web" / f"{service}-web.yml"),
            "--web.external-url": ctx.url(service),
            "--web.listen-address": f"127.0.0.1:{ctx.ports[service]}",
            **(extra or {}),
        })]


def write_web_config(ctx: Context, service: str) -> None:
    """Basic auth as compose renders it (a bcrypt hash), and the password file Prometheus reads."""
    web = ctx.state / "web"
    hashed = bcrypt.hashpw(ctx.passwords[service].encode(), bcrypt.gensalt(rounds=8)).decode()
    write_yaml(web / f"{service}-web.yml", native_config.web_config(service, hashed))
    write_private(web / f"{service}-password", ctx.passwords[service])


def write_secret(ctx: Context, name: str, value: str) -> str:
    """A secret as a file (STATE/secrets/NAME, mode 0600) for a *_FILE setting: off every command line."""
    secrets = ctx.state / "secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    write_private(secrets / name, value + "\n")
    return str(secrets / name)


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
