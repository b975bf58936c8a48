"""Redis (Debian's build from the toolchain), password-protected, no persistence."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component


def url(ctx: Context) -> str:
    return f"redis://:{ctx.passwords['redis']}@127.0.0.1:{ctx.ports['redis']}/0"


@component("redis", login=True)
def build(ctx: Context) -> Component:
    port = ctx.ports["redis"]
    return Component("redis", [ctx.tool("redis-server"), "--bind", "127.0.0.1", "--port", str(port),
                               "--requirepass", ctx.passwords["redis"], "--save", "", "--appendonly", "no",
                               "--dir", str(ctx.state)],
                     f"redis://127.0.0.1:{port}", {"tcp": port}, auth=("default", ctx.passwords["redis"]))
