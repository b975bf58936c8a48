"""The metrics core on real binaries, natively on loopback, without Docker.

process.py  the generic supervisor (start, readiness, stop by process group, pids with start times)
registry.py how a component registers: its process from the run's Context, its files prepared first
components/ one module per component (PostgreSQL, Redis, the exporters, Alertmanager, Prometheus, ...)
stack.py    the stack as a whole: up, status, stop/start one, down
"""
from .process import Component, NativeStackError
from .registry import REGISTRY
from .stack import NativeStack

COMPONENTS = tuple(spec.name for spec in REGISTRY)

__all__ = ["COMPONENTS", "Component", "NativeStack", "NativeStackError"]
