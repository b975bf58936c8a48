"""Process name (/proc/PID/comm) and container id (/proc/PID/cgroup) for a PID, cached per PID."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# cgroup v2 systemd driver: .../docker-<64hex>.scope; cgroupfs driver: /docker/<64hex>; same for
# containerd, CRI-O and podman.
_CONTAINER = re.compile(r"(?:docker|cri-containerd|crio|libpod)[-/]([0-9a-f]{64})")


def container_id(cgroup_text: str) -> str:
    match = _CONTAINER.search(cgroup_text)
    return match.group(1)[:12] if match else ""


class ProcResolver:
    """PID -> (process name, short container id). Entries for PIDs no longer on a GPU are pruned."""

    def __init__(self, proc_root: str | Path = "/proc") -> None:
        self._root = Path(proc_root)
        self._cache: dict[int, tuple[str, str]] = {}

    def __call__(self, pid: int) -> tuple[str, str]:
        hit = self._cache.get(pid)
        if hit is None:
            hit = self._cache[pid] = self._read(pid)
        return hit

    def _read(self, pid: int) -> tuple[str, str]:
        base = self._root / str(pid)
        try:
            name = (base / "comm").read_text().strip()
        except OSError:
            # Another PID namespace (no hostPID) or already exited.
            return "unknown", ""
        try:
            container = container_id((base / "cgroup").read_text())
        except OSError:
            container = ""
        return name, container

    def prune(self, live: Iterable[int]) -> None:
        keep = set(live)
        for pid in [p for p in self._cache if p not in keep]:
            del self._cache[pid]
