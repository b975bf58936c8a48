"""postgres_exporter, watching the native PostgreSQL."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component
from ..server import write_secret


@component("postgres_exporter", compose_addresses=("postgres-exporter:9187",))
def build(ctx: Context) -> Component:
    url = ctx.url("postgres_exporter")
    return Component("postgres_exporter", [ctx.tool("postgres_exporter"),
                                           f"--web.listen-address=127.0.0.1:{ctx.ports['postgres_exporter']}"],
                     url, {"http": f"{url}/metrics", "contains": "\npg_up 1"},
                     # As compose gives it: the password from a file (DATA_SOURCE_PASS_FILE), never in the environment.
                     env={"DATA_SOURCE_URI": f"127.0.0.1:{ctx.ports['postgres']}/postgres?sslmode=disable",
                          "DATA_SOURCE_USER": "postgres",
                          "DATA_SOURCE_PASS_FILE": write_secret(ctx, "postgres-password", ctx.passwords["postgres"])})
