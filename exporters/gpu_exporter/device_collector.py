"""Per-GPU series (labels gpu, UUID) from the shared snapshot."""
from __future__ import annotations

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .base import SnapshotCollector

LOG = logging.getLogger(__name__)
IDS = ["gpu", "UUID"]

# name -> (kind, help, extra label). Counters are named without _total (prometheus_client adds it).
SPECS: dict[str, tuple[str, str, str | None]] = {
    "gpu_utilization_ratio": ("gauge", "Share of the last sample period a kernel ran on the GPU (0-1).", None),
    "gpu_memory_copy_utilization_ratio": ("gauge", "Share of the last sample period device memory was read or written (0-1).", None),
    "gpu_encoder_utilization_ratio": ("gauge", "Video encoder utilisation (0-1).", None),
    "gpu_decoder_utilization_ratio": ("gauge", "Video decoder utilisation (0-1).", None),
    "gpu_memory_used_bytes": ("gauge", "Framebuffer memory allocated by processes.", None),
    "gpu_memory_free_bytes": ("gauge", "Framebuffer memory free.", None),
    "gpu_memory_total_bytes": ("gauge", "Framebuffer memory size.", None),
    "gpu_memory_reserved_bytes": ("gauge", "Framebuffer memory reserved by the driver and firmware.", None),
    "gpu_temperature_celsius": ("gauge", "GPU core temperature.", None),
    "gpu_memory_temperature_celsius": ("gauge", "GPU memory (HBM) temperature.", None),
    "gpu_power_usage_watts": ("gauge", "Power draw of the board.", None),
    "gpu_power_limit_watts": ("gauge", "Enforced power limit (read once per NVML session).", None),
    "gpu_energy_joules": ("counter", "Energy used since the driver was loaded.", None),
    "gpu_sm_clock_hertz": ("gauge", "Current SM clock.", None),
    "gpu_memory_clock_hertz": ("gauge", "Current memory clock.", None),
    "gpu_fan_speed_ratio": ("gauge", "Intended fan speed of the first fan (0-1).", None),
    "gpu_performance_state": ("gauge", "Performance state: 0 (P0, highest) to 15 (P15, lowest).", None),
    "gpu_clock_event_reason_active": ("gauge", "1 while the reason lowers the clocks, else 0.", "reason"),
    "gpu_pcie_replay_errors": ("counter", "PCIe replays (link-level retransmissions).", None),
    "gpu_ecc_errors": ("counter", "Volatile ECC errors (since the last driver load) by type.", "type"),
    "gpu_remapped_rows": ("gauge", "Remapped memory rows (correctable, uncorrectable); pending and failure as 0/1.", "type"),
    "gpu_retired_pages": ("gauge", "Retired memory pages by cause (pre-Ampere GPUs).", "cause"),
    "gpu_retired_pages_pending": ("gauge", "1 if retired pages wait for a reboot, else 0.", None),
    "gpu_pcie_throughput_bytes_per_second": ("gauge", "PCIe throughput over the last 20 ms by direction (opt-in).", "direction"),
}


class DeviceCollector(SnapshotCollector):

    def _collect(self) -> list[Metric]:
        snap = self._collection.get()
        if not snap.gpus:
            return []
        info = GaugeMetricFamily("gpu_info", "GPU identity; always 1.",
                                 labels=IDS + ["model", "driver_version", "cuda_version", "pci_bus_id"])
        families: dict[str, Metric] = {}
        for name, (kind, doc, extra) in SPECS.items():
            labels = IDS + ([extra] if extra else [])
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            families[name] = cls(name, doc, labels=labels)
        for gpu in snap.gpus:
            ids = [str(gpu.info.index), gpu.info.uuid]
            info.add_metric(ids + [gpu.info.model, snap.driver_version, snap.cuda_version, gpu.info.pci_bus_id], 1)
            for name, value in gpu.values.items():
                families[name].add_metric(ids, value)
            for name, by_label in gpu.labelled.items():
                for label, value in by_label.items():
                    families[name].add_metric(ids + [label], value)
            # MIG: memory per GPU instance, in the same families with dcgm-exporter's two extra labels
            # (the GPU's own series stay: max by (UUID) is the whole GPU, sum needs GPU_I_ID="").
            for mig in gpu.instances:
                labels = {"gpu": ids[0], "UUID": ids[1], "GPU_I_ID": mig.gpu_instance, "GPU_I_PROFILE": mig.profile}
                for name, value in mig.values.items():
                    families[name].add_sample(name, labels, value)
        return [info] + [f for f in families.values() if f.samples]
