"""redis_exporter, watching the native Redis."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component


@component("redis_exporter", compose_addresses=("redis-exporter:9121",))
def build(ctx: Context) -> Component:
    url = ctx.url("redis_exporter")
    return Component("redis_exporter", [ctx.tool("redis_exporter"), f"-redis.addr=redis://127.0.0.1:{ctx.ports['redis']}",
                                        f"-web.listen-address=127.0.0.1:{ctx.ports['redis_exporter']}"],
                     url, {"http": f"{url}/metrics", "contains": "\nredis_up 1"}, env={"REDIS_PASSWORD": ctx.passwords["redis"]})
