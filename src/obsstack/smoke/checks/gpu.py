"""The GPU exporters answer: ours (simulated GPUs natively), and dcgm-exporter with the GPU overlay."""
from __future__ import annotations

from ..stack import Stack, get


def exporters_answer(stack: Stack) -> str:
    if stack.kind == "native":
        text = get(stack.endpoints["gpu_exporter"], "/metrics").text
        return "gpu-exporter answers" + (" (simulated GPUs)" if 'backend="simulated"' in text else "")
    jobs = ["gpu-exporter"] + (["dcgm"] if stack.gpu_overlay else [])
    down = [job for job in jobs if not any(r["value"][1] == "1" for r in stack.query(f'up{{job="{job}"}}'))]
    if down:
        raise AssertionError(f"not answering: {', '.join(down)}")
    return f"{', '.join(jobs)} answer" + ("" if stack.gpu_overlay else " (GPU overlay off: no dcgm-exporter)")


CHECKS = [("gpu", "exporters answer", exporters_answer)]
