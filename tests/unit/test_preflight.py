"""Each preflight check on a simulated host: the failure names the problem and its exact fix.

Docker cannot run here, so the Docker CLI is stood in for by small scripts that answer as the
real one does (`docker info --format '{{json .}}'`, or its error when the daemon is down).
"""
from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path

import pytest

from obsstack import compose, preflight
from obsstack.preflight import Host, Status


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    proc = tmp_path / "proc"
    (proc / "sys/vm").mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal:       16384000 kB\nMemAvailable:    8192000 kB\n")
    (proc / "sys/vm/max_map_count").write_text("262144\n")
    return proc


def test_docker_not_installed():
    info = Host(docker=["/nonexistent/docker"]).docker_info()
    result = preflight.check_docker(info)
    assert result.status is Status.FAIL
    assert "not installed" in result.detail and "systemctl start docker" in result.fix


def test_docker_daemon_down(tmp_path):
    docker = script(tmp_path, "docker", """\
        echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2
        exit 1
        """)
    result = preflight.check_docker(Host(docker=[str(docker)]).docker_info())
    assert result.status is Status.FAIL
    assert "Cannot connect to the Docker daemon" in result.detail
    assert "usermod -aG docker" in result.fix


def test_docker_up(tmp_path):
    docker = script(tmp_path, "docker", """\
        echo '{"ServerVersion": "28.2.2", "Runtimes": {"runc": {}}}'
        """)
    info = Host(docker=[str(docker)]).docker_info()
    assert preflight.check_docker(info) == preflight.Result("docker engine", Status.PASS, "Docker 28.2.2")
    assert not preflight.has_nvidia_runtime(info)


def test_compose_too_old(tmp_path):
    old = script(tmp_path, "docker-compose", "echo 2.17.3\n")
    result = preflight.check_compose([str(old)])
    assert result.status is Status.FAIL
    assert "2.17.3 is older than 2.24.0" in result.detail and "install Docker Compose" in result.fix


def test_compose_real_cli_passes(compose_cmd):
    result = preflight.check_compose(compose_cmd)
    assert result.status is Status.PASS and "Compose 2." in result.detail


def test_compose_not_a_version(tmp_path):
    broken = script(tmp_path, "docker-compose", "echo nonsense\n")
    assert preflight.check_compose([str(broken)]).status is Status.FAIL


def test_memory_short(fake_proc):
    limits = {"elasticsearch": 2 * 1024**3, "logstash": 1024**3, "kibana": 1024**3, "grafana": 512 * 1024**2}
    (fake_proc / "meminfo").write_text("MemTotal: 4000000 kB\nMemAvailable: 3000000 kB\n")
    result = preflight.check_memory(Host(proc=fake_proc), limits)
    assert result.status is Status.WARN
    assert "limits add up to 4.5 GiB" in result.detail
    assert "COMPOSE_PROFILES" in result.fix and "elasticsearch 2.0 GiB" in result.fix


def test_memory_enough(fake_proc):
    assert preflight.check_memory(Host(proc=fake_proc), {"prometheus": 1024**3}).status is Status.PASS


def test_max_map_count_too_low_when_logging_on(fake_proc):
    (fake_proc / "sys/vm/max_map_count").write_text("65530\n")
    result = preflight.check_max_map_count(Host(proc=fake_proc), logging_enabled=True)
    assert result.status is Status.FAIL
    assert "65530" in result.detail
    assert "sysctl -w vm.max_map_count=262144" in result.fix and "/etc/sysctl.d/" in result.fix


def test_max_map_count_ignored_without_logging(fake_proc):
    (fake_proc / "sys/vm/max_map_count").write_text("65530\n")
    assert preflight.check_max_map_count(Host(proc=fake_proc), logging_enabled=False).status is Status.SKIP


def test_port_in_use_is_named_with_its_service():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = [compose.PublishedPort("grafana", "127.0.0.1", port, 3000)]
        result = preflight.check_ports(ports, ours=set())
        assert result.status is Status.FAIL
        assert f"127.0.0.1:{port} (grafana)" in result.detail and "GRAFANA_PORT" in result.fix
        # the stack's own running service holds it: fine on a re-run
        assert preflight.check_ports(ports, ours={"grafana"}).status is Status.PASS
    assert preflight.check_ports(ports, ours=set()).status is Status.PASS


def test_disk_low(tmp_path):
    host = Host(disk_fail_bytes=1 << 60, disk_warn_bytes=1 << 61)
    result = preflight.check_disk(host, tmp_path)
    assert result.status is Status.FAIL and "PROMETHEUS_RETENTION_SIZE" in result.fix
    host = Host(disk_fail_bytes=0, disk_warn_bytes=1 << 61)
    assert preflight.check_disk(host, tmp_path).status is Status.WARN
    assert preflight.check_disk(Host(disk_fail_bytes=0, disk_warn_bytes=0), tmp_path).status is Status.PASS


def test_gpu_overlay_without_nvidia_runtime():
    info = {"ServerVersion": "28.2.2", "Runtimes": {"runc": {}}}
    result = preflight.check_gpu(info, gpu_overlay=True)
    assert result.status is Status.FAIL
    assert "nvidia-ctk runtime configure" in result.fix and "COMPOSE_FILE" in result.fix


@pytest.mark.parametrize("info", [
    {"Runtimes": {"runc": {}, "nvidia": {"path": "nvidia-container-runtime"}}},
    {"Runtimes": {"runc": {}}, "DiscoveredDevices": [{"Source": "cdi", "ID": "nvidia.com/gpu=all"}]},
])
def test_gpu_runtime_detected(info):
    assert preflight.has_nvidia_runtime(info)
    assert preflight.check_gpu(info, gpu_overlay=True).status is Status.PASS
    assert "add docker-compose.gpu.yml" in preflight.check_gpu(info, gpu_overlay=False).detail


def test_result_line_shows_fix_only_on_problems():
    ok = preflight.Result("disk", Status.PASS, "fine", "never shown")
    bad = preflight.Result("disk", Status.FAIL, "full", "free space")
    assert "fix:" not in ok.line()
    assert bad.line().endswith("fix: free space")


def test_docker_info_not_json(tmp_path):
    docker = script(tmp_path, "docker", "echo garbage\n")
    info = Host(docker=[str(docker)]).docker_info()
    assert isinstance(info, str) and "not JSON" in info
    assert json.dumps(preflight.check_docker(info).status.value) == '"FAIL"'
