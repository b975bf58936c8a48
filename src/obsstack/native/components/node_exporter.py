"""node_exporter, for the host it runs on."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component


@component("node_exporter", compose_addresses=("node-exporter:9100",))
def build(ctx: Context) -> Component:
    url = ctx.url("node_exporter")
    return Component("node_exporter", [ctx.tool("node_exporter"), f"--web.listen-address=127.0.0.1:{ctx.ports['node_exporter']}"],
                     url, {"http": f"{url}/metrics", "contains": "node_cpu_seconds_total"})
