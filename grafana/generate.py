#!/usr/bin/env python3
"""Kept for `python3 grafana/generate.py [--check]`: the same as `obsstack dashboards`. The
dashboards' code lives in src/obsstack/dashboards/ (one module per dashboard)."""
import sys

try:
    from obsstack.cli import main
except ImportError:
    sys.exit("obsstack is not installed: run `make test` (or `pip install -e .` in a virtual environment)")

sys.exit(main(["dashboards", *sys.argv[1:]]))
