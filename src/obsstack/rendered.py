"""Files rendered from one source of truth and committed beside it (the dashboards, the agent
bundle, the HA overlay's configs): write them, or check that the committed ones are current."""
from __future__ import annotations

import sys
from pathlib import Path


def stale(files: dict[Path, str]) -> list[Path]:
    """The files whose committed text differs from their rendering (or that are missing)."""
    return [path for path, text in files.items() if not path.exists() or path.read_text() != text]


def write(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_or_check(files: dict[Path, str], project: Path, check: bool, command: str) -> int:
    """The subcommands' behaviour: write FILES, or with CHECK exit 1 naming those out of date."""
    if not check:
        write(files)
        return 0
    out_of_date = [str(path.relative_to(project)) for path in stale(files)]
    if out_of_date:
        print(f"out of date, run `{command}`: {', '.join(out_of_date)}", file=sys.stderr)
        return 1
    return 0
