"""Wiring: one sampler and one shared collection behind the device, process and self collectors."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from .device_collector import DeviceCollector
from .process_collector import ProcessCollector
from .sampler import Sampler, SamplerOptions
from .self_collector import SelfCollector
from .worker import Collection, Ticker
from .xid import XidWatcher

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    interval: float = 0.0          # 0: collect on scrape; >0: collect in the background every N s
    deadline: float = 5.0
    max_age: float = 1.0           # on scrape: reuse a collection younger than this (shared by concurrent scrapes)
    processes: bool = True
    max_processes: int = 100
    pcie_throughput: bool = False
    xid: bool = False


class Exporter:
    def __init__(self, nvml: Any, backend: str = "nvml", config: Config = Config(),
                 resolve: Callable[[int], tuple[str, str]] | None = None) -> None:
        self.config = config
        self.sampler = Sampler(nvml, SamplerOptions(config.processes, config.max_processes, config.pcie_throughput),
                               resolve)
        max_age = config.interval if config.interval > 0 else config.max_age
        self.collection = Collection(self.sampler.sample, deadline=config.deadline, max_age=max_age * 2 if config.interval > 0 else max_age)
        self.collectors: list[Any] = [SelfCollector(self.collection, backend), DeviceCollector(self.collection)]
        if config.processes:
            self.collectors.append(ProcessCollector(self.collection))
        self.xid = XidWatcher(nvml) if config.xid else None
        if self.xid:
            self.collectors.append(self.xid)
        self._ticker = Ticker(self.collection, config.interval) if config.interval > 0 else None

    def register(self, registry: CollectorRegistry) -> None:
        for collector in self.collectors:
            registry.register(collector)

    def start(self) -> None:
        if self._ticker:
            self._ticker.start()
        if self.xid:
            self.xid.start()

    def close(self) -> None:
        if self._ticker:
            self._ticker.stop()
        if self.xid:
            self.xid.stop()
        # Not while a (possibly hung) collection runs: nvmlShutdown would race it. Process exit frees NVML.
        self.collection.close(self.sampler.close)
