#!/usr/bin/env python3
"""Kept for `python3 scripts/toolchain.py`: the same as `obsstack toolchain`."""
import sys

try:
    from obsstack.cli import main
except ImportError:
    sys.exit("obsstack is not installed: run `make test` (or `pip install -e .` in a virtual environment)")

sys.exit(main(["toolchain", *sys.argv[1:]]))
