"""Runs the checks, each until it passes or the deadline, as results of obsstack.report."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import requests

from ..report import Result, Status
from .checks import CHECKS
from .stack import Skip, Stack

# What a failing check may raise: anything else is a bug in the check, and is not swallowed.
FAILURES = (requests.RequestException, subprocess.SubprocessError, AssertionError, KeyError, IndexError, ValueError)


def run_check(stack: Stack, component: str, name: str, check: Callable[[Stack], str], deadline: float) -> Result:
    start = time.monotonic()
    while True:
        try:
            return Result(name, Status.PASS, check(stack), component=component, seconds=round(time.monotonic() - start, 3))
        except Skip as skip:
            return Result(name, Status.SKIP, str(skip), component=component, seconds=round(time.monotonic() - start, 3))
        except FAILURES as exc:
            if time.monotonic() >= deadline:
                return Result(name, Status.FAIL, f"{type(exc).__name__}: {exc}", component=component,
                              seconds=round(time.monotonic() - start, 3))
            time.sleep(1)


def run_all(stack: Stack, wait_s: float) -> list[Result]:
    deadline = time.monotonic() + wait_s
    return [run_check(stack, component, name, check, deadline) for component, name, check in CHECKS]
