"""Replacing a folder as a whole: what backup's restore, `obsstack hosts add` (a host's bundle) and
`obsstack export` (the Kubernetes objects) do, so that a failure never leaves half of one."""
from __future__ import annotations

import shutil
from pathlib import Path


def replace_dir(staged: Path, live: Path) -> None:
    """Put STAGED where LIVE is (both in one folder, so each rename is atomic). The old LIVE is
    removed afterwards, or put back if STAGED cannot take its place."""
    old = live.with_name(f".{live.name}.replaced")
    shutil.rmtree(old, ignore_errors=True)
    if live.exists():
        live.rename(old)
    try:
        staged.rename(live)
    except OSError:
        if old.exists():
            old.rename(live)
        raise
    shutil.rmtree(old, ignore_errors=True)
