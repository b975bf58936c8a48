"""Redis (Debian's build from the toolchain), password-protected, no persistence."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component
from ..server import write_secret


def url(ctx: Context) -> str:
    return f"redis://:{ctx.passwords['redis']}@127.0.0.1:{ctx.ports['redis']}/0"


@component("redis", login=True)
def build(ctx: Context) -> Component:
    port = ctx.ports["redis"]
    # The password in a config file (mode 0600), not in `--requirepass`, where `ps` shows it to anyone.
    config = write_secret(ctx, "redis.conf", f"requirepass {ctx.passwords['redis']}")
    return Component("redis", [ctx.tool("redis-server"), config, "--bind", "127.0.0.1", "--port", str(port),
                               "--save", "", "--appendonly", "no", "--dir", str(ctx.state)],
                     f"redis://127.0.0.1:{port}", {"tcp": port}, auth=("default", ctx.passwords["redis"]))
