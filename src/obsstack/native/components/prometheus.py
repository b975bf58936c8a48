"""Prometheus with the project's prometheus.yml and rules: compose addresses made native, the jobs
of services that cannot run here left out (and said so), every interval in the run's time scale."""
from __future__ import annotations

import yaml

from ... import native_config
from ...rules import rule_files
from ..process import Component
from ..registry import Context, component
from ..server import server_argv, write_web_config, write_yaml


def render(ctx: Context) -> None:
    write_web_config(ctx, "prometheus")
    config, skipped = native_config.render_prometheus(
        yaml.safe_load((ctx.project / "prometheus/prometheus.yml").read_text()), ctx.addresses(), web_dir=ctx.state / "web",
        rules_dir=ctx.state / "rules", targets_dir=ctx.project / "prometheus/targets", scale=ctx.scale)
    write_yaml(ctx.state / "prometheus/prometheus.yml", config)
    for rules in rule_files(ctx.project):
        write_yaml(ctx.state / "rules" / rules.name,
                   native_config.render_rules(yaml.safe_load(rules.read_text()), ctx.scale, set(skipped)))
    ctx.facts["skipped_jobs"] = skipped


@component("prometheus", compose_addresses=("localhost:9090", "prometheus:9090"), login=True, prepare=render)
def build(ctx: Context) -> Component:
    url = ctx.url("prometheus")
    # Alerts already firing when Prometheus starts (the Watchdog) are first sent one resend delay
    # later (1m by default, measured on 3.5.3); a scaled time shortens it too.
    extra = {"--rules.alert.resend-delay": ctx.scale.alert_resend_delay} if ctx.scale.alert_resend_delay else {}
    return Component("prometheus", server_argv(ctx, "prometheus", "--storage.tsdb.path", extra),
                     url, {"http": f"{url}/-/ready", "auth": True}, auth=("prometheus", ctx.passwords["prometheus"]),
                     env={"STACK_CLUSTER": "native", "STACK_ENVIRONMENT": "test"})
