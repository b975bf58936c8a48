"""A simulated NVML for demos and the native stack on machines without GPUs. Off unless asked
(--simulate N); its series carry backend="simulated" on gpu_exporter_backend so no one mistakes them.

Values are deterministic functions of the GPU index and a slowly moving phase (time), so dashboards
move but tests can pin ``clock``."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pynvml

NVMLError = pynvml.NVMLError
GIB = 1024 ** 3


class _Handle:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _MigHandle(_Handle):
    """A MIG device (GPU instance) of GPU ``index``: NVML gives these their own handles."""
    __slots__ = ("gi_id", "profile", "slices")

    def __init__(self, index: int, gi_id: int, profile: str) -> None:
        super().__init__(index)
        self.gi_id = gi_id
        self.profile = profile
        self.slices = int(profile.split("g.")[0])          # "3g.40gb" -> 3 of the GPU's 7 slices


MIG_SLOTS = 7        # nvmlDeviceGetMaxMigDeviceCount on an A100/H100 in MIG mode


class SimulatedNvml:
    """The slice of the pynvml module API the exporter calls, answering for ``count`` GPUs and
    ``processes`` GPU processes spread over them (PIDs from 100000, names like train-3)."""

    NVMLError = pynvml.NVMLError
    NVMLError_Timeout = pynvml.NVMLError_Timeout

    def __init__(self, count: int, processes: int = 0, clock: Callable[[], float] = time.time,
                 mig: dict[int, list[str]] | None = None) -> None:
        """``mig``: GPU index -> its GPU instances' profiles (e.g. {1: ["3g.40gb", "1g.10gb"]}) for
        GPUs in MIG mode; GPU instance ids are assigned 1, 2, ... in that order."""
        self.count = count
        self.processes = processes if processes else 2 * count
        self.clock = clock
        self.initialised = 0
        self._handles = [_Handle(i) for i in range(count)]
        self._mig = {index: [_MigHandle(index, gi + 1, profile) for gi, profile in enumerate(profiles)]
                     for index, profiles in (mig or {}).items()}

    # ------------------------------------------------------------------ session
    def _check(self) -> None:
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        self.initialised += 1

    def nvmlShutdown(self) -> None:  # noqa: N802
        self._check()
        self.initialised -= 1

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        return "550.54.15"

    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802
        return 12040

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self._check()
        return self.count

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:  # noqa: N802
        self._check()
        if not 0 <= index < self.count:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self._handles[index]

    # ------------------------------------------------------------------ static
    def nvmlDeviceGetUUID(self, h: _Handle) -> str:  # noqa: N802
        return f"GPU-5151{h.index:04x}-0000-4000-8000-00000000{h.index:04x}"

    def nvmlDeviceGetName(self, h: _Handle) -> str:  # noqa: N802
        if isinstance(h, _MigHandle):
            return f"Simulated NVIDIA H100 80GB HBM3 MIG {h.profile}"
        return "Simulated NVIDIA H100 80GB HBM3"

    # ------------------------------------------------------------------ MIG (answers as a real H100 gave them)
    def nvmlDeviceGetMigMode(self, h: _Handle) -> list[int]:  # noqa: N802
        on = pynvml.NVML_DEVICE_MIG_ENABLE if h.index in self._mig else pynvml.NVML_DEVICE_MIG_DISABLE
        return [on, on]                                       # [current, pending]

    def nvmlDeviceGetMaxMigDeviceCount(self, h: _Handle) -> int:  # noqa: N802
        return MIG_SLOTS if h.index in self._mig else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: _Handle, slot: int) -> _MigHandle:  # noqa: N802
        instances = self._mig.get(h.index, [])
        if slot >= len(instances):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return instances[slot]

    def nvmlDeviceGetGpuInstanceId(self, h: _Handle) -> int:  # noqa: N802
        if not isinstance(h, _MigHandle):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return h.gi_id

    def nvmlDeviceGetPciInfo(self, h: _Handle) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(busId=f"00000000:{0x18 + h.index:02X}:00.0")

    def nvmlDeviceGetEnforcedPowerLimit(self, h: _Handle) -> int:  # noqa: N802
        return 700_000

    # ------------------------------------------------------------------ dynamic
    def _wave(self, h: _Handle, period: float = 300.0) -> float:
        """0..1, a different phase per GPU."""
        return 0.5 + 0.5 * math.sin(2 * math.pi * (self.clock() / period + h.index / 7))

    def nvmlDeviceGetUtilizationRates(self, h: _Handle) -> SimpleNamespace:  # noqa: N802
        if h.index in self._mig:        # NVML has no utilisation for GPUs in MIG mode
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        w = self._wave(h)
        return SimpleNamespace(gpu=int(20 + 75 * w), memory=int(10 + 50 * w))

    def nvmlDeviceGetEncoderUtilization(self, h: _Handle) -> list[int]:  # noqa: N802
        return [0, 167000]

    def nvmlDeviceGetDecoderUtilization(self, h: _Handle) -> list[int]:  # noqa: N802
        return [0, 167000]

    def nvmlDeviceGetMemoryInfo(self, h: _Handle, version: int | None = None) -> SimpleNamespace:  # noqa: N802
        total, reserved = 80 * GIB, 512 * 1024 ** 2
        used = int((10 + 60 * self._wave(h, 900)) * GIB)
        if isinstance(h, _MigHandle):
            total, reserved = h.slices * 10 * GIB, 0
            used = min(sum(p.usedGpuMemory for p in self.nvmlDeviceGetComputeRunningProcesses(h)), total)
        return SimpleNamespace(total=total, reserved=reserved, used=used, free=total - reserved - used)

    def nvmlDeviceGetTemperature(self, h: _Handle, sensor: int) -> int:  # noqa: N802
        return int(40 + 35 * self._wave(h))

    def nvmlDeviceGetFieldValues(self, h: _Handle, ids: list[int]) -> list[SimpleNamespace]:  # noqa: N802
        return [SimpleNamespace(fieldId=i, nvmlReturn=pynvml.NVML_SUCCESS, valueType=pynvml.NVML_VALUE_TYPE_UNSIGNED_INT,
                                value=SimpleNamespace(uiVal=int(45 + 30 * self._wave(h)))) for i in ids]

    def nvmlDeviceGetPowerUsage(self, h: _Handle) -> int:  # noqa: N802
        return int(90_000 + 580_000 * self._wave(h))

    def nvmlDeviceGetTotalEnergyConsumption(self, h: _Handle) -> int:  # noqa: N802
        return int((self.clock() % 10**7) * 400_000) + 1_234_567 * (h.index + 1)      # mJ, increasing

    def nvmlDeviceGetClockInfo(self, h: _Handle, clock: int) -> int:  # noqa: N802
        return 2619 if clock == pynvml.NVML_CLOCK_MEM else int(1100 + 880 * self._wave(h))

    def nvmlDeviceGetFanSpeed(self, h: _Handle) -> int:  # noqa: N802
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)       # passively cooled, like an SXM H100

    def nvmlDeviceGetPerformanceState(self, h: _Handle) -> int:  # noqa: N802
        return 0

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: _Handle) -> int:  # noqa: N802
        w = self._wave(h)
        if w > 0.9:
            return pynvml.nvmlClocksEventReasonSwPowerCap
        return pynvml.nvmlClocksEventReasonGpuIdle if w < 0.1 else 0

    def nvmlDeviceGetPcieReplayCounter(self, h: _Handle) -> int:  # noqa: N802
        return 0

    def nvmlDeviceGetTotalEccErrors(self, h: _Handle, error_type: int, counter_type: int) -> int:  # noqa: N802
        return 2 if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED and h.index == 1 else 0

    def nvmlDeviceGetRemappedRows(self, h: _Handle) -> tuple[int, int, int, int]:  # noqa: N802
        return (0, 0, 0, 0)

    def nvmlDeviceGetRetiredPages(self, h: _Handle, cause: int) -> list[int]:  # noqa: N802
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)       # Ampere and later remap rows instead

    def nvmlDeviceGetRetiredPagesPendingStatus(self, h: _Handle) -> int:  # noqa: N802
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetPcieThroughput(self, h: _Handle, counter: int) -> int:  # noqa: N802
        return int(1_000_000 * self._wave(h))            # KB/s

    # ------------------------------------------------------------------ processes
    def _pids(self, h: _Handle) -> list[int]:
        # range(start, stop, step): the PIDs of GPU h.index without a per-PID test (the benchmark
        # measures the exporter, not this stand-in).
        pids = list(range(100000 + h.index, 100000 + self.processes, max(self.count, 1)))
        if isinstance(h, _MigHandle):      # a GPU in MIG mode: its processes spread over its instances
            slots = self._mig[h.index]
            return [pid for n, pid in enumerate(pids) if slots[n % len(slots)] is h]
        return pids

    def nvmlDeviceGetComputeRunningProcesses(self, h: _Handle) -> list[SimpleNamespace]:  # noqa: N802
        return [SimpleNamespace(pid=pid, usedGpuMemory=(1 + pid % 8) * GIB // 2) for pid in self._pids(h)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: _Handle) -> list[SimpleNamespace]:  # noqa: N802
        return []

    def nvmlDeviceGetProcessUtilization(self, h: _Handle, last: int) -> list[SimpleNamespace]:  # noqa: N802
        ts = int(self.clock() * 1e6)
        if ts <= last:      # as NVML: nothing sampled since `last`
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return [SimpleNamespace(pid=pid, smUtil=pid % 50, memUtil=pid % 20, timeStamp=ts) for pid in self._pids(h)]

    @staticmethod
    def process_info(pid: int) -> tuple[str, str]:
        """Stands in for /proc: a name and a container id for a simulated PID."""
        return f"train-{pid % 10}", f"{pid * 2654435761 % 2**48:012x}"

    # ------------------------------------------------------------------ events
    def nvmlEventSetCreate(self) -> object:  # noqa: N802
        return object()

    def nvmlDeviceRegisterEvents(self, h: _Handle, types: int, event_set: object) -> None:  # noqa: N802
        return None

    def nvmlEventSetWait(self, event_set: object, timeout_ms: int) -> Any:  # noqa: N802
        time.sleep(timeout_ms / 1000)
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)

    def nvmlEventSetFree(self, event_set: object) -> None:  # noqa: N802
        return None
