"""Metrics from other hosts, pushed (src/obsstack/agent.py), across real network namespaces
(tests/netns.py): a central Prometheus with the remote-write receiver, and on each host node_exporter
scraped by Prometheus in agent mode, all the real binaries. The hosts are added by `obsstack hosts
add` (src/obsstack/hosts.py): the centre runs with the web config and expected-hosts rule it renders,
each agent with its bundle's prometheus.yml and password; the centre evaluates the real
prometheus/rules/hosts.yml, its windows scaled to the test's 1 s scrapes. Both hosts' series arrive
with their `host` label; cutting one host's link fires its HostMetricsAbsent within the rule's
window and `for`, and the outage is late data, not a gap; a wrong credential and a removed host are
refused: the agent counts the samples it drops, and the host's series stop at the centre."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import stop_process
from netns import Network, require_namespaces, until
from obsstack import envfile, hosts
from obsstack.agent import AGENT_JOB
from obsstack.native_config import render_rules
from obsstack.promql import label_values_query, substitute_variables
from obsstack.net import free_port
from obsstack.timescale import TimeScale

pytestmark = pytest.mark.toolchain
SCRAPE_S = 1
DEADLINE_S = 60
# prometheus/rules/hosts.yml at 30 times real speed: HostMetricsAbsent's 2m window -> 4 s, `for` 1m -> 2 s.
SCALE = TimeScale("netns", divisor=30, min_range_s=4)
ROOT = Path(__file__).resolve().parents[2]

QUERY = """
import base64, json, sys, urllib.parse, urllib.request
url, user, password, path, params = sys.argv[1:6]
request = urllib.request.Request(url + path + "?" + urllib.parse.urlencode(json.loads(params)))
request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
try:
    print(urllib.request.urlopen(request, timeout=5).read().decode())
except OSError as error:
    print(json.dumps({"error": str(error)})); sys.exit(1)
