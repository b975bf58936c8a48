#!/usr/bin/env python3
"""Kept for the documented `python3 scripts/smoke_test.py`: the same as `obsstack smoke`."""
import sys

try:
    from obsstack.cli import main
except ImportError:
    sys.exit("obsstack is not installed: run `make up` (or `pip install -e .` in a virtual environment)")

sys.exit(main(["smoke", *sys.argv[1:]]))
