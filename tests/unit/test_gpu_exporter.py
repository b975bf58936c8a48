"""The exporter's NVML collector and HTTP server, against a fake NVML that raises pynvml's own errors."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import pynvml
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from conftest import ROOT
from gpu_exporter.__main__ import parse_listen
from gpu_exporter.nvml_collector import NvmlCollector


def fake_nvml(init_error: int | None = None, count: int = 2) -> SimpleNamespace:
    """The slice of the pynvml API the collector calls; errors are the library's real subclasses."""
    calls = {"init": 0, "shutdown": 0}

    def nvmlInit() -> None:
        calls["init"] += 1
        if init_error is not None:
            raise pynvml.NVMLError(init_error)

    def nvmlShutdown() -> None:
        calls["shutdown"] += 1

    return SimpleNamespace(NVMLError=pynvml.NVMLError, nvmlInit=nvmlInit, nvmlShutdown=nvmlShutdown,
                           nvmlDeviceGetCount=lambda: count, calls=calls)


def scrape(collector: NvmlCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def test_real_errors_are_subclasses():
    assert type(pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)).__name__ == "NVMLError_LibraryNotFound"


@pytest.mark.parametrize("code, reason", [
    (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "LibraryNotFound"),
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "DriverNotLoaded"),
    (pynvml.NVML_ERROR_NO_PERMISSION, "NoPermission"),
])
def test_without_nvml_the_exporter_reports_up_0_with_the_reason(code, reason):
    nvml = fake_nvml(init_error=code)
    text = scrape(NvmlCollector(nvml))
    assert f'gpu_exporter_up{{reason="{reason}"}} 0.0' in text
    assert "gpu_exporter_devices" not in text


def test_with_nvml_it_reports_up_and_devices():
    nvml = fake_nvml(count=4)
    collector = NvmlCollector(nvml)
    text = scrape(collector)
    assert 'gpu_exporter_up{reason=""} 1.0' in text
    assert "gpu_exporter_devices 4.0" in text
    scrape(collector)
    assert nvml.calls["init"] == 1, "NVML is initialised once per session"
    collector.close()
    assert nvml.calls["shutdown"] == 1


def test_unavailable_nvml_is_retried_next_scrape():
    nvml = fake_nvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    collector = NvmlCollector(nvml)
    scrape(collector)
    scrape(collector)
    assert nvml.calls["init"] == 2


@pytest.mark.parametrize("value, expected", [("0.0.0.0:9835", ("0.0.0.0", 9835)), ("[::]:1", ("::", 1)), (":80", ("0.0.0.0", 80))])
def test_parse_listen(value, expected):
    assert parse_listen(value) == expected


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_process_serves_metrics_and_healthz_without_a_gpu_and_stops_on_sigterm():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gpu_exporter", "--listen", f"127.0.0.1:{port}"],
                            cwd=ROOT / "exporters", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        assert get(f"http://127.0.0.1:{port}/healthz", deadline) == "ok\n"
        metrics = get(f"http://127.0.0.1:{port}/metrics", deadline)
        assert "gpu_exporter_up" in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "shutting down" in proc.stdout.read()


def test_simulated_backend_is_labelled():
    from gpu_exporter.simulated import SimulatedNvml

    text = scrape(NvmlCollector(SimulatedNvml(3), backend="simulated"))
    assert 'gpu_exporter_backend{backend="simulated"} 1.0' in text
    assert "gpu_exporter_devices 3.0" in text
    assert 'gpu_exporter_backend{backend="nvml"} 1.0' in scrape(NvmlCollector(fake_nvml()))