"""


class Centre:
    def __init__(self, net: Network, url: str, password: str, project: Path, env: dict[str, str]) -> None:
        self.net, self.url, self.password, self.project, self.env = net, url, password, project, env

    def get(self, path: str, params: dict | None = None) -> str:
        proc = self.net.run("central", [sys.executable, "-c", QUERY, self.url, "prometheus", self.password, path,
                                        json.dumps(params or {})], timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr, **({"time": str(at)} if at else {})}
        return json.loads(self.get("/api/v1/query", params))["data"]["result"]

    def firing(self, alert: str) -> set[str]:
        alerts = json.loads(self.get("/api/v1/alerts"))["data"]["alerts"]
        return {a["labels"].get("host", "") for a in alerts if a["labels"]["alertname"] == alert and a["state"] == "firing"}


@pytest.fixture
def world(tool, tmp_path, project_copy):
    require_namespaces()
    prometheus, node_exporter = str(tool("prometheus")), str(tool("node_exporter"))
    processes: list[subprocess.Popen] = []
    env_path = project_copy / ".env"
    envfile.ensure_env(project_copy / ".env.example", env_path)
    env = envfile.read_env(env_path)
    with Network(hosts=2) as net:
        central_port = free_port()
        central = tmp_path / "central"
        (central / "rules").mkdir(parents=True)
        hosts.render_central(project_copy, env)
        rules = render_rules(yaml.safe_load((ROOT / "prometheus/rules/hosts.yml").read_text()), SCALE)
        (central / "rules" / "hosts.yml").write_text(yaml.safe_dump(rules))
        (central / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": f"{SCRAPE_S}s", "evaluation_interval": f"{SCRAPE_S}s"},
            "rule_files": [str(central / "rules" / "hosts.yml"), str(project_copy / "prometheus/generated/rules/*.yml")]}))
        centre = Centre(net, f"http://127.0.0.1:{central_port}", env["PROMETHEUS_WEB_PASSWORD"], project_copy, env)
        log = (tmp_path / "central.log").open("w")
        # The web config and the expected hosts are the files `obsstack hosts` writes for the centre.
        processes.append(net.popen("central", [prometheus, f"--config.file={central / 'prometheus.yml'}",
                                               f"--storage.tsdb.path={central / 'data'}", "--web.enable-remote-write-receiver",
                                               f"--web.config.file={project_copy / hosts.CENTRAL_WEB}",
                                               f"--web.listen-address=0.0.0.0:{central_port}"],
                                   stdout=log, stderr=subprocess.STDOUT))

        def add_host(host: str) -> str:
            """`obsstack hosts add` for HOST; returns its bundle's password."""
            hosts.add(project_copy, env, host, net.address(host), [f"http://{net.central_address_for(host)}:{central_port}"])
            reload_rules()
            bundle = project_copy / "hosts" / host
            return next(line.split("=", 1)[1] for line in (bundle / ".env").read_text().splitlines()
                        if line.startswith(hosts.AGENT_LOGIN_SETTING + "="))

        def reload_rules() -> None:
            """The expected hosts changed: what Prometheus does on SIGHUP (compose: POST /-/reload)."""
            processes[0].send_signal(1)

        def start_agent(host: str, password: str) -> int:
            """HOST's bundle run natively: its own prometheus.yml, with the exporter's and the agent's
            addresses of this namespace instead of the compose service names."""
            home = tmp_path / host
            home.mkdir(exist_ok=True)
            node_port, agent_port = free_port(), free_port()
            (home / "password").write_text(password)
            bundle = project_copy / "hosts" / host
            config = yaml.safe_load((bundle / "prometheus.yml").read_text()) if bundle.exists() else None
            if config is None:  # a host the centre does not know: the bundle another host would get
                config = yaml.safe_load((project_copy / "hosts" / "host1" / "prometheus.yml").read_text())
                config["global"]["external_labels"]["host"] = host
                for write in config["remote_write"]:
                    write["basic_auth"]["username"] = host
                    write["url"] = f"http://{net.central_address_for(host)}:{central_port}/api/v1/write"
            addresses = {"node": f"127.0.0.1:{node_port}", AGENT_JOB: f"127.0.0.1:{agent_port}"}
            config["scrape_configs"] = [{**job, "static_configs": [{"targets": [addresses[job["job_name"]]]}]}
                                        for job in config["scrape_configs"] if job["job_name"] in addresses]
            config["global"]["scrape_interval"] = f"{SCRAPE_S}s"
            for write in config["remote_write"]:
                write["basic_auth"]["password_file"] = str(home / "password")
                write["queue_config"]["max_backoff"] = "1s"  # the test's time scale
            (home / "agent.yml").write_text(yaml.safe_dump(config))
            out = (tmp_path / f"{host}.log").open("w")
            processes.append(net.popen(host, [node_exporter, f"--web.listen-address=127.0.0.1:{node_port}"], stdout=out,
                                       stderr=subprocess.STDOUT))
            processes.append(net.popen(host, [prometheus, "--agent", f"--config.file={home / 'agent.yml'}",
                                              f"--storage.agent.path={home / 'wal'}", f"--web.listen-address=127.0.0.1:{agent_port}"],
                                       stdout=out, stderr=subprocess.STDOUT))
            return agent_port

        until(lambda: centre.net.run("central", [sys.executable, "-c", QUERY, centre.url, "prometheus", centre.password,
                                                 "/-/ready", "{}"]).returncode == 0, "the central Prometheus never got ready")
        yield net, centre, add_host, start_agent, tmp_path
        for proc in reversed(processes):  # the agents first: they flush to the centre on the way out
            stop_process(proc)


def samples_dropped(net: Network, host: str, agent_port: int) -> float:
    """The agent's count of samples the centre refused (a 401 is not retried)."""
    proc = net.run(host, [sys.executable, "-c", "import urllib.request as u; print(u.urlopen('http://127.0.0.1:%d/metrics',"
                                                  " timeout=5).read().decode())" % agent_port], timeout=30)
    return sum(float(line.rsplit(" ", 1)[1]) for line in proc.stdout.splitlines()
               if line.startswith("prometheus_remote_storage_samples_failed_total{") and 'remote_name="central"' in line)


def hosts_seen(centre: Centre) -> set[str]:
    return {r["metric"]["host"] for r in centre.query('up{job="node"} == 1')}


