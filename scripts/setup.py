#!/usr/bin/env python3
"""Kept for the documented `python3 scripts/setup.py`: the same as `obsstack setup` (`--check-only`:
`obsstack validate`, `--urls`: `obsstack urls`). Needs the obsstack package: `make up` installs it."""
import sys

try:
    from obsstack.cli import main
except ImportError:
    sys.exit("obsstack is not installed: run `make up` (or `pip install -e .` in a virtual environment)")

argv = sys.argv[1:]
if "--urls" in argv:
    command = ["urls", *(a for a in argv if a not in ("--urls", "-y", "--non-interactive", "--skip-preflight", "--json"))]
elif "--check-only" in argv:
    command = ["validate", *(a for a in argv if a not in ("--check-only", "-y", "--non-interactive"))]
else:
    command = ["setup", *argv]
sys.exit(main(command))
