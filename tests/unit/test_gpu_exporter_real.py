"""Against real NVML and nvidia-smi: runs only on a machine with an NVIDIA GPU (marker `gpu`)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def _nvidia_gpu() -> str | None:
    """None when a GPU is usable, else why not."""
    if shutil.which("nvidia-smi") is None:
        return "no nvidia-smi on PATH (no NVIDIA driver on this machine)"
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi failed: {exc}"
    if out.returncode != 0 or "GPU " not in out.stdout:
        return f"nvidia-smi lists no GPU: {(out.stdout + out.stderr).strip()[:200]}"
    return None


def _gpu_marker_registered() -> bool:
    # --strict-markers: apply the `gpu` marker only once pyproject.toml registers it.
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    markers = config.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("markers", [])
    return any(m.split(":")[0].strip() == "gpu" for m in markers)


pytestmark = [pytest.mark.gpu] if _gpu_marker_registered() else []


def test_gpu_check_agrees_with_nvidia_smi():
    reason = _nvidia_gpu()
    if reason:
        pytest.skip(reason)
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--runs", "5"],
                            capture_output=True, text=True, timeout=300)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
