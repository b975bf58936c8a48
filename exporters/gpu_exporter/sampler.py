"""One NVML pass: session lifecycle, static cache, per-field reads, per-process attribution.

Runs only in the collection worker thread (see worker.py); never called concurrently.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import pynvml

from .errors import FEATURE_ABSENT, HIDDEN, SESSION_FATAL, SessionLost, code_of, reason_of
from .model import GpuInfo, GpuSample, MigSample, ProcessSeries, Snapshot
from .procinfo import ProcResolver

LOG = logging.getLogger(__name__)

# Bit -> reason label. The first five are dcgm-exporter's names (prometheus/rules/gpu.yml).
CLOCK_EVENT_REASONS = (
    (pynvml.nvmlClocksEventReasonSwPowerCap, "power_cap"),
    (pynvml.nvmlClocksEventReasonHwSlowdown, "hw_slowdown"),
    (pynvml.nvmlClocksEventReasonSwThermalSlowdown, "sw_thermal"),
    (pynvml.nvmlClocksEventReasonHwThermalSlowdown, "hw_thermal"),
    (pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown, "hw_power_brake"),
    (pynvml.nvmlClocksEventReasonGpuIdle, "gpu_idle"),
    (pynvml.nvmlClocksEventReasonApplicationsClocksSetting, "applications_clocks_setting"),
    (pynvml.nvmlClocksEventReasonSyncBoost, "sync_boost"),
    (pynvml.nvmlClocksEventReasonDisplayClockSetting, "display_clock_setting"),
)
MHZ = 1e6
SM_CARRY_SECONDS = 5.0


class RawProcess(NamedTuple):
    """One PID on one GPU (or GPU instance), before grouping by process name and container."""
    info: GpuInfo
    mig: MigSample | None
    pid: int
    used: float | None
    sm: float | None


@dataclass(frozen=True)
class SamplerOptions:
    processes: bool = True
    max_processes: int = 100
    pcie_throughput: bool = False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Sampler:
    def __init__(self, nvml: Any, options: SamplerOptions = SamplerOptions(),
                 resolve: Callable[[int], tuple[str, str]] | None = None) -> None:
        self._nvml = nvml
        self._opt = options
        self._resolve = resolve or ProcResolver()
        self._initialised = False
        self._handles: list[tuple[Any, GpuInfo]] = []
        self._driver = self._cuda = ""
        self._errors: dict[str, int] = {}
        self._logged: set[tuple[str, ...]] = set()
        self._last_reason: str | None = None
        self._proc_ts: dict[str, int] = {}
        self._proc_sm: dict[str, dict[int, tuple[float, float]]] = {}   # uuid -> pid -> (SM ratio, monotonic seen)
        # (uuid, field) that answered NOT_SUPPORTED / FUNCTION_NOT_FOUND: not asked again this session.
        # A real H100 spends ~0.2 ms refusing the fan speed on every call.
        self._absent: set[tuple[str, str]] = set()
        self._dropped = 0
        self._last_success: float | None = None

    # ------------------------------------------------------------------ bookkeeping
    def count_error(self, reason: str) -> None:
        if reason != "NotSupported":
            self._errors[reason] = self._errors.get(reason, 0) + 1

    def _once(self, level: int, key: tuple[str, ...], msg: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            LOG.log(level, msg, *args)

    def _read(self, info: GpuInfo, field: str, fn: Callable[..., Any], *args: Any) -> Any:
        """One NVML call for one field: None (series absent) on a per-field error."""
        if (info.uuid, field) in self._absent:
            return None
        try:
            return fn(*args)
        except pynvml.NVMLError as exc:
            code, reason = code_of(exc), reason_of(exc)
            if code in SESSION_FATAL:
                raise SessionLost(reason) from exc
            if code in FEATURE_ABSENT:
                self._absent.add((info.uuid, field))
            else:
                self.count_error(reason)
            level = logging.INFO if code in HIDDEN else logging.WARNING
            self._once(level, (field, info.uuid, reason), "GPU %d (%s): %s unavailable (%s); series omitted",
                       info.index, info.uuid, field, reason)
            return None

    # ------------------------------------------------------------------ session
    def _start_session(self) -> None:
        nvml = self._nvml
        nvml.nvmlInit()
        self._initialised = True
        self._handles = []
        self._absent.clear()          # a reloaded driver may support more
        try:
            self._driver = _text(nvml.nvmlSystemGetDriverVersion())
        except pynvml.NVMLError:
            self._driver = ""
        try:
            v = int(nvml.nvmlSystemGetCudaDriverVersion())
            self._cuda = f"{v // 1000}.{v % 1000 // 10}"
        except pynvml.NVMLError:
            self._cuda = ""
        count = int(nvml.nvmlDeviceGetCount())
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            except pynvml.NVMLError as exc:
                # A lost or inaccessible GPU: leave it out of this session, count it.
                self.count_error(reason_of(exc))
                LOG.warning("GPU %d skipped: %s", index, exc)
                continue
            partial = GpuInfo(index, uuid, "", "", None)
            name = self._read(partial, "name", nvml.nvmlDeviceGetName, handle)
            pci = self._read(partial, "pci_info", nvml.nvmlDeviceGetPciInfo, handle)
            limit = self._read(partial, "power_limit", nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
            # Read once per session: changing the MIG mode needs a GPU reset, which ends the session.
            mode = self._read(partial, "mig_mode", nvml.nvmlDeviceGetMigMode, handle)
            info = GpuInfo(index, uuid, _text(name) if name is not None else "",
                           _text(pci.busId) if pci is not None else "",
                           limit / 1000 if limit is not None else None,
                           mig=mode is not None and mode[0] == pynvml.NVML_DEVICE_MIG_ENABLE)
            self._handles.append((handle, info))
        if count == 0:
            self._once(logging.WARNING, ("zero-gpus",), "NVML answers but reports no GPU "
                       "(driver loaded, no device visible to this process?)")
        LOG.info("NVML session started: driver %s, CUDA %s, %d GPU(s)", self._driver, self._cuda, len(self._handles))

    def close(self) -> None:
        if self._initialised:
            try:
                self._nvml.nvmlShutdown()
            except pynvml.NVMLError:
                pass
            self._initialised = False
            self._handles = []

    def handles(self) -> list[tuple[Any, GpuInfo]]:
        return list(self._handles)

    # ------------------------------------------------------------------ one pass
    def sample(self) -> Snapshot:
        start = time.perf_counter()
        try:
            if not self._initialised:
                self._start_session()
        except pynvml.NVMLError as exc:
            reason = reason_of(exc)
            if reason != self._last_reason:
                LOG.warning("NVML unavailable (%s): %s; serving gpu_exporter_up 0", reason, exc)
                self._last_reason = reason
            if reason not in ("LibraryNotFound", "DriverNotLoaded"):
                self.count_error(reason)
            self.close()
            return self._snapshot(False, reason, start)
        if self._last_reason is not None:
            LOG.info("NVML available again")
            self._last_reason = None
        gpus: list[GpuSample] = []
        raw_procs: list[RawProcess] = []
        lost: str | None = None
        for handle, info in self._handles:
            try:
                sample = self._sample_gpu(handle, info)
                if info.mig:
                    # GPU instances are created and destroyed at run time: enumerated every collection.
                    instances = self._mig_instances(handle, info)
                    sample = replace(sample, instances=tuple(mig for mig, _ in instances))
                    if self._opt.processes:
                        for mig, mig_handle in instances:
                            raw_procs.extend(self._sample_processes(mig_handle, info, mig))
                elif self._opt.processes:
                    raw_procs.extend(self._sample_processes(handle, info))
                gpus.append(sample)
            except SessionLost as exc:
                # Drop this GPU's series now; shut down and re-enumerate on the next collection.
                lost = exc.reason
                self.count_error(exc.reason)
                LOG.warning("GPU %d (%s): %s; re-initialising NVML next collection", info.index, info.uuid, exc.reason)
        devices = len(self._handles)
        if lost is not None:
            self.close()
        processes = self._attribute(raw_procs)
        self._last_success = time.time()
        return self._snapshot(True, "", start, devices, tuple(gpus), processes)

    def _snapshot(self, up: bool, reason: str, start: float, devices: int | None = None,
                  gpus: tuple[GpuSample, ...] = (), processes: tuple[ProcessSeries, ...] = ()) -> Snapshot:
        return Snapshot(up=up, reason=reason, devices=devices, driver_version=self._driver,
                        cuda_version=self._cuda, gpus=gpus, processes=processes, errors=dict(self._errors),
                        processes_dropped=self._dropped, duration_seconds=time.perf_counter() - start,
                        last_success=self._last_success, finished=time.monotonic())

    def _sample_gpu(self, h: Any, info: GpuInfo) -> GpuSample:
        nvml, read = self._nvml, self._read
        v: dict[str, float] = {}
        lab: dict[str, dict[str, float]] = {}
        util = read(info, "utilization", nvml.nvmlDeviceGetUtilizationRates, h)
        if util is not None:
            v["gpu_utilization_ratio"] = util.gpu / 100
            v["gpu_memory_copy_utilization_ratio"] = util.memory / 100
        for field, fn in (("encoder", nvml.nvmlDeviceGetEncoderUtilization),
                          ("decoder", nvml.nvmlDeviceGetDecoderUtilization)):
            res = read(info, f"{field}_utilization", fn, h)
            if res is not None:
                v[f"gpu_{field}_utilization_ratio"] = res[0] / 100
        mem = self._memory(h, info)
        if mem is not None:
            v["gpu_memory_used_bytes"] = float(mem.used)
            v["gpu_memory_free_bytes"] = float(mem.free)
            v["gpu_memory_total_bytes"] = float(mem.total)
            if hasattr(mem, "reserved"):
                v["gpu_memory_reserved_bytes"] = float(mem.reserved)
        temp = read(info, "temperature", nvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)
        if temp is not None:
            v["gpu_temperature_celsius"] = float(temp)
        mtemp = self._field_value(h, info, "memory_temperature", pynvml.NVML_FI_DEV_MEMORY_TEMP)
        if mtemp is not None:
            v["gpu_memory_temperature_celsius"] = mtemp
        power = read(info, "power_usage", nvml.nvmlDeviceGetPowerUsage, h)
        if power is not None:
            v["gpu_power_usage_watts"] = power / 1000
        if info.power_limit_watts is not None:
            v["gpu_power_limit_watts"] = info.power_limit_watts
        energy = read(info, "energy", nvml.nvmlDeviceGetTotalEnergyConsumption, h)
        if energy is not None:
            v["gpu_energy_joules"] = energy / 1000
        for field, clock in (("sm", pynvml.NVML_CLOCK_SM), ("memory", pynvml.NVML_CLOCK_MEM)):
            mhz = read(info, f"{field}_clock", nvml.nvmlDeviceGetClockInfo, h, clock)
            if mhz is not None:
                v[f"gpu_{field}_clock_hertz"] = mhz * MHZ
        fan = read(info, "fan_speed", nvml.nvmlDeviceGetFanSpeed, h)
        if fan is not None:
            v["gpu_fan_speed_ratio"] = fan / 100
        pstate = read(info, "performance_state", nvml.nvmlDeviceGetPerformanceState, h)
        if pstate is not None and 0 <= pstate <= 15:
            v["gpu_performance_state"] = float(pstate)
        reasons = read(info, "clock_event_reasons", nvml.nvmlDeviceGetCurrentClocksEventReasons, h)
        if reasons is not None:
            lab["gpu_clock_event_reason_active"] = {name: float(bool(reasons & bit)) for bit, name in CLOCK_EVENT_REASONS}
        replay = read(info, "pcie_replay", nvml.nvmlDeviceGetPcieReplayCounter, h)
        if replay is not None:
            v["gpu_pcie_replay_errors"] = float(replay)
        ecc: dict[str, float] = {}
        for kind, etype in (("corrected", pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED),
                            ("uncorrected", pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED)):
            n = read(info, f"ecc_{kind}", nvml.nvmlDeviceGetTotalEccErrors, h, etype, pynvml.NVML_VOLATILE_ECC)
            if n is not None:
                ecc[kind] = float(n)
        if ecc:
            lab["gpu_ecc_errors"] = ecc
        rows = read(info, "remapped_rows", nvml.nvmlDeviceGetRemappedRows, h)
        if rows is not None:
            corr, unc, pending, failure = rows
            lab["gpu_remapped_rows"] = {"correctable": float(corr), "uncorrectable": float(unc),
                                        "pending": float(bool(pending)), "failure": float(bool(failure))}
        retired: dict[str, float] = {}
        for cause, src in (("multiple_single_bit_ecc", pynvml.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS),
                           ("double_bit_ecc", pynvml.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR)):
            pages = read(info, f"retired_pages_{cause}", nvml.nvmlDeviceGetRetiredPages, h, src)
            if pages is not None:
                retired[cause] = float(len(pages))
        if retired:
            lab["gpu_retired_pages"] = retired
            pending_pages = read(info, "retired_pages_pending", nvml.nvmlDeviceGetRetiredPagesPendingStatus, h)
            if pending_pages is not None:
                v["gpu_retired_pages_pending"] = float(bool(pending_pages))
        if self._opt.pcie_throughput:
            tput: dict[str, float] = {}
            for direction, counter in (("tx", pynvml.NVML_PCIE_UTIL_TX_BYTES), ("rx", pynvml.NVML_PCIE_UTIL_RX_BYTES)):
                kbs = read(info, f"pcie_{direction}_throughput", nvml.nvmlDeviceGetPcieThroughput, h, counter)
                if kbs is not None:
                    tput[direction] = kbs * 1024.0     # NVML: KB/s
            if tput:
                lab["gpu_pcie_throughput_bytes_per_second"] = tput
        return GpuSample(info, v, lab)

    def _mig_instances(self, h: Any, info: GpuInfo) -> list[tuple[MigSample, Any]]:
        nvml = self._nvml
        out: list[tuple[MigSample, Any]] = []
        for slot in range(self._read(info, "mig_device_count", nvml.nvmlDeviceGetMaxMigDeviceCount, h) or 0):
            try:
                mig_handle = nvml.nvmlDeviceGetMigDeviceHandleByIndex(h, slot)
            except pynvml.NVMLError as exc:
                if code_of(exc) in SESSION_FATAL:
                    raise SessionLost(reason_of(exc)) from exc
                continue                                  # NOT_FOUND: an empty slot
            gi = self._read(info, "gpu_instance_id", nvml.nvmlDeviceGetGpuInstanceId, mig_handle)
            if gi is None:
                continue
            name = self._read(info, "mig_name", nvml.nvmlDeviceGetName, mig_handle)
            # "NVIDIA H100 80GB HBM3 MIG 1g.10gb" -> "1g.10gb", dcgm-exporter's GPU_I_PROFILE
            profile = _text(name).rpartition(" MIG ")[2] if name is not None else ""
            values: dict[str, float] = {}
            mem = self._read(info, "mig_memory", nvml.nvmlDeviceGetMemoryInfo, mig_handle)
            if mem is not None:
                values = {"gpu_memory_used_bytes": float(mem.used), "gpu_memory_free_bytes": float(mem.free),
                          "gpu_memory_total_bytes": float(mem.total)}
            out.append((MigSample(str(gi), profile, values), mig_handle))
        return out

    def _memory(self, h: Any, info: GpuInfo) -> Any:
        """v2 (with reserved) where the driver has it, else v1."""
        try:
            return self._nvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
        except pynvml.NVMLError as exc:
            if code_of(exc) in SESSION_FATAL:
                raise SessionLost(reason_of(exc)) from exc
        return self._read(info, "memory", self._nvml.nvmlDeviceGetMemoryInfo, h)

    def _field_value(self, h: Any, info: GpuInfo, field: str, field_id: int) -> float | None:
        res = self._read(info, field, self._nvml.nvmlDeviceGetFieldValues, h, [field_id])
        if not res:
            return None
        fv = res[0]
        if fv.nvmlReturn != pynvml.NVML_SUCCESS:
            return self._read(info, field, pynvml._nvmlCheckReturn, fv.nvmlReturn)  # logs/counts like a call
        attr = {pynvml.NVML_VALUE_TYPE_DOUBLE: "dVal", pynvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
                pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal", pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
                pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal", pynvml.NVML_VALUE_TYPE_SIGNED_INT: "siVal",
                }.get(fv.valueType, "uiVal")
        return float(getattr(fv.value, attr))

    # ------------------------------------------------------------------ processes
    def _sample_processes(self, h: Any, info: GpuInfo, mig: MigSample | None = None) -> list[RawProcess]:
        nvml = self._nvml
        key = info.uuid if mig is None else f"{info.uuid}/{mig.gpu_instance}"
        mem: dict[int, float | None] = {}
        for field, fn in (("compute_processes", nvml.nvmlDeviceGetComputeRunningProcesses),
                          ("graphics_processes", nvml.nvmlDeviceGetGraphicsRunningProcesses)):
            for p in self._read(info, field, fn, h) or ():
                used = p.usedGpuMemory
                prev = mem.get(p.pid)
                mem[p.pid] = used if prev is None else prev + (used or 0)
        if not mem:
            self._proc_sm.pop(key, None)
            return []
        # NVML returns only samples newer than `last`: a live PID's latest value is kept for a few
        # seconds, so scrapes closer together than NVML's sampling still get the SM series.
        now = time.monotonic()
        sm = {pid: seen for pid, seen in self._proc_sm.get(key, {}).items()
              if pid in mem and now - seen[1] < SM_CARRY_SECONDS}
        last = self._proc_ts.get(key, 0)
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(h, last)
        except pynvml.NVMLError as exc:
            if code_of(exc) in SESSION_FATAL:
                raise SessionLost(reason_of(exc)) from exc
            samples = ()          # NOT_FOUND: no sample since `last`; NOT_SUPPORTED: no per-process utilisation
        for s in samples:
            sm[s.pid] = (s.smUtil / 100, now)
            last = max(last, s.timeStamp)
        self._proc_ts[key] = last
        self._proc_sm[key] = sm
        return [RawProcess(info, mig, pid, used, sm[pid][0] if pid in sm else None) for pid, used in mem.items()]

    def _attribute(self, raw: list[RawProcess]) -> tuple[ProcessSeries, ...]:
        if isinstance(self._resolve, ProcResolver):
            self._resolve.prune(r.pid for r in raw)
        groups: dict[tuple[int, str, str, str, str], list[float | None]] = {}
        infos: dict[int, GpuInfo] = {}
        for info, mig, pid, used, sm in raw:
            name, container = self._resolve(pid)
            key = (info.index, mig.gpu_instance if mig else "", mig.profile if mig else "", name, container)
            infos[info.index] = info
            g = groups.setdefault(key, [None, None])      # [memory bytes, SM ratio] summed over the PIDs
            if used is not None:
                g[0] = (g[0] or 0.0) + used
            if sm is not None:
                g[1] = (g[1] or 0.0) + sm
        series = [ProcessSeries(str(idx), infos[idx].uuid, name, container, g[0], g[1], gi, profile)
                  for (idx, gi, profile, name, container), g in groups.items()]
        if len(series) > self._opt.max_processes:
            series.sort(key=lambda s: -(s.memory_bytes or 0.0))
            dropped = len(series) - self._opt.max_processes
            self._dropped += dropped
            self._once(logging.WARNING, ("process-cap",), "more than %d GPU process series; dropping the "
                       "smallest (gpu_exporter_processes_dropped_total)", self._opt.max_processes)
            series = series[: self._opt.max_processes]
        series.sort(key=lambda s: (int(s.gpu), s.gpu_instance, s.process, s.container))
        return tuple(series)
