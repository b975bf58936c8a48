"""The GPU exporter against a fake NVML that raises pynvml's own NVMLError subclasses."""
from __future__ import annotations

import gzip
import logging
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pynvml
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from conftest import ROOT
from gpu_exporter.__main__ import build_parser, parse_listen
from gpu_exporter.exposition import TextRenderer, metrics_app
from gpu_exporter.exporter import Config, Exporter
from gpu_exporter.procinfo import ProcResolver, container_id
from gpu_exporter.simulated import SimulatedNvml
from gpu_exporter.xid import XidWatcher
from obsstack.net import free_port

GOLDEN = ROOT / "tests" / "fixtures" / "gpu" / "two_gpus.prom"
T0 = 1_700_000_000.0


class FakeNvml:
    """SimulatedNvml's answers (fixed clock) with injectable failures, counted calls and hangs.

    ``errors[(function, gpu index or None)] = NVML_ERROR_*`` makes that call raise the real subclass.
    """

    NVMLError = pynvml.NVMLError

    def __init__(self, count: int = 2, processes: int = 4, mig: dict[int, list[str]] | None = None) -> None:
        self.sim = SimulatedNvml(count, processes=processes, clock=lambda: T0, mig=mig)
        self.errors: dict[tuple[str, int | None], int] = {}
        self.calls: dict[str, int] = {}
        self.hang: threading.Event | None = None       # set: calls block until it is cleared... see hang_on
        self.hang_on: str | None = None
        self.events: list[tuple[int, int]] = []        # (gpu index, xid) for nvmlEventSetWait

    def __getattr__(self, name: str):
        target = getattr(self.sim, name)
        if not callable(target) or not name.startswith("nvml"):
            return target

        def call(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            index = getattr(args[0], "index", None) if args else None
            code = self.errors.get((name, index), self.errors.get((name, None)))
            if code is not None:
                raise pynvml.NVMLError(code)
            if self.hang_on == name and self.hang is not None:
                self.hang.wait()
            return target(*args, **kwargs)
        return call

    def nvmlEventSetWait(self, event_set, timeout_ms):  # noqa: N802
        if self.events:
            index, xid = self.events.pop(0)
            return type("Data", (), {"eventType": pynvml.nvmlEventTypeXidCriticalError, "eventData": xid,
                                     "device": self.sim.nvmlDeviceGetHandleByIndex(index)})()
        time.sleep(0.01)
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)


