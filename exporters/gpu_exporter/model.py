"""Immutable results of one collection, shared by all collectors and concurrent scrapes."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GpuInfo:
    """Static per-session data, read once per NVML session."""
    index: int
    uuid: str
    model: str
    pci_bus_id: str
    power_limit_watts: float | None
    mig: bool = False                              # MIG mode on: memory and processes per GPU instance


@dataclass(frozen=True)
class MigSample:
    """One GPU instance of a GPU in MIG mode (dcgm-exporter's labels GPU_I_ID, GPU_I_PROFILE)."""
    gpu_instance: str                              # GPU instance id
    profile: str                                   # e.g. 1g.10gb
    values: dict[str, float]


@dataclass(frozen=True)
class GpuSample:
    info: GpuInfo
    values: dict[str, float]                       # metric name -> value
    labelled: dict[str, dict[str, float]]          # metric name -> {extra label value -> value}
    instances: tuple[MigSample, ...] = ()


@dataclass(frozen=True)
class ProcessSeries:
    gpu: str
    uuid: str
    process: str
    container: str
    memory_bytes: float | None
    sm_ratio: float | None
    gpu_instance: str = ""                         # MIG: GPU instance id and profile, else ""
    profile: str = ""


@dataclass(frozen=True)
class Snapshot:
    up: bool
    reason: str
    devices: int | None = None
    driver_version: str = ""
    cuda_version: str = ""
    gpus: tuple[GpuSample, ...] = ()
    processes: tuple[ProcessSeries, ...] = ()
    errors: dict[str, int] = field(default_factory=dict)
    processes_dropped: int = 0
    duration_seconds: float | None = None
    last_success: float | None = None
    finished: float = 0.0                          # monotonic time the collection finished
