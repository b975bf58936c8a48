"""Alertmanager with the config setup renders (alertmanager/alertmanager.yml, teams.yml), every
receiver delivering to the webhook sink, its flags read from docker-compose.yml."""
from __future__ import annotations

import yaml

from ... import alertmanager_config, native_config
from ..process import Component
from ..registry import Context, component
from ..server import server_argv, write_web_config, write_yaml


def render(ctx: Context) -> None:
    write_web_config(ctx, "alertmanager")
    links = ctx.state / "alertmanager/links.tmpl"
    links.parent.mkdir(parents=True, exist_ok=True)
    links.write_text(alertmanager_config.links_template("http://localhost:3000"))
    shipped = alertmanager_config.render(yaml.safe_load((ctx.project / "alertmanager/alertmanager.yml").read_text()), {},
                                         alertmanager_config.read_teams(ctx.project / "alertmanager/teams.yml"))
    config = native_config.render_alertmanager(shipped, ctx.url("webhook_sink"),
                                               templates_dir=ctx.project / "alertmanager/templates",
                                               links_template=links, scale=ctx.scale)
    write_yaml(ctx.state / "alertmanager/alertmanager.yml", config)


@component("alertmanager", compose_addresses=("alertmanager:9093",), login=True, prepare=render)
def build(ctx: Context) -> Component:
    url = ctx.url("alertmanager")
    return Component("alertmanager", server_argv(ctx, "alertmanager", "--storage.path"),
                     url, {"http": f"{url}/-/ready", "auth": True}, auth=("alertmanager", ctx.passwords["alertmanager"]))
