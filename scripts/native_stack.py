#!/usr/bin/env python3
"""Kept for `python3 scripts/native_stack.py`: the same as `obsstack native`."""
import sys

try:
    from obsstack.cli import main
except ImportError:
    sys.exit("obsstack is not installed: run `make test` (or `pip install -e .` in a virtual environment)")

sys.exit(main(["native", *sys.argv[1:]]))
