"""GPUs (uid gpu): Per-GPU utilisation, memory, temperature, power, clocks and errors from our GPU exporter
(and DCGM where the recording rules cover it), and GPU memory per container."""
from __future__ import annotations

from typing import Any

from .builder import (
    ACTIVE_INACTIVE,
    RUNBOOKS,
    Panel,
    alert_threshold,
    dashboard,
    variable,
)
from .selectors import GPU_SERIES


def build() -> dict[str, Any]:
    panels = [
        Panel("GPU utilisation", "Share of time a kernel ran, per GPU (gpu:utilization:ratio, our exporter or DCGM).",
              [(f"gpu:utilization:ratio{{{GPU_SERIES}}}", "GPU {{gpu}} {{instance}}")], "percentunit"),
        Panel("GPU memory used", "Framebuffer memory used as a share of the total (gpu:memory_used:ratio); alert "
              "GpuMemoryNearlyFull above 95%.",
              [(f"gpu:memory_used:ratio{{{GPU_SERIES}}}", "GPU {{gpu}} {{instance}}")], "percentunit",
              thresholds=[(alert_threshold("GpuMemoryNearlyFull"), "red")]),
        Panel("Temperature", "GPU core temperature (alert GpuTemperatureHigh above 85 °C).",
              [(f"gpu_temperature_celsius{{{GPU_SERIES}}} or DCGM_FI_DEV_GPU_TEMP{{{GPU_SERIES}}}", "GPU {{gpu}} {{instance}}")],
              "celsius", width=8, thresholds=[(alert_threshold("GpuTemperatureHigh"), "red")]),
        Panel("Power", "Board power draw and enforced power limit.",
              [(f"gpu_power_usage_watts{{{GPU_SERIES}}} or DCGM_FI_DEV_POWER_USAGE{{{GPU_SERIES}}}", "GPU {{gpu}} {{instance}}"),
               (f"gpu_power_limit_watts{{{GPU_SERIES}}}", "limit GPU {{gpu}}")], "watt", width=8),
        Panel("Energy used", "Energy each GPU drew over the dashboard's time range, from its energy counter "
              "(joules; dcgm's in millijoules), in kilowatt-hours: what the work cost, which the power graph "
              "only shows as a rate.",
              [(f"(increase(gpu_energy_joules_total{{{GPU_SERIES}}}[$__range]) or "
                f"increase(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{GPU_SERIES}}}[$__range]) / 1000) / 3.6e6",
                "GPU {{gpu}} {{instance}}")],
              "kwatth", kind="stat", width=8),
        Panel("Clocks", "SM and memory clocks.",
              [(f"gpu_sm_clock_hertz{{{GPU_SERIES}}} or DCGM_FI_DEV_SM_CLOCK{{{GPU_SERIES}}} * 1e6", "SM GPU {{gpu}}"),
               (f"gpu_memory_clock_hertz{{{GPU_SERIES}}} or DCGM_FI_DEV_MEM_CLOCK{{{GPU_SERIES}}} * 1e6", "memory GPU {{gpu}}")],
              "hertz"),
        Panel("Clock event reasons", "1 while a reason lowers the clocks (gpu:clock_event_reason_active:max); alerts "
              "GpuThermalThrottling, GpuHardwareSlowdown, GpuPowerAtLimit.",
              [(f"gpu:clock_event_reason_active:max{{{GPU_SERIES}}}", "GPU {{gpu}} {{reason}}")], "none", mappings=ACTIVE_INACTIVE),
        Panel("ECC errors", "Volatile ECC errors per interval by type (alert GpuUncorrectableEccErrors on uncorrected).",
              [(f"sum by (instance, gpu, type) (increase(gpu_ecc_errors_total{{{GPU_SERIES}}}[$__interval]))",
                "GPU {{gpu}} {{type}}")], "short", width=8),
        Panel("XID errors", "XID events per interval by code (alerts GpuFatalXidError, GpuXidError); the exporter "
              "reports them with --xid.",
              [(f"sum by (instance, gpu, xid) (increase(gpu_xid_errors_total{{{GPU_SERIES}}}[$__interval]))",
                "GPU {{gpu}} XID {{xid}}")], "short", width=8),
        Panel("Remapped rows", "Remapped memory rows by type; pending and failure are 0/1 (alerts GpuRowRemapPending, "
              "GpuRowRemapFailure).",
              [(f"max by (instance, gpu, type) (gpu_remapped_rows{{{GPU_SERIES}}})", "GPU {{gpu}} {{type}}")], "short", width=8),
        Panel("MIG instances: memory used", "Memory used as a share of each GPU instance's memory, for GPUs in "
              "MIG mode (our exporter's series with GPU_I_ID and GPU_I_PROFILE); a full instance fails its jobs "
              "while the GPU as a whole has room.",
              [(f'gpu_memory_used_bytes{{{GPU_SERIES}, GPU_I_ID!=""}} / (gpu_memory_total_bytes{{{GPU_SERIES}, GPU_I_ID!=""}} > 0)',
                "GPU {{gpu}} {{GPU_I_PROFILE}} (instance {{GPU_I_ID}})")], "percentunit"),
        Panel("Process memory by container", "GPU memory used by processes, summed per container.",
              [(f"sum by (container, gpu) (gpu_process_memory_used_bytes{{{GPU_SERIES}}})", "{{container}} GPU {{gpu}}")],
              "bytes"),
        Panel("Processes", "GPU memory of each process now.",
              [(f"sum by (container, process, gpu, GPU_I_ID, GPU_I_PROFILE) (gpu_process_memory_used_bytes{{{GPU_SERIES}}})", "")],
              "bytes", kind="table"),
        Panel("Process SM utilisation", "Share of each GPU's streaming multiprocessors each process keeps busy: who "
              "uses the GPU, not only how much memory it holds.",
              [(f"gpu_process_sm_utilization_ratio{{{GPU_SERIES}}}", "GPU {{gpu}} pid {{pid}} {{process}}")], "percentunit"),
        Panel("Memory-copy utilisation", "Share of time the GPU's memory controller was busy (reads and writes to "
              "framebuffer): high with low SM utilisation means a memory-bound workload.",
              [(f"gpu_memory_copy_utilization_ratio{{{GPU_SERIES}}}", "GPU {{gpu}}")], "percentunit", width=8),
        Panel("Memory temperature", "HBM temperature per GPU (where NVML reports it); rising with the core is expected.",
              [(f"gpu_memory_temperature_celsius{{{GPU_SERIES}}}", "GPU {{gpu}}")], "celsius", width=8),
        Panel("Exporter health", "Our exporter: 1 when NVML answers (alert GpuExporterNvmlUnavailable), and how long a "
              "collection takes; a few ms per GPU is normal.",
              [(f"max by (instance) (gpu_exporter_up{{job=~\"$job\", host=~\"$host\"}})", "up {{instance}}"),
               (f"max by (instance) (gpu_exporter_collection_duration_seconds{{job=~\"$job\", host=~\"$host\"}})",
                "collection s {{instance}}")], "short", width=8),
        Panel("Tensor core activity", "Share of cycles the tensor (HMMA) pipes and the memory interface were busy, "
              "per GPU, from dcgm-exporter's profiling counters: high tensor activity is a training or inference "
              "job using the GPU well. Empty unless the opt-in dcgm/counters-profiling.csv is enabled (it needs "
              "CAP_SYS_ADMIN; the README's GPU section says how).",
              [(f"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{{{GPU_SERIES}}}", "tensor GPU {{gpu}}"),
               (f"DCGM_FI_PROF_DRAM_ACTIVE{{{GPU_SERIES}}}", "memory GPU {{gpu}}")], "percentunit"),
    ]
    return dashboard("gpu", "GPUs", "Per-GPU utilisation, memory, temperature, power, clocks and errors from our GPU "
                     "exporter (and DCGM where the recording rules cover it), and GPU memory per container.", panels,
                     ["observability-stack", "gpu"], [("Runbooks", RUNBOOKS)],
                     "label_values(gpu:memory_used:ratio, job)",
                     [variable("host", "Host", 'label_values(gpu:memory_used:ratio{job=~"$job"}, host)'),
                      variable("gpu", "GPU", 'label_values(gpu:memory_used:ratio{job=~"$job", host=~"$host"}, gpu)')])
