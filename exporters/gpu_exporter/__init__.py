"""Prometheus exporter for NVIDIA GPUs (NVML) and the processes that use them."""

__version__ = "0.1.0"
