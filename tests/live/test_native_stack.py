"""The project's own configs on the real binaries, natively on loopback (`obsstack native up --fast`):
the smoke test passes, alerts fire and resolve end to end for injected faults, nothing leaks.

One native stack for the whole module; faults are injected in parallel and polled with deadlines.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from conftest import ROOT
from netns import until
from obsstack import hosts
from obsstack.net import free_port
from obsstack.promql import label_values_query, substitute_variables
from obsstack.native import COMPONENTS
from obsstack.rules import load_rules

pytestmark = pytest.mark.toolchain
CLI = [sys.executable, "-m", "obsstack", "native"]
TOOLS = ("prometheus", "alertmanager", "node_exporter", "postgres", "initdb", "postgres_exporter", "redis-server",
         "redis_exporter", "blackbox_exporter")
DEADLINE_S = 90


@dataclass
class NativeRun:
    state: Path
    endpoints: dict

    def url(self, name: str) -> str:
        return self.endpoints["components"][name]["url"]

    def auth(self, name: str) -> tuple[str, str]:
        return tuple(self.endpoints["components"][name]["auth"])

    def notifications(self) -> list[dict]:
        return requests.get(f"{self.url('webhook_sink')}/notifications", timeout=5).json()


def cli(*args: str, state: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    return subprocess.run([*CLI, *args, "--state-dir", str(state)], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


@pytest.fixture(scope="module")
def native(tool) -> Iterator[NativeRun]:
    for name in TOOLS:
        tool(name)
    # Under /tmp, world-searchable: PostgreSQL runs as `nobody` when the tests run as root.
    state = Path(tempfile.mkdtemp(prefix="obs-native-"))
    state.chmod(0o755)
    up = cli("up", "--fast", state=state)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted((state / "logs").glob("*.log")))
    assert up.returncode == 0, f"{up.stderr}\n{logs}"
    assert "FAST mode" in up.stderr
    run = NativeRun(state, json.loads(up.stdout))
    yield run
    cli("down", state=state)
    shutil.rmtree(state, ignore_errors=True)


def test_up_prints_and_writes_every_component(native):
    assert list(native.endpoints["components"]) == list(COMPONENTS), "every registered component, in start order"
    expected = set(COMPONENTS)
    assert json.loads((native.state / "endpoints.json").read_text()) == native.endpoints
    for name in ("prometheus", "alertmanager", "postgres", "redis"):
        assert len(native.auth(name)) == 2
    assert native.endpoints["time_scale"] == {"name": "fast", "divisor": 60}
    # Services that only exist in compose are left out of the scrape config, with the reason.
    assert set(native.endpoints["skipped_jobs"]) == {"cadvisor", "dcgm", "grafana", "jaeger", "blackbox-http-optional",
                                                     "elasticsearch", "logstash", "filebeat", "logs-failure-store"}
    for name in expected:
        assert (native.state / "logs" / f"{name}.log").exists()


def test_status_reports_every_component_running(native):
    proc = cli("status", state=native.state)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(json.loads(proc.stdout).values()) == {"running"}


def test_endpoints_are_secured(native):
    assert requests.get(f"{native.url('prometheus')}/-/ready", timeout=5).status_code == 401
    assert requests.get(f"{native.url('alertmanager')}/-/ready", timeout=5).status_code == 401
    assert requests.get(f"{native.url('prometheus')}/-/ready", auth=native.auth("prometheus"), timeout=5).status_code == 200


def test_no_secret_on_any_command_line(native):
    """`ps` shows every process's command line to every user: no password of the run may be there."""
    secrets = {native.auth(name)[1] for name, c in native.endpoints["components"].items() if "auth" in c}
    assert len(secrets) == 4, "prometheus, alertmanager, postgres and redis each have a password"
    command_lines = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command_lines[cmdline.parent.name] = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    ours = [c["pid"] for c in native.endpoints["components"].values()]
    assert all(str(pid) in command_lines for pid in ours), "every component's process was read"
    leaks = {pid: line for pid, line in command_lines.items() for secret in secrets if secret in line}
    assert not leaks, f"secrets on command lines: {sorted(leaks)}"


