"""docker-compose.yml runs node-exporter without the host's PID namespace: the host's procfs and sysfs
are read through the read-only / mount (--path.procfs=/host/proc, --path.sysfs=/host/sys). This test
runs the real node_exporter with those very flags in a PID and mount namespace of its own (as a
container has) and checks it still reports the host: its mounts, not the namespace's."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import IN_CI, ROOT
from obsstack.net import free_port

pytestmark = pytest.mark.toolchain

SCRIPT = """
set -e
mount --make-rprivate /
mount --rbind / "$HOSTROOT"
mount -t proc proc /proc
"$NODE_EXPORTER" --web.listen-address=127.0.0.1:$PORT "$@" &
exporter=$!
echo "own-pids $(ls /proc | grep -c '^[0-9]')"
i=0
until "$PYTHON" -c "import urllib.request as u; open('$OUT', 'wb').write(u.urlopen('http://127.0.0.1:$PORT/metrics', timeout=2).read())" 2>/dev/null; do
  i=$((i+1)); [ $i -lt 100 ] || { echo 'node_exporter never answered' >&2; exit 1; }; sleep 0.1
done
kill $exporter
"""


def compose_flags(root: str) -> list[str]:
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["node-exporter"]["command"]
    assert "pid" not in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["node-exporter"]
    return [flag.replace("=/host", f"={root}").replace("$$", "$") for flag in command if flag.startswith("--path.")]


def mountpoints(text: str) -> set[str]:
    return {line.split('mountpoint="')[1].split('"')[0] for line in text.splitlines()
            if line.startswith("node_filesystem_size_bytes{")}


def test_node_exporter_reports_the_host_from_its_own_pid_namespace(tool, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        message = "needs root and util-linux's unshare (namespaces)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true)")
        pytest.skip(message)
    node_exporter = str(tool("node_exporter"))
    host_root = tmp_path / "host"
    host_root.mkdir()
    flags = compose_flags(str(host_root))
    assert flags == [f"--path.rootfs={host_root}", f"--path.procfs={host_root}/proc", f"--path.sysfs={host_root}/sys"]
    out = tmp_path / "metrics"
    env = {**os.environ, "HOSTROOT": str(host_root), "NODE_EXPORTER": node_exporter, "PORT": str(free_port()),
           "OUT": str(out), "PYTHON": sys.executable}
    proc = subprocess.run(["unshare", "--mount", "--pid", "--fork", "sh", "-c", SCRIPT, "sh", *flags],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    own = int(proc.stdout.split("own-pids ")[1].split()[0])
    host_pids = len([p for p in os.listdir("/proc") if p.isdigit()])
    assert own < 10 < host_pids, "the namespace must hide the host's processes, else this proves nothing"
    inside = out.read_text()
    # The same exporter on the host itself, for the reference.
    port = free_port()
    direct = subprocess.Popen([node_exporter, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        import time

        import requests
        deadline = time.monotonic() + 20
        while True:
            try:
                reference = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the reference node_exporter never answered"
                time.sleep(0.1)
    finally:
        direct.terminate()
        direct.wait(timeout=10)
    assert mountpoints(inside) and mountpoints(inside) == mountpoints(reference), (mountpoints(inside), mountpoints(reference))
    for family in ("node_load1 ", "node_memory_MemTotal_bytes ", "node_boot_time_seconds ", "node_cpu_seconds_total{"):
        assert family in inside, family
    boot = lambda text: next(line for line in text.splitlines() if line.startswith("node_boot_time_seconds "))
    assert boot(inside) == boot(reference)
