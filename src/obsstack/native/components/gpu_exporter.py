"""Our GPU exporter on simulated GPUs: three, the last in MIG mode with three instances."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component


@component("gpu_exporter", compose_addresses=("gpu-exporter:9835",))
def build(ctx: Context) -> Component:
    url = ctx.url("gpu_exporter")
    return Component("gpu_exporter", [ctx.python, "-m", "gpu_exporter", "--listen", f"127.0.0.1:{ctx.ports['gpu_exporter']}",
                                      "--simulate", "3", "--simulate-mig", "3g.40gb,2g.20gb,1g.10gb"],
                     url, {"http": f"{url}/metrics", "contains": "gpu_exporter_up"})