def poll(read, done, message: str, timeout: float = 5.0):
    """read() until done(value), or fail with MESSAGE after TIMEOUT seconds: no sleep-and-hope."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, message
        time.sleep(0.01)


def make(nvml=None, **config) -> Exporter:
    nvml = nvml or FakeNvml()
    config.setdefault("max_age", 3600)
    return Exporter(nvml, config=Config(**config), resolve=SimulatedNvml.process_info)


def scrape(exporter: Exporter, refresh: bool = True) -> str:
    if refresh:
        exporter.collection.get(refresh=True)
    registry = CollectorRegistry(auto_describe=False)
    exporter.register(registry)
    return generate_latest(registry).decode()


def series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{") or line.startswith(name + " ")]


# ------------------------------------------------------------------ NVML absent / present
def test_real_errors_are_subclasses():
    assert type(pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)).__name__ == "NVMLError_LibraryNotFound"


@pytest.mark.parametrize("code, reason", [
    (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "LibraryNotFound"),
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "DriverNotLoaded"),
    (pynvml.NVML_ERROR_NO_PERMISSION, "NoPermission"),
])
def test_without_nvml_the_exporter_reports_up_0_with_the_reason(code, reason, caplog):
    nvml = FakeNvml()
    nvml.errors[("nvmlInit", None)] = code
    with caplog.at_level(logging.WARNING):
        text = scrape(make(nvml))
    assert f'gpu_exporter_up{{reason="{reason}"}} 0.0' in text
    assert "gpu_exporter_devices" not in text and "gpu_info" not in text
    assert f"NVML unavailable ({reason})" in caplog.text


def test_the_real_library_is_absent_here_and_nothing_raises():
    text = scrape(Exporter(pynvml, config=Config(max_age=3600)))
    assert re.search(r'gpu_exporter_up\{reason="(LibraryNotFound|DriverNotLoaded)"\} 0.0', text) or "reason=\"\"" in text


def test_zero_gpus_is_up_with_zero_devices(caplog):
    with caplog.at_level(logging.WARNING):
        text = scrape(make(FakeNvml(count=0)))
    assert 'gpu_exporter_up{reason=""} 1.0' in text
    assert "gpu_exporter_devices 0.0" in text
    assert "reports no GPU" in caplog.text


def test_nvml_is_initialised_once_per_session_and_static_data_cached():
    nvml = FakeNvml(count=4)
    exporter = make(nvml)
    text = scrape(exporter)
    assert 'gpu_exporter_up{reason=""} 1.0' in text and "gpu_exporter_devices 4.0" in text
    scrape(exporter)
    scrape(exporter)
    assert nvml.calls["nvmlInit"] == 1
    assert nvml.calls["nvmlDeviceGetName"] == 4 and nvml.calls["nvmlDeviceGetEnforcedPowerLimit"] == 4
    assert nvml.calls["nvmlDeviceGetPowerUsage"] == 12
    exporter.close()
    assert nvml.calls["nvmlShutdown"] == 1


def test_unavailable_nvml_is_retried_next_collection():
    nvml = FakeNvml()
    nvml.errors[("nvmlInit", None)] = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    exporter = make(nvml)
    scrape(exporter)
    scrape(exporter)
    assert nvml.calls["nvmlInit"] == 2
    del nvml.errors[("nvmlInit", None)]
    assert 'gpu_exporter_up{reason=""} 1.0' in scrape(exporter)


# ------------------------------------------------------------------ per-field errors
@pytest.mark.parametrize("code, counted", [
    (pynvml.NVML_ERROR_NOT_SUPPORTED, None),
    (pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, None),
    (pynvml.NVML_ERROR_NO_PERMISSION, "NoPermission"),
    (pynvml.NVML_ERROR_UNKNOWN, "Unknown"),
])
def test_a_failing_field_is_absent_others_exported_logged_once(code, counted, caplog):
    nvml = FakeNvml()
    nvml.errors[("nvmlDeviceGetTemperature", 1)] = code
    exporter = make(nvml)
    with caplog.at_level(logging.INFO):
        text = scrape(exporter)
        text = scrape(exporter)
    temps = series(text, "gpu_temperature_celsius")
    assert len(temps) == 1 and 'gpu="0"' in temps[0]
    assert len(series(text, "gpu_power_usage_watts")) == 2
    assert "NaN" not in text
    assert caplog.text.count("temperature unavailable") == 1
    errors = series(text, "gpu_exporter_errors_total")
    if counted:
        assert errors == [f'gpu_exporter_errors_total{{reason="{counted}"}} 2.0']
    else:
        assert errors == []


def test_a_feature_the_gpu_lacks_is_not_asked_again_until_nvml_restarts():
    # A real H100 spends ~0.2 ms refusing the fan speed; the exporter asks once per GPU and session.
    nvml = FakeNvml()
    nvml.errors[("nvmlDeviceGetEncoderUtilization", None)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    nvml.errors[("nvmlDeviceGetTemperature", 0)] = pynvml.NVML_ERROR_NO_PERMISSION
    exporter = make(nvml)
    for _ in range(3):
        text = scrape(exporter)
    assert nvml.calls["nvmlDeviceGetEncoderUtilization"] == 2
    assert series(text, "gpu_encoder_utilization_ratio") == []
    assert nvml.calls["nvmlDeviceGetTemperature"] == 6        # a permission can be granted: asked every time
    nvml.errors[("nvmlDeviceGetPowerUsage", 1)] = pynvml.NVML_ERROR_GPU_IS_LOST
    scrape(exporter)                                           # session lost: shut down
    del nvml.errors[("nvmlDeviceGetPowerUsage", 1)]
    del nvml.errors[("nvmlDeviceGetEncoderUtilization", None)]
    text = scrape(exporter)                                    # new session: asked again, and now answered
    assert nvml.calls["nvmlDeviceGetEncoderUtilization"] == 4
    assert len(series(text, "gpu_encoder_utilization_ratio")) == 2


def test_process_sm_series_survive_scrapes_closer_than_nvml_sampling(monkeypatch):
    import gpu_exporter.sampler as sampler_module

    nvml = FakeNvml(count=1, processes=2)        # fixed clock: after the first call NVML has no newer sample
    exporter = make(nvml)
    first = series(scrape(exporter), "gpu_process_sm_utilization_ratio")
    assert len(first) == 2
    assert series(scrape(exporter), "gpu_process_sm_utilization_ratio") == first
    assert nvml.calls["nvmlDeviceGetProcessUtilization"] == 2
    monkeypatch.setattr(sampler_module, "SM_CARRY_SECONDS", 0.0)     # a value too old is dropped, not repeated
    text = scrape(exporter)
    assert series(text, "gpu_process_sm_utilization_ratio") == []
    assert len(series(text, "gpu_process_memory_used_bytes")) == 2
    assert "gpu_exporter_errors_total" not in text.replace("# HELP gpu_exporter_errors_total", "").replace(
        "# TYPE gpu_exporter_errors_total", "")


def test_field_value_errors_hide_memory_temperature():
    nvml = FakeNvml()
    orig = nvml.sim.nvmlDeviceGetFieldValues

    def fv(h, ids):
        out = orig(h, ids)
        if h.index == 0:
            out[0].nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
        return out
    nvml.sim.nvmlDeviceGetFieldValues = fv
    text = scrape(make(nvml))
    assert [s for s in series(text, "gpu_memory_temperature_celsius")] == [
        s for s in series(text, "gpu_memory_temperature_celsius") if 'gpu="1"' in s]
    assert len(series(text, "gpu_memory_temperature_celsius")) == 1


# ------------------------------------------------------------------ MIG
def test_mig_instances_get_dcgm_labels_on_memory_and_processes():
    nvml = FakeNvml(count=2, processes=8, mig={1: ["3g.40gb", "1g.10gb"]})
    exporter = make(nvml)
    text = scrape(exporter)
    mig_memory = [s for s in series(text, "gpu_memory_total_bytes") if "GPU_I_ID" in s]
    assert mig_memory == [
        'gpu_memory_total_bytes{GPU_I_ID="1",GPU_I_PROFILE="3g.40gb",UUID="GPU-51510001-0000-4000-8000-000000000001",gpu="1"} 3.221225472e+010'.replace("e+010", "e+10"),
        'gpu_memory_total_bytes{GPU_I_ID="2",GPU_I_PROFILE="1g.10gb",UUID="GPU-51510001-0000-4000-8000-000000000001",gpu="1"} 1.073741824e+10',
    ]
    assert len(series(text, "gpu_memory_total_bytes")) == 4          # both whole GPUs stay
    # NVML has no utilisation for a GPU in MIG mode: absent, not 0, and not an error.
    assert [s for s in series(text, "gpu_utilization_ratio")] == [s for s in series(text, "gpu_utilization_ratio") if 'gpu="0"' in s]
    assert "gpu_exporter_errors_total{" not in text
    procs = series(text, "gpu_process_memory_used_bytes")
    on_gpu1 = [s for s in procs if 'gpu="1"' in s]
    assert on_gpu1 and all('GPU_I_ID="' in s and 'GPU_I_PROFILE="' in s for s in on_gpu1)
    assert not any("GPU_I_ID" in s for s in procs if 'gpu="0"' in s)
    # Every process of the MIG GPU is counted once, in its own instance.
    whole = sum(p.usedGpuMemory for p in nvml.sim.nvmlDeviceGetComputeRunningProcesses(nvml.sim.nvmlDeviceGetHandleByIndex(1)))
    assert sum(float(s.rsplit(" ", 1)[1]) for s in on_gpu1) == whole
    # The MIG mode is read once per session; instances on every collection.
    scrape(exporter)
    assert nvml.calls["nvmlDeviceGetMigMode"] == 2 and nvml.calls["nvmlDeviceGetMaxMigDeviceCount"] == 2


def test_a_destroyed_gpu_instance_disappears_next_scrape():
    nvml = FakeNvml(count=1, processes=4, mig={0: ["3g.40gb", "3g.40gb"]})
    exporter = make(nvml)
    assert {s.split("GPU_I_ID=")[1][:3] for s in series(scrape(exporter), "gpu_memory_used_bytes") if "GPU_I_ID" in s} == {'"1"', '"2"'}
    nvml.sim._mig[0].pop()                       # nvidia-smi mig -dgi: no driver reload, no new session
    text = scrape(exporter)
    assert [s for s in series(text, "gpu_memory_used_bytes") if "GPU_I_ID" in s and 'GPU_I_ID="2"' in s] == []
    processes = series(text, "gpu_process_memory_used_bytes")
    assert processes and all('GPU_I_ID="1"' in s for s in processes), "the remaining instance's processes, only"


def test_mig_output_is_promtool_clean(tool):
    promtool = tool("promtool")  # under CI=true a missing toolchain fails, never skips
    text = scrape(make(FakeNvml(count=2, processes=8, mig={1: ["3g.40gb", "1g.10gb"]})))
    result = subprocess.run([str(promtool), "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stdout + result.stderr


# ------------------------------------------------------------------ lost GPU / driver reload
def test_lost_gpu_reinitialises_and_its_series_disappear():
    nvml = FakeNvml()
    exporter = make(nvml)
    assert len(series(scrape(exporter), "gpu_temperature_celsius")) == 2
    nvml.errors[("nvmlDeviceGetPowerUsage", 1)] = pynvml.NVML_ERROR_GPU_IS_LOST
    text = scrape(exporter)
    assert [s for s in series(text, "gpu_info") if 'gpu="1"' in s] == []
    assert 'gpu_exporter_errors_total{reason="GpuIsLost"} 1.0' in text
    assert nvml.calls["nvmlShutdown"] == 1
    # Next cycle: re-init, re-enumerate; the lost GPU no longer answers to its handle.
    nvml.errors[("nvmlDeviceGetUUID", 1)] = pynvml.NVML_ERROR_GPU_IS_LOST
    text = scrape(exporter)
    assert nvml.calls["nvmlInit"] == 2
    assert len(series(text, "gpu_info")) == 1 and "gpu_exporter_devices 1.0" in text
    assert 'gpu_exporter_errors_total{reason="GpuIsLost"} 2.0' in text
    # Recovered (GPU reset): both back after the next re-init.
    del nvml.errors[("nvmlDeviceGetUUID", 1)], nvml.errors[("nvmlDeviceGetPowerUsage", 1)]
    exporter.sampler.close()
    assert len(series(scrape(exporter), "gpu_info")) == 2


def test_driver_reload_mid_run_reinitialises():
    nvml = FakeNvml()
    exporter = make(nvml)
    scrape(exporter)
    nvml.errors[("nvmlDeviceGetUtilizationRates", None)] = pynvml.NVML_ERROR_UNINITIALIZED
    text = scrape(exporter)
    assert 'gpu_exporter_errors_total{reason="Uninitialized"}' in text
    del nvml.errors[("nvmlDeviceGetUtilizationRates", None)]
    text = scrape(exporter)
    assert nvml.calls["nvmlInit"] == 2 and len(series(text, "gpu_utilization_ratio")) == 2


# ------------------------------------------------------------------ deadline, sharing
def test_hung_nvml_call_answers_within_deadline_then_fails_fast():
    nvml = FakeNvml()
    exporter = make(nvml, deadline=0.3, max_age=0)
    scrape(exporter)
    nvml.hang, nvml.hang_on = threading.Event(), "nvmlDeviceGetPowerUsage"
    start = time.monotonic()
    text = scrape(exporter, refresh=False)
    first = time.monotonic() - start
    assert 0.25 < first < 1.0
    assert 'gpu_exporter_up{reason="Timeout"} 0.0' in text and "gpu_info" not in text
    assert 'gpu_exporter_errors_total{reason="Timeout"} 1.0' in text
    start = time.monotonic()
    text = scrape(exporter, refresh=False)
    assert time.monotonic() - start < 0.1, "later scrapes fail fast while the call hangs"
    assert 'gpu_exporter_up{reason="Timeout"} 0.0' in text
    nvml.hang.set()
    text = poll(lambda: scrape(exporter, refresh=False), lambda t: 'gpu_exporter_up{reason=""} 1.0' in t,
                "the exporter never recovered once the hung call returned")
    assert 'gpu_exporter_errors_total{reason="Timeout"} 1.0' in text, "the counter never goes back"


def test_concurrent_scrapes_share_one_collection():
    nvml = FakeNvml()
    nvml.hang, nvml.hang_on = threading.Event(), "nvmlDeviceGetPowerUsage"
    exporter = make(nvml, max_age=5)
    threading.Timer(0.2, nvml.hang.set).start()
    with ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(lambda _: scrape(exporter, refresh=False), range(8)))
    assert all('gpu_exporter_up{reason=""} 1.0' in t for t in texts)
    assert nvml.calls["nvmlDeviceGetPowerUsage"] == 2, "one collection (2 GPUs) for 8 scrapes"


def test_interval_mode_collects_in_the_background():
    nvml = FakeNvml()
    exporter = make(nvml, interval=0.05)
    exporter.start()
    try:
        poll(lambda: nvml.calls.get("nvmlDeviceGetPowerUsage", 0), lambda calls: calls >= 4,
             "the background worker did not collect twice (2 GPUs each) on its own")
        text = scrape(exporter, refresh=False)
    finally:
        exporter.close()
    assert 'gpu_exporter_up{reason=""} 1.0' in text


def test_self_metrics():
    text = scrape(make())
    for name in ("gpu_exporter_up", "gpu_exporter_devices", "gpu_exporter_collection_duration_seconds",
                 "gpu_exporter_last_success_timestamp_seconds", "gpu_exporter_processes_dropped_total"):
        assert series(text, name), name
    assert "# TYPE gpu_exporter_errors_total counter" in text
    assert 'gpu_exporter_backend{backend="nvml"} 1.0' in text


# ------------------------------------------------------------------ processes
def test_processes_attributed_capped_and_gone_when_exited():
    nvml = FakeNvml(count=2, processes=10)
    exporter = make(nvml, max_processes=4)
    text = scrape(exporter)
    assert len(series(text, "gpu_process_memory_used_bytes")) == 4
    assert "gpu_exporter_processes_dropped_total 6.0" in text
    nvml.sim.processes = 1
    text = scrape(exporter)
    mem = series(text, "gpu_process_memory_used_bytes")
    assert len(mem) == 1 and 'process="train-0"' in mem[0] and 'gpu="0"' in mem[0]
    assert "gpu_exporter_processes_dropped_total 6.0" in text


def test_process_metrics_can_be_disabled():
    nvml = FakeNvml()
    text = scrape(make(nvml, processes=False))
    assert "gpu_process" not in text and "nvmlDeviceGetComputeRunningProcesses" not in nvml.calls


def test_proc_resolver_reads_comm_and_cgroup(tmp_path: Path):
    cid = "a" * 12 + "0123456789abcdef" * 3 + "0" * 4
    for pid, cgroup in ((10, f"0::/system.slice/docker-{cid}.scope\n"), (11, f"12:memory:/docker/{cid}\n"), (12, "0::/user.slice\n")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "comm").write_text("python3\n")
        (tmp_path / str(pid) / "cgroup").write_text(cgroup)
    resolve = ProcResolver(tmp_path)
    assert resolve(10) == ("python3", cid[:12]) and resolve(11) == ("python3", cid[:12])
    assert resolve(12) == ("python3", "") and resolve(99) == ("unknown", "")
    resolve.prune([10])
    assert list(resolve._cache) == [10]
    assert container_id("0::/kubepods/cri-containerd-" + "b" * 64 + ".scope") == "b" * 12


# ------------------------------------------------------------------ opt-in collectors
def test_pcie_throughput_is_opt_in():
    assert "gpu_pcie_throughput" not in scrape(make())
    text = scrape(make(pcie_throughput=True))
    assert len(series(text, "gpu_pcie_throughput_bytes_per_second")) == 4


def test_xid_events_are_counted():
    nvml = FakeNvml()
    nvml.events = [(1, 79), (1, 79), (0, 13)]
    watcher = XidWatcher(nvml, wait_ms=10)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(watcher)
    watcher.start()
    try:
        # Every event counted, not just taken off the queue: the last increment is what is awaited.
        text = poll(lambda: generate_latest(registry).decode(), lambda t: 'xid="13"} 1.0' in t and 'xid="79"} 2.0' in t,
                    "the watcher did not count the three Xid events")
    finally:
        watcher.stop()
    assert 'gpu_xid_errors_total{UUID="GPU-51510001-0000-4000-8000-000000000001",gpu="1",xid="79"} 2.0' in text
    assert 'xid="13"} 1.0' in text
    assert nvml.calls["nvmlShutdown"] == 1 and nvml.calls["nvmlEventSetFree"] == 1


# ------------------------------------------------------------------ golden exposition
def golden_text() -> str:
    nvml = FakeNvml(count=2, processes=4)
    nvml.errors[("nvmlDeviceGetPowerUsage", 1)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    text = scrape(make(nvml))
    # Timing values vary run to run.
    return re.sub(r"^(gpu_exporter_(collection_duration_seconds|last_success_timestamp_seconds)) .*$", r"\1 0.0",
                  text, flags=re.M)


def test_golden_two_gpus():
    assert golden_text() == GOLDEN.read_text()


def test_golden_output_is_promtool_clean(tool):
    promtool = tool("promtool")  # under CI=true a missing toolchain fails, never skips
    result = subprocess.run([str(promtool), "check", "metrics"], input=golden_text(), capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stdout + result.stderr


REAL_H100 = ROOT / "tests" / "fixtures" / "gpu" / "h100_real.prom"


def _families(text: str) -> dict[str, str]:
    return {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_the_simulated_gpus_export_what_a_real_h100_does():
    """h100_real.prom: /metrics of this exporter on an H100 (driver 580.159.04) under load, --xid on,
    recorded by scripts/gpu_check.py's run on a lent GPU machine. The simulated backend (dashboards
    and the native stack run on it) must export the same families with the same types and labels."""
    real, simulated = REAL_H100.read_text(), golden_text()
    assert {k: v for k, v in _families(real).items() if k != "gpu_xid_errors_total"} == _families(simulated)
    label_sets = lambda text: {(line.split("{")[0], tuple(sorted(re.findall(r'(\w+)="', line))))
                               for line in text.splitlines() if line.startswith("gpu_") and "{" in line}
    assert label_sets(real) - {k for k in label_sets(real) if k[0] == "gpu_xid_errors_total"} <= label_sets(simulated)


def test_the_real_h100_exposition_is_promtool_clean(tool):
    promtool = tool("promtool")  # under CI=true a missing toolchain fails, never skips
    result = subprocess.run([str(promtool), "check", "metrics"], input=REAL_H100.read_text(), capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stdout + result.stderr


def test_metric_names_used_by_alert_rules_exist():
    text = golden_text()
    rules = (ROOT / "prometheus" / "rules" / "gpu.yml").read_text()
    for name in set(re.findall(r"\b(gpu_[a-z_]+)\{job=\"gpu-exporter\"", rules)) - {"gpu_xid_errors_total"}:
        assert f"# TYPE {name} " in text, name
    for reason in ("power_cap", "hw_slowdown", "sw_thermal", "hw_thermal", "hw_power_brake"):
        assert f'reason="{reason}"' in text


# ------------------------------------------------------------------ CLI
@pytest.mark.parametrize("value, expected", [("0.0.0.0:9835", ("0.0.0.0", 9835)), ("[::]:1", ("::", 1)), (":80", ("0.0.0.0", 80))])
def test_parse_listen(value, expected):
    assert parse_listen(value) == expected


def test_simulated_mig_profiles_are_checked(monkeypatch):
    assert build_parser().parse_args(["--simulate-mig", "3g.40gb, 1g.10gb"]).simulate_mig == ["3g.40gb", "1g.10gb"]
    monkeypatch.setenv("GPU_EXPORTER_SIMULATE_MIG", "2g.20gb")
    assert build_parser().parse_args([]).simulate_mig == ["2g.20gb"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--simulate-mig", "big"])


def test_flags_read_env(monkeypatch):
    monkeypatch.setenv("GPU_EXPORTER_DEADLINE", "2.5")
    monkeypatch.setenv("GPU_EXPORTER_XID", "true")
    monkeypatch.setenv("GPU_EXPORTER_PROCESSES", "0")
    args = build_parser().parse_args(["--max-processes", "7"])
    assert (args.deadline, args.xid, args.processes, args.max_processes, args.interval) == (2.5, True, False, 7, 0.0)


def get(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.parametrize("extra, expect", [([], "gpu_exporter_up"), (["--simulate", "2", "--xid"], 'backend="simulated"')])
def test_process_serves_metrics_and_healthz_and_stops_on_sigterm(extra, expect):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gpu_exporter", "--listen", f"127.0.0.1:{port}", *extra],
                            cwd=ROOT / "exporters", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        assert get(f"http://127.0.0.1:{port}/healthz", deadline) == "ok\n"
        metrics = get(f"http://127.0.0.1:{port}/metrics", deadline)
        assert expect in metrics and "gpu_exporter_up" in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "shutting down" in proc.stdout.read()


# ------------------------------------------------------------------ exposition
def _registry(exporter: Exporter) -> CollectorRegistry:
    exporter.collection.get(refresh=True)
    registry = CollectorRegistry(auto_describe=False)
    exporter.register(registry)
    return registry


def _odd_names(pid: int) -> tuple[str, str]:
    return ('we"ird\\na\nme' if pid % 2 else "python3", "")      # /proc/PID/comm can hold anything


@pytest.mark.parametrize("case", ["two_gpus", "mig", "errors", "odd_process_names", "nvml_down", "xid"])
def test_the_fast_exposition_is_byte_identical_to_prometheus_client(case):
    nvml = FakeNvml(count=2, processes=6, mig={1: ["3g.40gb", "1g.10gb"]} if case == "mig" else None)
    resolve = SimulatedNvml.process_info
    if case == "errors":
        nvml.errors[("nvmlDeviceGetPowerUsage", 1)] = pynvml.NVML_ERROR_UNKNOWN
    if case == "odd_process_names":
        resolve = _odd_names
    if case == "nvml_down":
        nvml.errors[("nvmlInit", None)] = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    exporter = Exporter(nvml, config=Config(max_age=3600, xid=case == "xid"), resolve=resolve)
    if case == "xid":
        nvml.events.append((1, 79))
        exporter.start()
        deadline = time.monotonic() + 5
        while "gpu_xid_errors_total{" not in generate_latest(_registry(exporter)).decode():
            assert time.monotonic() < deadline, "the Xid event never reached the exporter"
            time.sleep(0.01)
    registry = _registry(exporter)
    renderer = TextRenderer(registry)
    for _ in range(2):                       # the second render comes from the label cache
        assert renderer.render() == generate_latest(registry)
    exporter.close()


def test_what_the_fast_exposition_does_not_handle_goes_to_prometheus_client():
    from prometheus_client import Histogram

    registry = CollectorRegistry()
    Histogram("job_seconds", "A histogram.", registry=registry).observe(0.3)
    assert TextRenderer(registry).render() == generate_latest(registry)


def test_the_label_cache_is_bounded(monkeypatch):
    import gpu_exporter.exposition as exposition

    monkeypatch.setattr(exposition, "MAX_CACHED_LABEL_SETS", 3)
    renderer = TextRenderer(_registry(make(FakeNvml(count=2, processes=6))))
    renderer.render()
    assert len(renderer._labels) > 3
    gone = (("process", "exited-long-ago"),)
    renderer._labels[gone] = '{process="exited-long-ago"}'      # a set no scrape has any more
    renderer.render()                         # over the bound: starts over, then fills with this scrape's sets
    assert gone not in renderer._labels
    assert len(renderer._labels) == len({tuple(sorted(s.labels.items())) for f in renderer._registry.collect()
                                         for s in f.samples})


@pytest.mark.parametrize("accept_encoding, accept", [("gzip", "application/openmetrics-text;version=1.0.0"), ("", "")])
def test_metrics_are_served_as_text_and_gzipped_when_asked(accept_encoding, accept):
    registry = _registry(make())
    answer: dict[str, object] = {}
    body = b"".join(metrics_app(registry)({"HTTP_ACCEPT_ENCODING": accept_encoding, "HTTP_ACCEPT": accept},
                                          lambda status, headers: answer.update(status=status, headers=dict(headers))))
    assert answer["status"] == "200 OK"
    assert answer["headers"]["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    if accept_encoding:
        assert answer["headers"]["Content-Encoding"] == "gzip"
        body = gzip.decompress(body)
    assert body == generate_latest(registry)


def test_simulated_backend_is_labelled():
    sim = SimulatedNvml(3)
    text = scrape(Exporter(sim, backend="simulated", config=Config(max_age=3600), resolve=sim.process_info))
    assert 'gpu_exporter_backend{backend="simulated"} 1.0' in text
    assert "gpu_exporter_devices 3.0" in text and len(series(text, "gpu_info")) == 3
    assert len(series(text, "gpu_process_memory_used_bytes")) == 6
