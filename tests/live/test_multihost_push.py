"""Metrics from other hosts, pushed (src/obsstack/agent.py), across real network namespaces
(tests/netns.py): a central Prometheus with the remote-write receiver, and on each host node_exporter
scraped by Prometheus in agent mode, all the real binaries. Both hosts' series arrive with their
`host` label; an outage of one host's link is late data, not a gap; a wrong credential and a revoked
one are refused: the agent counts the samples it drops, and the host's series stop at the centre."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import pytest
import yaml

from netns import Network, require_namespaces, until
from obsstack.agent import agent_config, central_web_users
from obsstack.net import free_port

pytestmark = pytest.mark.toolchain
SCRAPE_S = 1
DEADLINE_S = 60

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
    def __init__(self, net: Network, url: str, password: str, web: Path, users: dict[str, str]) -> None:
        self.net, self.url, self.password, self.web, self.users = net, url, password, web, users

    def get(self, path: str, params: dict | None = None) -> str:
        proc = self.net.run("central", [sys.executable, "-c", QUERY, self.url, "prometheus", self.password, path,
                                        json.dumps(params or {})], timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr, **({"time": str(at)} if at else {})}
        return json.loads(self.get("/api/v1/query", params))["data"]["result"]

    def set_hosts(self, hosts: dict[str, str]) -> None:
        """What `hosts add/remove` will do: the web config with these hosts' users (re-read per request)."""
        self.web.write_text(yaml.safe_dump(central_web_users(hosts, {"prometheus": self.users["prometheus"]})))


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=6)).decode()


@pytest.fixture
def world(tool, tmp_path):
    require_namespaces()
    prometheus, node_exporter = str(tool("prometheus")), str(tool("node_exporter"))
    processes: list[subprocess.Popen] = []
    with Network(hosts=2) as net:
        central_port = free_port()
        passwords = {"prometheus": "centre-password", "host1": "host1-password", "host2": "host2-password"}
        users = {name: hashed(password) for name, password in passwords.items()}
        central = tmp_path / "central"
        central.mkdir()
        (central / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": f"{SCRAPE_S}s"}}))
        centre = Centre(net, f"http://127.0.0.1:{central_port}", passwords["prometheus"], central / "web.yml", users)
        centre.set_hosts({"host1": users["host1"], "host2": users["host2"]})
        log = (tmp_path / "central.log").open("w")
        processes.append(net.popen("central", [prometheus, f"--config.file={central / 'prometheus.yml'}",
                                               f"--storage.tsdb.path={central / 'data'}", "--web.enable-remote-write-receiver",
                                               f"--web.config.file={central / 'web.yml'}", f"--web.listen-address=0.0.0.0:{central_port}"],
                                   stdout=log, stderr=subprocess.STDOUT))

        def start_agent(host: str, password: str) -> int:
            home = tmp_path / host
            home.mkdir(exist_ok=True)
            node_port, agent_port = free_port(), free_port()
            (home / "password").write_text(password)
            config = agent_config(host, f"http://{net.central_address_for(host)}:{central_port}", str(home / "password"),
                                  {"node": [f"127.0.0.1:{node_port}"]}, scrape_interval=f"{SCRAPE_S}s")
            config["remote_write"][0]["queue_config"]["max_backoff"] = "1s"  # the test's time scale
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
        yield net, centre, start_agent, passwords, tmp_path
        for proc in reversed(processes):  # the agents first: they flush to the centre on the way out
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def samples_dropped(net: Network, host: str, agent_port: int) -> float:
    """The agent's count of samples the centre refused (a 401 is not retried)."""
    proc = net.run(host, [sys.executable, "-c", "import urllib.request as u; print(u.urlopen('http://127.0.0.1:%d/metrics',"
                                                  " timeout=5).read().decode())" % agent_port], timeout=30)
    return sum(float(line.rsplit(" ", 1)[1]) for line in proc.stdout.splitlines()
               if line.startswith("prometheus_remote_storage_samples_failed_total{") and 'remote_name="central"' in line)


def hosts_seen(centre: Centre) -> set[str]:
    return {r["metric"]["host"] for r in centre.query('up{job="node"} == 1')}


def test_both_hosts_push_with_their_host_label_and_an_outage_leaves_no_gap(world):
    net, centre, start_agent, passwords, _ = world
    start_agent("host1", passwords["host1"])
    start_agent("host2", passwords["host2"])
    until(lambda: hosts_seen(centre) == {"host1", "host2"}, "both hosts' node series at the centre")
    assert centre.query('count(node_cpu_seconds_total{host="host2"})'), "node_exporter's series, not just `up`"

    net.cut("host1")
    cut_at = time.time()
    outage_s = 8
    until(lambda: time.time() - cut_at >= outage_s, "wait out the outage", outage_s + 5)
    # During the cut nothing new from host1 reached the centre; host2 kept arriving.
    latest = lambda host: max([float(v[0]) for r in centre.query(f'up{{host="{host}",job="node"}}[60s]') for v in r["values"]],
                              default=0.0)
    assert latest("host1") < cut_at + 2, "host1's samples crossed a cut link"
    assert latest("host2") > cut_at + outage_s - 3
    net.restore("host1")
    restored_at = time.time()
    until(lambda: latest("host1") > restored_at, "host1's agent resumed after the link came back")

    # The agent's write-ahead log carried the outage: host1 has a sample every scrape through it.
    window = int(time.time() - cut_at) + 2
    stamps = sorted(float(v[0]) for r in centre.query(f'up{{host="host1",job="node"}}[{window}s]') for v in r["values"])
    inside = [t for t in stamps if cut_at <= t <= cut_at + outage_s]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert len(inside) >= (outage_s / SCRAPE_S) * 0.8, f"{len(inside)} samples inside the {outage_s} s outage"
    assert max(gaps) <= 3 * SCRAPE_S, f"a gap of {max(gaps):.1f} s in host1's series"


def test_a_wrong_or_revoked_credential_is_refused_and_counted(world):
    net, centre, start_agent, passwords, _ = world
    wrong = start_agent("host2", "not-host2s-password")
    until(lambda: samples_dropped(net, "host2", wrong) > 0, "the agent with a wrong password counted no refused sample")
    assert "host2" not in hosts_seen(centre)

    agent = start_agent("host1", passwords["host1"])
    until(lambda: "host1" in hosts_seen(centre), "host1 at the centre")
    assert samples_dropped(net, "host1", agent) == 0
    centre.set_hosts({"host2": centre.users["host2"]})          # host1 removed: its credential revoked
    revoked_at = time.time()
    until(lambda: samples_dropped(net, "host1", agent) > 0, "the revoked host's writes were not refused")
    stamps = [float(v[0]) for r in centre.query('up{host="host1",job="node"}[20s]') for v in r["values"]]
    assert max(stamps) < revoked_at + 2 * SCRAPE_S, "samples from a revoked host were accepted"
