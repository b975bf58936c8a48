"""redis_exporter, watching the native Redis."""
from __future__ import annotations

import json

from ..process import Component
from ..registry import Context, component
from ..server import write_secret


@component("redis_exporter", compose_addresses=("redis-exporter:9121",))
def build(ctx: Context) -> Component:
    url = ctx.url("redis_exporter")
    address = f"redis://127.0.0.1:{ctx.ports['redis']}"
    # As compose gives it: REDIS_PASSWORD_FILE, a JSON map of address -> password (redis_exporter's format).
    password_file = write_secret(ctx, "redis-exporter-passwords.json", json.dumps({address: ctx.passwords["redis"]}))
    return Component("redis_exporter", [ctx.tool("redis_exporter"), f"-redis.addr={address}",
                                        f"-web.listen-address=127.0.0.1:{ctx.ports['redis_exporter']}"],
                     url, {"http": f"{url}/metrics", "contains": "\nredis_up 1"}, env={"REDIS_PASSWORD_FILE": password_file})
