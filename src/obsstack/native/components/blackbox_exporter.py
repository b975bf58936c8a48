"""blackbox_exporter with the project's own blackbox/blackbox.yml."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component


@component("blackbox_exporter", compose_addresses=("blackbox-exporter:9115",))
def build(ctx: Context) -> Component:
    url = ctx.url("blackbox_exporter")
    return Component("blackbox_exporter", [ctx.tool("blackbox_exporter"), f"--config.file={ctx.project / 'blackbox/blackbox.yml'}",
                                           f"--web.listen-address=127.0.0.1:{ctx.ports['blackbox_exporter']}"],
                     url, {"http": f"{url}/-/healthy"})
