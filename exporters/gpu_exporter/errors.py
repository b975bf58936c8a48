"""NVML error classification: which failures hide one series, which end the NVML session."""
from __future__ import annotations

import pynvml

# A GPU or driver lacking a feature: the series is absent, nothing is counted as an error.
FEATURE_ABSENT = frozenset({pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND})
# Hidden series too, but counted: the exporter lacks a privilege the operator can grant.
HIDDEN = FEATURE_ABSENT | {pynvml.NVML_ERROR_NO_PERMISSION}
# The NVML session is no longer usable: shut down and re-initialise on the next collection.
SESSION_FATAL = frozenset({
    pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVML_ERROR_RESET_REQUIRED, pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED, pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
})


def reason_of(exc: BaseException) -> str:
    """'GpuIsLost' for NVMLError_GpuIsLost; 'Unknown' for a bare NVMLError or any other exception."""
    name = type(exc).__name__
    if isinstance(exc, pynvml.NVMLError) and name.startswith("NVMLError_"):
        return name.removeprefix("NVMLError_")
    return "Unknown"


def code_of(exc: BaseException) -> int | None:
    return getattr(exc, "value", None)


class SessionLost(Exception):
    """An NVML call said the session (or one GPU) is gone; the sampler re-initialises next cycle."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
