"""The webhook sink: every Alertmanager receiver delivers here natively, so tests see each notification."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component


@component("webhook_sink")
def build(ctx: Context) -> Component:
    return Component("webhook_sink", [ctx.python, "-m", "obsstack.webhook_sink", "--listen",
                                      f"127.0.0.1:{ctx.ports['webhook_sink']}", "--out",
                                      str(ctx.state / "notifications.jsonl")],
                     ctx.url("webhook_sink"), {"http": f"{ctx.url('webhook_sink')}/healthz"})