def test_smoke_test_passes_on_the_native_stack(native):
    proc = subprocess.run([sys.executable, "-m", "obsstack", "smoke", "--endpoints",
                           str(native.state / "endpoints.json"), "--json", "--wait", "60"],
                          capture_output=True, text=True, timeout=180, check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"], json.dumps(report, indent=2)
    status = {(c["component"], c["check"]): c for c in report["checks"]}
    for key in (("prometheus", "targets up"), ("prometheus", "rules healthy"), ("alertmanager", "watchdog delivered"),
                ("gpu", "exporters answer"), ("demo_app", "traffic scraped")):
        assert status[key]["status"] == "PASS", status[key]
    skipped = [c for c in report["checks"] if c["status"] == "SKIP"]
    assert {c["component"] for c in skipped} == {"grafana", "elasticsearch", "filebeat", "kibana", "jaeger"}
    assert all("cannot run without Docker" in c["detail"] for c in skipped)


def test_every_target_up_and_every_rule_healthy(native):
    auth = native.auth("prometheus")
    targets = requests.get(f"{native.url('prometheus')}/api/v1/targets", auth=auth, timeout=5).json()["data"]["activeTargets"]
    jobs = {t["labels"]["job"] for t in targets}
    assert jobs == {"prometheus", "alertmanager", "node", "postgres", "redis", "gpu-exporter", "blackbox-exporter",
                    "demo-app", "blackbox-http"}
    assert all(t["health"] == "up" for t in targets), [(t["labels"]["job"], t["lastError"]) for t in targets]
    groups = requests.get(f"{native.url('prometheus')}/api/v1/rules", auth=auth, timeout=5).json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    shipped = len(load_rules(ROOT))
    assert len(rules) == shipped
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


def test_watchdog_payload_carries_what_templates_use(native):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        watchdog = [n for n in native.notifications() if n["path"] == "/watchdog"]
        if watchdog:
            break
        time.sleep(0.5)
    else:
        pytest.fail("Watchdog never reached the webhook sink")
    body = watchdog[0]["body"]
    assert body["receiver"] == "watchdog" and body["status"] == "firing" and body["version"] == "4"
    assert body["externalURL"] == native.url("alertmanager")
    alert = body["alerts"][0]
    assert alert["labels"] == {"alertname": "Watchdog", "severity": "none", "cluster": "native", "environment": "test"}
    assert alert["annotations"]["summary"] == "Alerting pipeline is working."
    assert alert["annotations"]["description"].startswith("This alert always fires.")
    assert alert["generatorURL"].startswith(native.url("prometheus"))
    assert body["groupLabels"] == {"alertname": "Watchdog", "severity": "none"}  # route group_by


def wait_for(native: NativeRun, since: float, status: str, wanted: dict[str, dict[str, str]]) -> dict[str, float]:
    """Poll the sink until each wanted alert (name -> labels it must have) arrived with `status` after `since`."""
    deadline = time.monotonic() + DEADLINE_S
    seen: dict[str, float] = {}
    while time.monotonic() < deadline and len(seen) < len(wanted):
        for entry in native.notifications():
            if entry["received_at"] < since:
                continue
            for alert in entry["body"]["alerts"]:
                name = alert["labels"].get("alertname")
                if name in wanted and alert["status"] == status and name not in seen and \
                        wanted[name].items() <= alert["labels"].items():
                    seen[name] = entry["received_at"] - since
        time.sleep(0.5)
    missing = set(wanted) - set(seen)
    assert not missing, f"no {status} notification within {DEADLINE_S}s for {sorted(missing)}; got {seen}"
    return seen


def set_faults(native: NativeRun, **settings: float) -> None:
    response = requests.post(f"{native.url('demo_app')}/admin/faults", json=settings, timeout=5)
    assert response.status_code == 200, response.text


def firing_alerts_panel_rows(native: NativeRun) -> list[dict[str, str]]:
    """The rows the Overview's Firing alerts table shows now: its own query, run by the real Prometheus."""
    overview = json.loads((ROOT / "grafana/dashboards/Overview/overview.json").read_text())
    [panel] = [p for p in overview["panels"] if p["title"] == "Firing alerts"]
    expr = substitute_variables(panel["targets"][0]["expr"])
    return [series["metric"] for series in poll_api(native, "query", {"query": expr})]


def test_faults_are_detected_delivered_and_resolved(native):
    wanted = {
        "RedisDown": {"severity": "critical", "job": "redis"},
        "PostgresqlDown": {"severity": "critical", "job": "postgres"},
        "TargetDown": {"severity": "warning", "job": "node"},
        "HighErrorRatio": {"severity": "critical", "job": "demo-app"},
    }
    injected = time.time()
    for component in ("redis", "postgres", "node_exporter"):
        proc = cli("stop", component, state=native.state)
        assert proc.returncode == 0, proc.stderr
    set_faults(native, error_ratio=0.5)
    fired = wait_for(native, injected, "firing", wanted)
    listed = firing_alerts_panel_rows(native)
    assert all(any(wanted[name].items() <= row.items() for row in listed if row["alertname"] == name)
               for name in wanted), f"the Overview's Firing alerts lists {listed}, not each of {wanted}"
    assert "Watchdog" not in {row["alertname"] for row in listed}, "the always-firing Watchdog is listed"

    recovered = time.time()
    for component in ("redis", "postgres", "node_exporter"):
        proc = cli("start", component, state=native.state)
        assert proc.returncode == 0, proc.stderr
    set_faults(native, error_ratio=0.0)
    resolved = wait_for(native, recovered, "resolved", wanted)
    print(f"\nfast-mode delivery, seconds after injection: {fired}; after recovery: {resolved}")


def post_alerts(native: NativeRun, alerts: list[dict]) -> None:
    response = requests.post(f"{native.url('alertmanager')}/api/v2/alerts", json=alerts,
                             auth=native.auth("alertmanager"), timeout=5)
    assert response.status_code == 200, response.text


def test_inhibition_rules_hold_in_the_real_alertmanager(native):
    """TargetDown silences the symptoms on its target; critical silences warning of the same alert."""
    tag = f"inhibit-{time.time_ns()}"
    since = time.time()
    target = {"job": "redis", "instance": tag}
    post_alerts(native, [
        {"labels": {"alertname": "TargetDown", "severity": "warning", **target}},
        {"labels": {"alertname": "RedisHighMemory", "severity": "warning", **target}},
        {"labels": {"alertname": "DiskSlow", "severity": "critical", "instance": tag}},
        {"labels": {"alertname": "DiskSlow", "severity": "warning", "instance": tag}},
    ])
    deadline = time.monotonic() + 30
    states: dict[tuple[str, str], dict] = {}
    while time.monotonic() < deadline:
        alerts = requests.get(f"{native.url('alertmanager')}/api/v2/alerts", auth=native.auth("alertmanager"),
                              params={"filter": f'instance="{tag}"'}, timeout=5).json()
        states = {(a["labels"]["alertname"], a["labels"]["severity"]): a["status"] for a in alerts}
        if len(states) == 4 and states[("RedisHighMemory", "warning")]["state"] == "suppressed" \
                and states[("DiskSlow", "warning")]["state"] == "suppressed":
            break
        time.sleep(0.5)
    assert states[("TargetDown", "warning")]["state"] == "active", states
    assert states[("DiskSlow", "critical")]["state"] == "active", states
    assert states[("RedisHighMemory", "warning")]["state"] == "suppressed", states
    assert states[("DiskSlow", "warning")]["state"] == "suppressed", states
    # and only the active ones are delivered
    delivered: set[tuple[str, str]] = set()
    while time.monotonic() < deadline + 30 and len(delivered) < 2:
        for entry in native.notifications():
            if entry["received_at"] >= since:
                delivered |= {(a["labels"]["alertname"], a["labels"]["severity"]) for a in entry["body"]["alerts"]
                              if a["labels"].get("instance") == tag}
        time.sleep(0.5)
    assert delivered == {("TargetDown", "warning"), ("DiskSlow", "critical")}


def test_failed_config_reloads_are_detected_and_resolved(native):
    """Prometheus and Alertmanager themselves: a broken config file and a reload, then the fix."""
    files = {"prometheus": native.state / "prometheus/prometheus.yml",
             "alertmanager": native.state / "alertmanager/alertmanager.yml"}
    good = {name: path.read_text() for name, path in files.items()}
    broken_at = time.time()
    try:
        for name, path in files.items():
            path.write_text(good[name] + "\nthis_is_not_a_valid_field: true\n")
            response = requests.post(f"{native.url(name)}/-/reload", auth=native.auth(name), timeout=10)
            assert response.status_code >= 400, f"{name} accepted a broken config"
        wanted = {"PrometheusBadConfig": {"severity": "critical", "job": "prometheus"},
                  "AlertmanagerFailedReload": {"severity": "critical", "job": "alertmanager"}}
        fired = wait_for(native, broken_at, "firing", wanted)
    finally:
        fixed_at = time.time()
        for name, path in files.items():
            path.write_text(good[name])
            response = requests.post(f"{native.url(name)}/-/reload", auth=native.auth(name), timeout=10)
            assert response.status_code == 200, response.text
    resolved = wait_for(native, fixed_at, "resolved", wanted)
    print(f"\nfast-mode delivery: {fired}; resolved: {resolved}")


def test_prometheus_scrapes_the_gpu_exporter(native):
    """The native stack's exporter serves 3 simulated GPUs, the third in MIG mode with 3 GPU
    instances; Prometheus stores their series, and they join the host's node series on the `host`
    label the scrape config sets."""
    auth = native.auth("prometheus")
    for expr, expected in (('count(gpu_utilization_ratio{job="gpu-exporter"})', "2"),   # none in MIG mode
                           ('count(gpu_memory_used_bytes{job="gpu-exporter", gpu="2", GPU_I_PROFILE=~".+"})', "3"),
                           # every process on the MIG GPU is attributed to its GPU instance
                           ('count(gpu_process_memory_used_bytes{job="gpu-exporter", gpu="2", GPU_I_ID!=""}) / '
                            'count(gpu_process_memory_used_bytes{job="gpu-exporter", gpu="2"})', "1"),
                           ('gpu_exporter_backend{job="gpu-exporter", backend="simulated"}', "1"),
                           ('max(gpu_exporter_up{job="gpu-exporter"})', "1"),
                           ('count(gpu_power_usage_watts{host="stack-host"} * on (host) group_left '
                            'node_uname_info{job="node"})', "3")):
        deadline = time.monotonic() + 30
        value = None
        while time.monotonic() < deadline:
            result = requests.get(f"{native.url('prometheus')}/api/v1/query", params={"query": expr}, auth=auth,
                                  timeout=5).json()["data"]["result"]
            value = result[0]["value"][1] if result else None
            if value == expected:
                break
            time.sleep(1)
        assert value == expected, (expr, value)


# Dashboard panels that cannot have data in the native stack, with the reason: the one list of them.
NO_DATA_NATIVELY: dict[str, str] = yaml.safe_load((Path(__file__).parent / "no_data_natively.yml").read_text())


def poll_api(native, path: str, params: dict[str, str], seconds: float = 60) -> list:
    """The API answer's data once it is non-empty, or the empty answer at the deadline."""
    auth, url = native.auth("prometheus"), native.url("prometheus")
    deadline = time.monotonic() + seconds
    while True:
        data = requests.get(f"{url}/api/v1/{path}", params=params, auth=auth, timeout=10).json()["data"]
        found = data["result"] if isinstance(data, dict) else data
        if found or time.monotonic() > deadline:
            return found
        time.sleep(2)


def test_every_dashboard_query_returns_data(native):
    empty = []
    for path in sorted((ROOT / "grafana/dashboards").rglob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            key = f"{path.stem}/{panel['title']}"
            if key in NO_DATA_NATIVELY or panel.get("datasource", {}).get("type") != "prometheus":
                continue
            for target in panel.get("targets", []):
                if not poll_api(native, "query", {"query": substitute_variables(target["expr"])}):
                    empty.append(f"{key}: {target['expr']}")
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_latency_exemplars_carry_trace_ids(native):
    """The heatmap's exemplars reach Prometheus (exemplar storage on, OpenMetrics scrape) with the
    trace_id label the Prometheus datasource links to Jaeger."""
    now = time.time()
    found = poll_api(native, "query_exemplars", {"query": 'http_request_duration_seconds_bucket{job="demo-app"}',
                                                 "start": str(now - 600), "end": str(now + 60)})
    labels = [exemplar["labels"] for series in found for exemplar in series["exemplars"]]
    assert labels, "no exemplars stored for http_request_duration_seconds_bucket"
    assert all(re.fullmatch(r"[0-9a-f]{32}", item.get("trace_id", "")) for item in labels), labels[:3]
    datasources = yaml.safe_load((ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())
    prometheus = next(d for d in datasources["datasources"] if d["uid"] == "prometheus")
    assert {"name": "trace_id", "datasourceUid": "jaeger"} in prometheus["jsonData"]["exemplarTraceIdDestinations"]


def test_every_dashboard_variable_has_values(native):
    """Each query variable's label_values(SELECTOR, label) finds values, so its drop-down is not
    empty; dashboards whose every panel is listed in no_data_natively.yml are skipped."""
    empty = []
    for path in sorted((ROOT / "grafana/dashboards").rglob("*.json")):
        dashboard = json.loads(path.read_text())
        if all(f"{path.stem}/{panel['title']}" in NO_DATA_NATIVELY for panel in dashboard["panels"]):
            continue
        for var in dashboard["templating"]["list"]:
            if var["type"] != "query":
                continue
            selector, label = label_values_query(var["query"])
            if not poll_api(native, f"label/{label}/values", {"match[]": substitute_variables(selector)}):
                empty.append(f"{path.stem}: ${var['name']} = {var['query']}")
    assert not empty, "variables without values:\n" + "\n".join(empty)


# ------------------------------------------------------------------ profile tls: the real Caddy in front
@pytest.fixture(scope="module")
def tls_proxy(native, tool, tmp_path_factory) -> Iterator[dict]:
    """tls-proxy/Caddyfile on the real Caddy, its own local CA, in front of the native Prometheus and
    Alertmanager; the Jaeger UI's and OTLP's places are taken by the webhook sink (no Jaeger here)."""
    import bcrypt

    work = tmp_path_factory.mktemp("tls")
    users = work / "users"
    users.mkdir()
    password = "a-jaeger-ui-password"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=8)).decode()
    for name in ("jaeger", "otlp"):
        (users / name).write_text(f"{name} {hashed}\n")
    # An other host's OTLP login, as `obsstack hosts add` renders it (tls-proxy/generated/otlp-hosts).
    (users / "otlp-hosts").write_text(hosts.otlp_users({"edge-1": {"password_hash": hashed}}))
    ports = {name: free_port() for name in ("TLS_HTTP_PORT", "TLS_HTTPS_PORT", "PROMETHEUS_TLS_PORT", "ALERTMANAGER_TLS_PORT",
                                            "KIBANA_TLS_PORT", "JAEGER_TLS_PORT", "OTLP_HTTP_TLS_PORT", "OTLP_GRPC_TLS_PORT",
                                            "PROMETHEUS_B_TLS_PORT")}
    host = lambda name: native.url(name).split("://", 1)[1]
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "TLS_MODE": "internal", "TLS_HOSTNAME": "localhost",
           "TLS_USERS_DIR": str(users), "TLS_HOSTS_USERS": str(users / "otlp-hosts"), "PROMETHEUS_UPSTREAM": host("prometheus"), "ALERTMANAGER_UPSTREAM": host("alertmanager"),
           "JAEGER_UPSTREAM": host("webhook_sink"), "OTLP_HTTP_UPSTREAM": host("webhook_sink"),
           "GRAFANA_UPSTREAM": host("prometheus"), "KIBANA_UPSTREAM": host("alertmanager"),
           "OTLP_GRPC_UPSTREAM": "h2c://" + host("webhook_sink"),
           # The HA overlay's extra site (tls-proxy/ha.caddy), its second replica played by the native Prometheus.
           "TLS_EXTRA_SITES": str(ROOT / "tls-proxy/ha.caddy"), "PROMETHEUS_B_UPSTREAM": host("prometheus"),
           "HOME": str(work), "XDG_DATA_HOME": str(work / "data"), "XDG_CONFIG_HOME": str(work / "config")}
    log = (work / "caddy.log").open("w")
    proc = subprocess.Popen([str(tool("caddy")), "run", "--config", str(ROOT / "tls-proxy/Caddyfile"), "--adapter", "caddyfile"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    root_ca = work / "data/caddy/pki/authorities/local/root.crt"
    deadline = time.monotonic() + DEADLINE_S
    while True:
        assert proc.poll() is None, (work / "caddy.log").read_text()[-3000:]
        if root_ca.exists():
            try:
                requests.get(f"https://localhost:{ports['PROMETHEUS_TLS_PORT']}/-/ready", verify=str(root_ca), timeout=2)
                break
            except requests.exceptions.SSLError:
                pass
            except requests.ConnectionError:
                pass
        assert time.monotonic() < deadline, (work / "caddy.log").read_text()[-3000:]
        time.sleep(0.2)
    yield {"ports": ports, "ca": str(root_ca), "password": password, "log": work / "caddy.log", "env": env, "work": work,
           "proc": proc, "users": users}
    proc.terminate()
    proc.wait(timeout=10)


def https(proxy: dict, port: str, path: str = "/", **kwargs) -> requests.Response:
    return requests.get(f"https://localhost:{proxy['ports'][port]}{path}", verify=proxy["ca"], timeout=10,
                        allow_redirects=False, **kwargs)


def test_tls_serves_a_certificate_of_the_local_ca(tls_proxy):
    # requests verifies the chain against the local CA's root and the name `localhost`.
    assert https(tls_proxy, "PROMETHEUS_TLS_PORT", "/-/ready", auth=("prometheus", "wrong")).status_code == 401
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://localhost:{tls_proxy['ports']['PROMETHEUS_TLS_PORT']}/-/ready", timeout=10)
    # Caddy installs its root into the machine's trust store unless told not to (skip_install_trust).
    assert not list(Path("/usr/local/share/ca-certificates").glob("Caddy_Local_Authority*")), "the CA was installed"


def test_tls_keeps_prometheus_and_alertmanager_logins(tls_proxy, native):
    assert https(tls_proxy, "PROMETHEUS_TLS_PORT", "/-/ready").status_code == 401
    # The HA overlay's second replica (TLS_EXTRA_SITES), its login Prometheus' own.
    assert https(tls_proxy, "PROMETHEUS_B_TLS_PORT", "/-/ready").status_code == 401
    assert https(tls_proxy, "PROMETHEUS_B_TLS_PORT", "/-/ready", auth=native.auth("prometheus")).status_code == 200
    assert https(tls_proxy, "PROMETHEUS_TLS_PORT", "/-/ready", auth=native.auth("prometheus")).status_code == 200
    assert https(tls_proxy, "ALERTMANAGER_TLS_PORT", "/-/ready").status_code == 401
    assert https(tls_proxy, "ALERTMANAGER_TLS_PORT", "/-/ready", auth=native.auth("alertmanager")).status_code == 200


def test_tls_puts_a_login_in_front_of_the_jaeger_ui_and_otlp(tls_proxy):
    for port in ("JAEGER_TLS_PORT", "OTLP_HTTP_TLS_PORT"):
        assert https(tls_proxy, port, "/notifications").status_code == 401, port
        assert https(tls_proxy, port, "/notifications", auth=("jaeger" if port == "JAEGER_TLS_PORT" else "otlp", "nope")).status_code == 401
        user = "jaeger" if port == "JAEGER_TLS_PORT" else "otlp"
        assert https(tls_proxy, port, "/notifications", auth=(user, tls_proxy["password"])).status_code == 200, port


def test_tls_lets_an_added_host_send_traces_until_it_is_removed(tls_proxy):
    """A host's own OTLP login (obsstack hosts), revoked when the host is removed: Caddy re-reads the
    users file on SIGUSR1 (what `hosts add/remove` tell the user to send to tls-proxy)."""
    host_login = ("edge-1", tls_proxy["password"])
    assert https(tls_proxy, "OTLP_HTTP_TLS_PORT", "/notifications", auth=host_login).status_code == 200
    assert https(tls_proxy, "JAEGER_TLS_PORT", "/notifications", auth=host_login).status_code == 401, "a host may send, not browse"
    (tls_proxy["users"] / "otlp-hosts").write_text(hosts.otlp_users({}))
    tls_proxy["proc"].send_signal(signal.SIGUSR1)

    def refused() -> bool:
        try:
            return https(tls_proxy, "OTLP_HTTP_TLS_PORT", "/notifications", auth=host_login).status_code == 401
        except requests.ConnectionError:  # the reload closes kept-alive connections
            return False

    until(refused, "the removed host's OTLP login still works after SIGUSR1")
    assert https(tls_proxy, "OTLP_HTTP_TLS_PORT", "/notifications", auth=("otlp", tls_proxy["password"])).status_code == 200


def test_tls_serves_the_users_certificate_in_files_mode(tls_proxy, tool, native):
    """TLS_MODE=files: a certificate the user brings (here: one the local CA issued above) is served as is."""
    import ssl

    issued = next((tls_proxy["work"] / "data/caddy/certificates").rglob("localhost.crt"))
    port = free_port()
    env = {**tls_proxy["env"], "TLS_MODE": "files", "TLS_CERT_PATH": str(issued), "TLS_KEY_PATH": str(issued.with_suffix(".key")),
           "PROMETHEUS_TLS_PORT": str(port), "XDG_DATA_HOME": str(tls_proxy["work"] / "files-data"),
           **{name: str(free_port()) for name in ("TLS_HTTP_PORT", "TLS_HTTPS_PORT", "ALERTMANAGER_TLS_PORT", "KIBANA_TLS_PORT",
                                                  "JAEGER_TLS_PORT", "OTLP_HTTP_TLS_PORT", "OTLP_GRPC_TLS_PORT",
                                                  "PROMETHEUS_B_TLS_PORT")}}
    log = (tls_proxy["work"] / "files.log").open("w")
    proc = subprocess.Popen([str(tool("caddy")), "run", "--config", str(ROOT / "tls-proxy/Caddyfile"), "--adapter", "caddyfile"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert proc.poll() is None, (tls_proxy["work"] / "files.log").read_text()[-3000:]
            try:
                served = ssl.get_server_certificate(("localhost", port))
                break
            except OSError:
                assert time.monotonic() < deadline, (tls_proxy["work"] / "files.log").read_text()[-3000:]
                time.sleep(0.2)
        first_pem = issued.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----"
        assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(first_pem)
        assert not (tls_proxy["work"] / "files-data/caddy/certificates").exists(), "files mode issues no certificate"
        response = requests.get(f"https://localhost:{port}/-/ready", verify=tls_proxy["ca"], auth=native.auth("prometheus"), timeout=10)
        assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_tls_redirects_http_and_sends_security_headers(tls_proxy, native):
    ports = tls_proxy["ports"]
    plain = requests.get(f"http://localhost:{ports['TLS_HTTP_PORT']}/login?x=1", allow_redirects=False, timeout=10)
    assert plain.status_code == 308
    assert plain.headers["Location"] == f"https://localhost:{ports['TLS_HTTPS_PORT']}/login?x=1"
    response = https(tls_proxy, "PROMETHEUS_TLS_PORT", "/-/ready", auth=native.auth("prometheus"))
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Server" not in response.headers


def test_zz_down_stops_everything_and_leaves_no_process(native):
    pids = json.loads((native.state / "pids.json").read_text())
    proc = cli("down", state=native.state)
    assert proc.returncode == 0, proc.stderr
    assert "stopped" in proc.stdout
    leftovers = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmdline = stat.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(native.state) in cmdline:
            leftovers.append(cmdline[:120])
    assert not leftovers, leftovers
    for name, entry in pids.items():
        assert not Path(f"/proc/{entry['pid']}").exists() or \
            Path(f"/proc/{entry['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", name
    status = cli("status", state=native.state)
    assert status.returncode == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as nobody; other users run it as themselves")
def test_postgres_as_nobody_reads_a_toolchain_under_a_private_folder(tool, tmp_path):
    """`make test` as root in a checkout under /root (0700): nobody must still reach .tools/."""
    from obsstack.native.components.postgres import unprivileged
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    postgres = Path(tool("postgres"))
    (private / "bin").symlink_to(postgres.parent)
    argv = [str(private / "bin" / postgres.name), "--version"]
    plain = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv],
                           capture_output=True, text=True, check=False)
    assert plain.returncode != 0, "without the capability nobody cannot pass a 0700 folder (else this test proves nothing)"
    proc = subprocess.run(unprivileged(argv), capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "PostgreSQL" in proc.stdout, proc.stderr
