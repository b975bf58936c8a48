#!/usr/bin/env python3
"""Time scripts/setup.py as a whole process: first run (writes .env, 15 secrets, 2 bcrypt hashes,
validates every config) and re-run (keeps .env). Prints min / median / max over --runs.

    .venv/bin/python bench/bench_setup.py --runs 10
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from obsstack import paths

ROOT = paths.project_dir()


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    first, again = [], []
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "stack"
        shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", ".venv", ".tools", ".env", "__pycache__"))
        (project / ".tools").symlink_to(ROOT / ".tools")
        cmd = [sys.executable, str(project / "scripts/setup.py"), "--project-dir", str(project), "-y", "--skip-preflight"]
        for _ in range(args.runs):
            (project / ".env").unlink(missing_ok=True)
            first.append(timed(cmd))
            again.append(timed(cmd))
    for name, samples in (("setup, first run", first), ("setup, re-run", again)):
        print(f"{name:<18} min {min(samples):.2f}s  median {statistics.median(samples):.2f}s  max {max(samples):.2f}s"
              f"  ({len(samples)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