def test_both_hosts_push_with_their_host_label_and_an_outage_fires_the_absence_alert_and_leaves_no_gap(world):
    net, centre, add_host, start_agent, _ = world
    start_agent("host1", add_host("host1"))
    start_agent("host2", add_host("host2"))
    until(lambda: hosts_seen(centre) == {"host1", "host2"}, "both hosts' node series at the centre")
    assert centre.query('count(node_cpu_seconds_total{host="host2", instance="host2"})'), "node_exporter's series, not just `up`"
    # `obsstack hosts list` (in the centre's namespace, where the centre listens) says both arrive.
    proc = net.run("central", [sys.executable, "-m", "obsstack", "hosts", "--project-dir", str(centre.project), "--env-file",
                               str(centre.project / ".env"), "list", "--prometheus-url", centre.url, "--json"], timeout=60)
    listed = {row["host"]: row for row in json.loads(proc.stdout)["hosts"]}
    assert proc.returncode == 0 and {listed[h]["state"] for h in ("host1", "host2")} == {"arriving"}, proc.stdout + proc.stderr
    # The Host dashboard's picker offers both, and its panels filter on the one picked.
    node = json.loads((ROOT / "grafana/dashboards/Infrastructure/node.json").read_text())
    picker = next(v for v in node["templating"]["list"] if v["name"] == "host")
    selector, label = label_values_query(picker["query"])
    offered = json.loads(centre.get(f"/api/v1/label/{label}/values", {"match[]": substitute_variables(selector)}))["data"]
    assert {"host1", "host2"} <= set(offered), offered
    panel = next(p for p in node["panels"] if p["title"] == "File descriptors")
    picked = substitute_variables(panel["targets"][0]["expr"].replace("$host", "host2"))
    assert {r["metric"]["host"] for r in centre.query(picked)} == {"host2"}, picked
    until(lambda: not centre.firing("HostMetricsAbsent"), "HostMetricsAbsent still firing while both hosts send")

    net.cut("host1")
    cut_at = time.time()
    outage_s = 12
    # The rule's window (4 s here) and `for` (2 s) run out, then it fires for host1 alone.
    until(lambda: centre.firing("HostMetricsAbsent") == {"host1"}, "HostMetricsAbsent did not fire for the cut host", outage_s)
    fired_after = time.time() - cut_at
    assert fired_after >= 4, f"HostMetricsAbsent fired {fired_after:.1f} s after the cut, before its window and `for`"
    until(lambda: time.time() - cut_at >= outage_s, "wait out the outage", outage_s + 5)
    # During the cut nothing new from host1 reached the centre; host2 kept arriving.
    latest = lambda host: max([float(v[0]) for r in centre.query(f'up{{host="{host}",job="node"}}[60s]') for v in r["values"]],
                              default=0.0)
    assert latest("host1") < cut_at + 2, "host1's samples crossed a cut link"
    # host2 kept arriving: its agent sends a batch at least every 5 s (remote write's batch_send_deadline).
    until(lambda: latest("host2") > cut_at + outage_s - 3, "host2's samples stopped while host1 was cut", 15)
    net.restore("host1")
    restored_at = time.time()
    until(lambda: latest("host1") > restored_at, "host1's agent resumed after the link came back")
    until(lambda: not centre.firing("HostMetricsAbsent"), "HostMetricsAbsent did not resolve after the link came back")

    # The agent's write-ahead log carried the outage: host1 has a sample every scrape through it.
    window = int(time.time() - cut_at) + 2
    stamps = sorted(float(v[0]) for r in centre.query(f'up{{host="host1",job="node"}}[{window}s]') for v in r["values"])
    inside = [t for t in stamps if cut_at <= t <= cut_at + outage_s]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert len(inside) >= (outage_s / SCRAPE_S) * 0.8, f"{len(inside)} samples inside the {outage_s} s outage"
    assert max(gaps) <= 3 * SCRAPE_S, f"a gap of {max(gaps):.1f} s in host1's series"


def test_a_wrong_or_revoked_credential_is_refused_and_counted(world):
    net, centre, add_host, start_agent, _ = world
    password = add_host("host1")
    wrong = start_agent("host2", "not-a-password-of-the-centre")   # host2 was never added
    until(lambda: samples_dropped(net, "host2", wrong) > 0, "the agent with a wrong login counted no refused sample")
    assert "host2" not in hosts_seen(centre)

    agent = start_agent("host1", password)
    until(lambda: "host1" in hosts_seen(centre), "host1 at the centre")
    assert samples_dropped(net, "host1", agent) == 0
    hosts.remove(centre.project, centre.env, "host1")          # `obsstack hosts remove host1`
    revoked_at = time.time()
    until(lambda: samples_dropped(net, "host1", agent) > 0, "the removed host's writes were not refused")
    stamps = [float(v[0]) for r in centre.query('up{host="host1",job="node"}[20s]') for v in r["values"]]
    assert max(stamps) < revoked_at + 2 * SCRAPE_S, "samples from a removed host were accepted"
