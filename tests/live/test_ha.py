"""The HA overlay's behaviour with the real binaries (docker-compose.ha.yml, src/obsstack/ha.py): two
Prometheus replicas running the rendered HA config (replica label from the environment, alerts to
three Alertmanagers in one gossip cluster, remote write to VictoriaMetrics with the replica label
dropped), VictoriaMetrics deduplicating them, and a webhook receiver.

- Both replicas fire the same alert: the receiver gets exactly one notification for its group.
- One Alertmanager killed: a new alert still arrives, once.
- VictoriaMetrics answers as Prometheus does for the same range, with one copy of the replicas' samples.
- VictoriaMetrics stopped: PrometheusRemoteWriteBehind (prometheus/rules/ha.yml) fires meanwhile, and
  once it is back the outage's samples arrive: none lost within the write-ahead log.
Time runs 60 times faster than in production: 1 s scrapes, the rules' windows and `for` scaled."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import stop_process
from netns import until
from obsstack import ha
from obsstack.native_config import render_rules
from obsstack.net import free_port
from obsstack.timescale import TimeScale
from obsstack.webhook_sink import Sink, make_handler

pytestmark = pytest.mark.toolchain
ROOT = Path(__file__).resolve().parents[2]
SCRAPE_S = 1
SCALE = TimeScale("ha", divisor=60, min_range_s=4)
# PrometheusRemoteWriteBehind's threshold is a duration in seconds written as a number: scaled alike.
BEHIND_PRODUCTION, BEHIND_SCALED = "> 120", "> 2"
VM_LOGIN = "vm-test-login"
PEER_TIMEOUT_S = 2


class Stack:
    def __init__(self, tmp: Path, tool) -> None:
        self.tmp, self.tool = tmp, tool
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports = {name: free_port() for name in ("node", "vm", "prometheus", "prometheus-b", "sink",
                                                     *ha.ALERTMANAGERS, *(f"{a}-gossip" for a in ha.ALERTMANAGERS))}
        self.toggle = tmp / "toggle"
        self.toggle.mkdir()
        (tmp / "vm-password").write_text(VM_LOGIN)

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.tmp / f"{name}.log").open("a")
        self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

    def stop(self, name: str) -> None:
        stop_process(self.procs.pop(name), grace_s=15)

    def start_victoriametrics(self) -> None:
        self.start("vm", [str(self.tool("victoria-metrics")), f"-storageDataPath={self.tmp / 'vm'}",
                          f"-httpListenAddr=127.0.0.1:{self.ports['vm']}", f"-dedup.minScrapeInterval={SCRAPE_S}s",
                          "-retentionPeriod=1d", "-httpAuth.username=prometheus",
                          f"-httpAuth.password=file://{self.tmp / 'vm-password'}"])

    def get(self, port: int, path: str, params: dict | None = None, login: bool = False) -> dict:
        url = f"http://127.0.0.1:{port}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url)
        if login:
            request.add_header("Authorization", "Basic " + base64.b64encode(f"prometheus:{VM_LOGIN}".encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def query(self, where: str, expr: str, at: float) -> list[dict]:
        return self.get(self.ports[where], "/api/v1/query", {"query": expr, "time": f"{at:.3f}"}, login=where == "vm")["data"]["result"]

    def firing(self, replica: str, alert: str) -> bool:
        alerts = self.get(self.ports[replica], "/api/v1/alerts")["data"]["alerts"]
        return any(a["labels"]["alertname"] == alert and a["state"] == "firing" for a in alerts)


def prometheus_config(stack: Stack) -> dict:
    """The rendered HA config, with this machine's addresses for its targets."""
    config = ha.render_prometheus(yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text()))
    config["global"].update(scrape_interval=f"{SCRAPE_S}s", scrape_timeout=f"{SCRAPE_S}s", evaluation_interval=f"{SCRAPE_S}s")
    config["rule_files"] = [str(stack.tmp / "rules" / "*.yml")]
    manager = config["alerting"]["alertmanagers"][0]
    manager.pop("basic_auth")
    manager["static_configs"] = [{"targets": [f"127.0.0.1:{stack.ports[name]}" for name in ha.ALERTMANAGERS]}]
    config["scrape_configs"] = [
        {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{stack.ports['node']}"]}]},
        {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{stack.ports[r]}" for r in ha.PROMETHEUS_REPLICAS]}]},
        {"job_name": "toggle", "file_sd_configs": [{"files": [str(stack.toggle / "*.yml")]}]},
        {"job_name": "alertmanager", "static_configs": [{"targets": [f"127.0.0.1:{stack.ports[a]}" for a in ha.ALERTMANAGERS]}]},
        {"job_name": "victoriametrics", "basic_auth": {"username": "prometheus", "password_file": str(stack.tmp / "vm-password")},
         "static_configs": [{"targets": [f"127.0.0.1:{stack.ports['vm']}"]}]},
    ]
    (write,) = config["remote_write"]
    write["url"] = f"http://127.0.0.1:{stack.ports['vm']}/api/v1/write"
    write["basic_auth"]["password_file"] = str(stack.tmp / "vm-password")
    write["queue_config"]["max_backoff"] = "1s"
    return config


def rules(stack: Stack) -> None:
    folder = stack.tmp / "rules"
    folder.mkdir()
    production = yaml.safe_load((ROOT / "prometheus/rules/ha.yml").read_text())
    scaled = render_rules(production, SCALE)
    behind = next(r for g in scaled["groups"] for r in g["rules"] if r.get("alert") == "PrometheusRemoteWriteBehind")
    assert BEHIND_PRODUCTION in behind["expr"], "the lag threshold changed: scale it here too"
    behind["expr"] = behind["expr"].replace(BEHIND_PRODUCTION, BEHIND_SCALED)
    (folder / "ha.yml").write_text(yaml.safe_dump(scaled))
    (folder / "test.yml").write_text(yaml.safe_dump({"groups": [{"name": "ha-test", "rules": [
        {"alert": "BothReplicasFireThis", "expr": "vector(1)", "labels": {"severity": "warning"}},
        {"alert": "ToggleDown", "expr": 'up{job="toggle"} == 0', "labels": {"severity": "warning"}}]}]}))


@pytest.fixture(scope="module")
def stack(tool, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ha")
    world = Stack(tmp, tool)
    sink = Sink(tmp / "notifications.jsonl")
    server = ThreadingHTTPServer(("127.0.0.1", world.ports["sink"]), make_handler(sink))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    world.sink = sink
    try:
        world.start("node", [str(tool("node_exporter")), f"--web.listen-address=127.0.0.1:{world.ports['node']}"])
        world.start_victoriametrics()
        (tmp / "alertmanager.yml").write_text(yaml.safe_dump({
            "route": {"receiver": "sink", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "2s",
                      "repeat_interval": "1h"},
            "receivers": [{"name": "sink", "webhook_configs": [{"url": f"http://127.0.0.1:{world.ports['sink']}/ha"}]}]}))
        peers = [f"--cluster.peer=127.0.0.1:{world.ports[f'{a}-gossip']}" for a in ha.ALERTMANAGERS]
        for name in ha.ALERTMANAGERS:
            world.start(name, [str(tool("alertmanager")), f"--config.file={tmp / 'alertmanager.yml'}",
                               f"--storage.path={tmp / name}", f"--web.listen-address=127.0.0.1:{world.ports[name]}",
                               f"--cluster.listen-address=127.0.0.1:{world.ports[f'{name}-gossip']}", *peers,
                               f"--cluster.peer-timeout={PEER_TIMEOUT_S}s", "--cluster.settle-timeout=2s"])
        rules(world)
        config = prometheus_config(world)
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        for replica, label in zip(ha.PROMETHEUS_REPLICAS, "ab"):
            world.start(replica, [str(tool("prometheus")), f"--config.file={tmp / 'prometheus.yml'}",
                                  f"--storage.tsdb.path={tmp / replica}", f"--web.listen-address=127.0.0.1:{world.ports[replica]}",
                                  "--rules.alert.resend-delay=1s"],
                        env={"PROMETHEUS_REPLICA": label, "STACK_CLUSTER": "test", "STACK_ENVIRONMENT": "test"})
        for name in ha.ALERTMANAGERS:
            until(quietly(lambda: len(world.get(world.ports[name], "/api/v2/status")["cluster"]["peers"]) == 3),
                  f"{name} never saw all three peers", 60)
        yield world
    finally:
        for name in list(world.procs):
            world.stop(name)
        server.shutdown()


def quietly(check):
    """check() for until(): a server still starting (connection refused) is a `not yet`."""
    def run():
        try:
            return check()
        except OSError:
            return None
    return run


def notifications(stack: Stack, alert: str) -> list[dict]:
    return [n for n in stack.sink.received if n["body"].get("groupLabels", {}).get("alertname") == alert]


def test_both_replicas_fire_and_the_receiver_gets_one_notification(stack):
    until(quietly(lambda: all(stack.firing(r, "BothReplicasFireThis") for r in ha.PROMETHEUS_REPLICAS)), "both replicas firing", 60)
    until(lambda: notifications(stack, "BothReplicasFireThis"), "no notification arrived", 60)
    # Every Alertmanager got the alert from both replicas; wait out every peer's turn, then some.
    first = notifications(stack, "BothReplicasFireThis")[0]
    until(lambda: time.time() > first["received_at"] + 3 * PEER_TIMEOUT_S + 4, "settle", 30)
    got = notifications(stack, "BothReplicasFireThis")
    assert len(got) == 1, f"{len(got)} notifications for one group: {[n['received_at'] for n in got]}"
    (alert,) = got[0]["body"]["alerts"]
    assert "replica" not in alert["labels"], "the replica label must be dropped for the cluster to deduplicate"
    received = [len(stack.get(stack.ports[a], "/api/v2/alerts", {"filter": 'alertname="BothReplicasFireThis"'}))
                for a in ha.ALERTMANAGERS]
    assert received == [1, 1, 1], "each Alertmanager holds the alert once"


HA_PANELS = ("Remote write lag", "Alertmanager cluster members", "VictoriaMetrics free disk")


def test_the_stack_health_panels_of_the_ha_parts_have_data(stack):
    """The panels the native stack cannot fill (tests/live/no_data_natively.yml) are filled here."""
    from obsstack.promql import substitute_variables

    board = json.loads((ROOT / "grafana/dashboards/Stack health/stack-health.json").read_text())
    panels = {p["title"]: p for p in board["panels"]}
    for title in HA_PANELS:
        for target in panels[title]["targets"]:
            expr = substitute_variables(target["expr"])
            until(quietly(lambda: stack.query("prometheus", expr, time.time())), f"{title}: no data for {expr}", 60)
    members = stack.query("prometheus", 'alertmanager_cluster_members', time.time())
    assert {float(m["value"][1]) for m in members} == {3.0}, members


def test_with_one_alertmanager_killed_a_new_alert_arrives_once(stack):
    stack.procs[ha.ALERTMANAGERS[0]].kill()          # the first peer: the one that notifies first
    stack.procs.pop(ha.ALERTMANAGERS[0]).wait(timeout=10)
    (stack.toggle / "dead.yml").write_text(yaml.safe_dump([{"targets": [f"127.0.0.1:{free_port()}"]}]))
    until(lambda: notifications(stack, "ToggleDown"), "no notification with one Alertmanager down", 90)
    first = notifications(stack, "ToggleDown")[0]
    until(lambda: time.time() > first["received_at"] + 3 * PEER_TIMEOUT_S + 4, "settle", 30)
    assert len(notifications(stack, "ToggleDown")) == 1


def count_over(stack: Stack, where: str, window_s: int, at: float) -> float:
    result = stack.query(where, f'count_over_time(up{{job="node"}}[{window_s}s])', at)
    assert len(result) == 1, f"{where}: {result}"
    return float(result[0]["value"][1])


def test_victoriametrics_answers_as_prometheus_with_one_copy_of_both_replicas(stack):
    until(quietly(lambda: stack.query("vm", 'up{job="node"}', time.time())), "no sample reached VictoriaMetrics", 60)
    (series,) = stack.query("vm", 'up{job="node"}', time.time())
    assert "replica" not in series["metric"] and series["metric"]["cluster"] == "test"
    # 8 s back: past remote write's 5 s batch deadline, so both stores have had every sample of the window.
    window = 10
    until(lambda: count_over(stack, "vm", window, time.time() - 8) >= window - 2, "VictoriaMetrics has too few samples", 60)
    at = time.time() - 8
    in_prometheus, in_vm = count_over(stack, "prometheus", window, at), count_over(stack, "vm", window, at)
    # One sample per scrape interval, whichever replica's: not the two replicas' samples together.
    assert abs(in_vm - in_prometheus) <= 2, f"VictoriaMetrics {in_vm} samples, Prometheus {in_prometheus}, in {window} s"
    same = 'sum(node_memory_MemTotal_bytes{job="node"})'
    assert stack.query("vm", same, at)[0]["value"][1] == stack.query("prometheus", same, at)[0]["value"][1]


def test_victoriametrics_down_fires_the_remote_write_alert_and_loses_nothing(stack):
    stack.stop("vm")
    down_at = time.time()
    until(lambda: stack.firing("prometheus", "PrometheusRemoteWriteBehind"), "PrometheusRemoteWriteBehind never fired", 60)
    fired_after = time.time() - down_at
    outage_s = max(25.0, fired_after + 2)
    until(lambda: time.time() > down_at + outage_s, "wait out the outage", outage_s + 5)
    stack.start_victoriametrics()
    up_at = time.time()
    until(quietly(lambda: not stack.firing("prometheus", "PrometheusRemoteWriteBehind")), "the alert did not resolve", 90)
    # The outage's samples arrived from the replicas' WAL: VictoriaMetrics has as many as Prometheus.
    window = int(up_at - down_at) + 4
    at = up_at + 1
    until(quietly(lambda: count_over(stack, "vm", window, at) >= count_over(stack, "prometheus", window, at) - 2),
          "samples of the outage missing from VictoriaMetrics", 60)
    assert fired_after >= 2, f"fired {fired_after:.1f} s after the stop: before its lag threshold"
