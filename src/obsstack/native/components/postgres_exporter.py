"""postgres_exporter, watching the native PostgreSQL."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component
from . import postgres


@component("postgres_exporter", compose_addresses=("postgres-exporter:9187",))
def build(ctx: Context) -> Component:
    url = ctx.url("postgres_exporter")
    return Component("postgres_exporter", [ctx.tool("postgres_exporter"),
                                           f"--web.listen-address=127.0.0.1:{ctx.ports['postgres_exporter']}"],
                     url, {"http": f"{url}/metrics", "contains": "\npg_up 1"}, env={"DATA_SOURCE_NAME": postgres.dsn(ctx)})
