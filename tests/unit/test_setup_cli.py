"""scripts/setup.py end to end on a copy of the project, with the real Compose CLI and tools."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT
from obsstack import envfile

pytestmark = pytest.mark.toolchain


def fake_docker(folder: Path, runtimes: str = '{"runc": {}}') -> Path:
    """A Docker CLI whose engine answers `info` (no engine can run here); no compose plugin."""
    folder.mkdir(exist_ok=True)
    docker = folder / "docker"
    docker.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        case "$1" in
          info) echo '{{"ServerVersion": "28.2.2", "Runtimes": {runtimes}, "DockerRootDir": "/"}}' ;;
          *) echo "docker: unknown command: docker $1" >&2; exit 1 ;;
        esac
        """))
    docker.chmod(0o755)
    return folder


def run_setup(project: Path, *args: str, path_prefix: Path | None = None, tools_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OBS_TOOLS_DIR=str(tools_dir))
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    env.pop("COMPOSE_PROFILES", None)
    env.pop("COMPOSE_FILE", None)
    return subprocess.run([sys.executable, str(project / "scripts/setup.py"), "--project-dir", str(project), "-y", *args],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def ready_tools(tool, tools_dir):
    for name in ("promtool", "amtool", "blackbox_exporter"):
        tool(name)
    return tools_dir


def test_setup_writes_env_validates_and_never_prints_a_secret(project_copy, ready_tools):
    proc = run_setup(project_copy, "--skip-preflight", tools_dir=ready_tools)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    env = project_copy / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    values = envfile.read_env(env)
    for setting in envfile.read_example(ROOT / ".env.example"):
        if setting.generate:
            assert values[setting.key], setting.key
            assert values[setting.key] not in output, f"{setting.key} printed"
    for check in ("compose config", "promtool", "amtool", "blackbox_exporter", "yaml/json syntax"):
        assert any(line.startswith("PASS") and check in line for line in output.splitlines()), check
    assert "created" in output and str(env) in output

    again = run_setup(project_copy, "--skip-preflight", tools_dir=ready_tools)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert envfile.read_env(env) == values


def test_full_preflight_with_a_docker_host_that_has_the_nvidia_runtime(project_copy, ready_tools, tmp_path):
    bin_dir = fake_docker(tmp_path / "bin", runtimes='{"runc": {}, "nvidia": {}}')
    proc = run_setup(project_copy, "--json", path_prefix=bin_dir, tools_dir=ready_tools)
    report = json.loads(proc.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["docker engine"]["status"] == "PASS"
    assert checks["nvidia runtime"]["status"] == "PASS"  # the GPU overlay was switched on
    assert "docker-compose.gpu.yml" in envfile.read_env(project_copy / ".env")["COMPOSE_FILE"]
    for name in ("compose", "memory", "vm.max_map_count", "ports", "disk"):
        assert name in checks, name
    failed = [c for c in report["checks"] if c["status"] == "FAIL"]
    assert report["ok"] == (not failed) and (proc.returncode == 0) == (not failed)
    assert all(c["fix"] for c in failed)


def test_no_docker_engine_fails_with_its_fix(project_copy, ready_tools, tmp_path):
    empty = tmp_path / "nodocker"
    empty.mkdir()
    (empty / "docker").write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    (empty / "docker").chmod(0o755)
    proc = run_setup(project_copy, path_prefix=empty, tools_dir=ready_tools)
    assert proc.returncode == 1
    assert "FAIL  docker engine" in proc.stdout and "fix: start Docker" in proc.stdout


def test_check_only_writes_nothing(project_copy, ready_tools):
    proc = run_setup(project_copy, "--check-only", "--skip-preflight", tools_dir=ready_tools)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (project_copy / ".env").exists()


BROKEN = {
    "bad YAML": ("prometheus/prometheus.yml", "scrape_configs:\n", "scrape_configs:\n  - job_name: [unclosed\n",
                 ["prometheus/prometheus.yml:"]),
    "unknown Prometheus field": ("prometheus/prometheus.yml", "  scrape_interval: 15s\n",
                                 "  scrape_interval: 15s\n  scrape_intervall: 15s\n",
                                 ["prometheus/prometheus.yml", "line {line}: field scrape_intervall not found"]),
    "unknown Alertmanager field": ("alertmanager/alertmanager.yml", "  group_wait: 30s\n",
                                   "  group_wait: 30s\n  group_wiat: 30s\n",
                                   ["alertmanager/alertmanager.yml:{line}: field group_wiat not found"]),
    "bad rule": ("prometheus/rules/meta.yml", "expr: vector(1)", "expr: vector(1",
                 ["prometheus/rules/meta.yml", "parse error"]),
    "unknown blackbox field": ("blackbox/blackbox.yml", "    prober: tcp\n", "    prober: tcp\n    timeoutt: 5s\n",
                               ["blackbox/blackbox.yml", "line {line}: field timeoutt not found"]),
    "unknown compose key": ("docker-compose.yml", "    image: prom/alertmanager:v0.33.1\n",
                            "    image: prom/alertmanager:v0.33.1\n    imagee: typo\n",
                            ["compose config", "imagee"]),
    "bad target drop-in": ("prometheus/targets/app.yml", None, "- targets: [app]\n  label: {team: x}\n",
                           ["prometheus/targets/app.yml: group 1", "unknown field(s) label", "host:port"]),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_config_fails_naming_file_and_line(case, project_copy, ready_tools):
    relative, old, new, expected = BROKEN[case]
    path = project_copy / relative
    if old is None:
        path.write_text(new)
    else:
        text = path.read_text()
        assert old in text, f"fixture drifted: {old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))
    # the 1-based line of the inserted text's last line, for tools that report lines
    line = len(path.read_text()[: path.read_text().index(new) + len(new)].splitlines())
    proc = run_setup(project_copy, "--skip-preflight", tools_dir=ready_tools)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "setup: FAILED" in output
    for fragment in expected:
        fragment = fragment.format(line=line)
        assert fragment in output, f"{fragment!r} missing from:\n{output}"


def test_without_local_tools_the_pinned_images_validate(project_copy, tmp_path):
    """On a Docker host without the test toolchain, setup runs promtool/amtool/blackbox_exporter from
    the images docker-compose.yml pins. The stand-in docker records each `run` and answers as promtool
    does for a broken file, with the container's paths, which setup maps back to the repository's."""
    calls = tmp_path / "calls.jsonl"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(textwrap.dedent(f"""\
        #!/usr/bin/env python3
        import json, sys
        args = sys.argv[1:]
        if args[0] == "info":
            print(json.dumps({{"ServerVersion": "28.2.2", "Runtimes": {{"runc": {{}}}}}}))
        elif args[0] == "run":
            open("{calls}", "a").write(json.dumps(args) + "\\n")
            if "promtool" in args:
                print("  FAILED: parsing YAML file /etc/prometheus/prometheus.yml: line 3: field x not found")
                sys.exit(1)
        else:
            sys.exit(1)
        """))
    (bin_dir / "docker").chmod(0o755)
    proc = run_setup(project_copy, "--skip-preflight", path_prefix=bin_dir, tools_dir=tmp_path / "no-tools")
    assert proc.returncode == 1
    runs = [json.loads(line) for line in calls.read_text().splitlines()]
    by_tool = {run[run.index("--entrypoint") + 1]: run for run in runs}
    assert set(by_tool) == {"promtool", "amtool", "/bin/blackbox_exporter"}
    promtool = by_tool["promtool"]
    assert "prom/prometheus:v3.5.3" in promtool and "--network" in promtool
    assert f"{project_copy}/prometheus:/etc/prometheus:ro" in promtool
    assert promtool[-4:] == ["check", "config", "--lint=all", "/etc/prometheus/prometheus.yml"]
    assert "prom/alertmanager:v0.33.1" in by_tool["amtool"]
    assert "prom/blackbox-exporter:v0.28.0" in by_tool["/bin/blackbox_exporter"]
    assert "parsing YAML file prometheus/prometheus.yml: line 3" in proc.stdout
    assert "(pinned image)" in proc.stdout  # amtool and blackbox passed through their images


# ------------------------------------------------------------------ bad input: refused, nothing written
BAD_SETTINGS = [
    ("COMPOSE_PROFILES=logging,tracing,demo", "COMPOSE_PROFILES=logging,metrics", "COMPOSE_PROFILES", "no service has the profile 'metrics'"),
    ("ALERT_WEBHOOK_URL=", "ALERT_WEBHOOK_URL=hooks.example.com/abc", "ALERT_WEBHOOK_URL", "not an http(s) URL"),
    ("PROMETHEUS_RETENTION_TIME=31d", "PROMETHEUS_RETENTION_TIME=a month", "PROMETHEUS_RETENTION_TIME", "not a Prometheus duration"),
    ("LOGS_RETENTION=14d", "LOGS_RETENTION=2w", "LOGS_RETENTION", "Elasticsearch"),
    ("VM_RETENTION_PERIOD=1y", "VM_RETENTION_PERIOD=12h", "VM_RETENTION_PERIOD", "at least 24h"),
    ("PROMETHEUS_RETENTION_SIZE=10GB", "PROMETHEUS_RETENTION_SIZE=10 gigs", "PROMETHEUS_RETENTION_SIZE", "not a size"),
    ("ELASTICSEARCH_HEAP=1g", "ELASTICSEARCH_HEAP=3g", "ELASTICSEARCH_HEAP", "memory limit (2048m"),
    ("LOGSTASH_HEAP=512m", "LOGSTASH_HEAP=64m", "LOGSTASH_HEAP", "below the 256m"),
    ("GRAFANA_PORT=3000", "GRAFANA_PORT=70000", "GRAFANA_PORT", "not a port number"),
    ("BIND_ADDRESS=127.0.0.1", "BIND_ADDRESS=0.0.0.0", "BIND_ADDRESS", "clear text"),
    ("TLS_MODE=internal", "TLS_MODE=letsencrypt", "TLS_MODE", "internal or files"),
    ("GRAFANA_ADMIN_USER=admin", "GRAFANA_ADMIN_USER admin", ".env", "expected KEY=value"),
]


@pytest.mark.parametrize("good, bad, setting, says", BAD_SETTINGS, ids=[case[2] + ":" + case[1][:20] for case in BAD_SETTINGS])
def test_a_bad_setting_is_refused_naming_it_and_nothing_is_written(project_copy, ready_tools, good, bad, setting, says):
    first = run_setup(project_copy, "--skip-preflight", tools_dir=ready_tools)
    assert first.returncode == 0, first.stdout + first.stderr
    env = project_copy / ".env"
    assert good in env.read_text(), good
    env.write_text(env.read_text().replace(good, bad, 1))
    before = {path: path.read_bytes() for path in project_copy.rglob("*") if path.is_file()}
    proc = run_setup(project_copy, "--skip-preflight", "--json", tools_dir=ready_tools)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [c for c in json.loads(proc.stdout)["checks"] if c["status"] == "FAIL"]
    assert any(setting in c["check"] + c["detail"] and says in c["detail"] and c["fix"] for c in failed), failed
    after = {path: path.read_bytes() for path in project_copy.rglob("*") if path.is_file()}
    assert after == before, "a refused setup must not write anything"


def test_insecure_bind_is_an_explicit_choice(project_copy, ready_tools):
    assert run_setup(project_copy, "--skip-preflight", tools_dir=ready_tools).returncode == 0
    env = project_copy / ".env"
    env.write_text(env.read_text().replace("BIND_ADDRESS=127.0.0.1", "BIND_ADDRESS=0.0.0.0", 1))
    assert run_setup(project_copy, "--skip-preflight", "--insecure-bind", tools_dir=ready_tools).returncode == 0
    env.write_text(env.read_text().replace("COMPOSE_PROFILES=logging,tracing,demo", "COMPOSE_PROFILES=logging,tracing,demo,tls", 1))
    assert run_setup(project_copy, "--skip-preflight", tools_dir=ready_tools).returncode == 0, "tls makes it safe"


def test_a_taken_port_is_refused_naming_its_setting(project_copy, ready_tools, tmp_path):
    import socket

    assert run_setup(project_copy, "--skip-preflight", tools_dir=ready_tools).returncode == 0
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = project_copy / ".env"
        env.write_text(env.read_text().replace("GRAFANA_PORT=3000", f"GRAFANA_PORT={port}", 1))
        before = env.read_bytes()
        proc = run_setup(project_copy, "--json", path_prefix=fake_docker(tmp_path / "bin"), tools_dir=ready_tools)
    assert proc.returncode == 1
    ports = next(c for c in json.loads(proc.stdout)["checks"] if c["check"] == "ports")
    assert f":{port} (grafana)" in ports["detail"] and "GRAFANA_PORT" in ports["fix"]
    assert env.read_bytes() == before
