"""A simulated NVML for demos and the native stack on machines without GPUs. Off unless asked
(--simulate N); its series carry backend="simulated" on gpu_exporter_backend so no one mistakes them."""
from __future__ import annotations

import pynvml

NVMLError = pynvml.NVMLError


class SimulatedNvml:
    """The slice of the pynvml module API the collectors call, answering for ``count`` GPUs."""

    NVMLError = pynvml.NVMLError

    def __init__(self, count: int) -> None:
        self.count = count
        self.initialised = False

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        self.initialised = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        return self.count
