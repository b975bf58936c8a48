"""Faults the native stack must survive without losing anything (`obsstack native up --fast`).

Prometheus killed with SIGKILL replays its WAL; Alertmanager restarted keeps its silences and its
notification log; an alert raised while Alertmanager is down, or while its receiver answers 500,
is delivered once they are back; the Python servers (GPU exporter, demo app, webhook sink) shrug
off bad and slow requests. One native stack for the module; every wait is a poll with a deadline.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from obsstack.durations import parse_duration
from obsstack.native.process import process_start_time

pytestmark = pytest.mark.toolchain
CLI = [sys.executable, "-m", "obsstack", "native"]
TOOLS = ("prometheus", "alertmanager", "node_exporter", "postgres", "initdb", "postgres_exporter", "redis-server",
         "redis_exporter", "blackbox_exporter")
DEADLINE_S = 60
T = TypeVar("T")


@dataclass
class Stack:
    state: Path
    endpoints: dict[str, Any]

    def url(self, name: str) -> str:
        return self.endpoints["components"][name]["url"]

    def auth(self, name: str) -> tuple[str, str]:
        user, password = self.endpoints["components"][name]["auth"]
        return user, password

    def pid_entry(self, name: str) -> dict[str, Any]:
        return json.loads((self.state / "pids.json").read_text())[name]

    def running(self, name: str) -> bool:
        entry = self.pid_entry(name)
        return entry.get("start") is not None and process_start_time(entry["pid"]) == entry["start"]


def cli(*args: str, state: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args, "--state-dir", str(state)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def native(stack: Stack, action: str, name: str) -> float:
    """`native stop|start NAME`; returns when it was done (time.time())."""
    proc = cli(action, name, state=stack.state)
    assert proc.returncode == 0, f"native {action} {name}: {proc.stdout}{proc.stderr}"
    return time.time()


@pytest.fixture(scope="module")
def stack(tool: Callable[[str], Path]) -> Iterator[Stack]:
    for name in TOOLS:
        tool(name)
    # Under /tmp, world-searchable: PostgreSQL runs as `nobody` when the tests run as root.
    state = Path(tempfile.mkdtemp(prefix="obs-faults-"))
    state.chmod(0o755)
    up = cli("up", "--fast", state=state, timeout=240)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted((state / "logs").glob("*.log")))
    assert up.returncode == 0, f"{up.stderr}\n{logs}"
    yield Stack(state, json.loads(up.stdout))
    cli("down", state=state)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(autouse=True)
def timed(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Iterator[None]:
    """Each fault test's wall time: printed, and in the JUnit XML as the `duration_s` property."""
    started = time.monotonic()
    yield
    seconds = round(time.monotonic() - started, 1)
    record_property("duration_s", seconds)
    print(f"\n{request.node.name}: {seconds}s")


def poll(what: str, probe: Callable[[], T | None], seconds: float = DEADLINE_S, every: float = 0.5) -> T:
    """probe()'s first truthy answer; fails naming `what` (and the last answer) at the deadline."""
    deadline = time.monotonic() + seconds
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (requests.RequestException, OSError, ValueError, LookupError) as error:  # a server coming back
            last = None
            error_text = repr(error)
        else:
            error_text = ""
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what}: not within {seconds:.0f}s (last answer: {last!r} {error_text})")


# --- Prometheus, Alertmanager and the webhook sink, as the tests read them -----------------------

def query(stack: Stack, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
    response = requests.get(f"{stack.url('prometheus')}/api/v1/query", params=params, auth=stack.auth("prometheus"),
                            timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]


def counter(stack: Stack, name: str, metric: str, **labels: str) -> float:
    """Sum of `metric`'s samples with these labels, read from the server's own /metrics now."""
    text = requests.get(f"{stack.url(name)}/metrics", auth=stack.auth(name), timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == metric and labels.items() <= sample.labels.items())


def am(stack: Stack, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{stack.url('alertmanager')}/api/v2/{path}", auth=stack.auth("alertmanager"),
                            timeout=10, **kwargs)


def post_alerts(stack: Stack, *labels: dict[str, str], resolved: bool = False) -> None:
    """What Prometheus does each evaluation: (re)send the firing alerts."""
    ends = {"endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())} if resolved else {}
    response = am(stack, "POST", "alerts", json=[{"labels": alert, **ends} for alert in labels])
    assert response.status_code == 200, response.text


def am_alert_states(stack: Stack, alertname: str) -> list[dict[str, Any]]:
    return [a["status"] for a in am(stack, "GET", "alerts", params={"filter": f'alertname="{alertname}"'}).json()]


def delivered(stack: Stack, alertname: str, since: float, status: str = "firing") -> list[float]:
    """Arrival times at the webhook sink of notifications carrying `alertname` with `status`, after `since`."""
    entries = requests.get(f"{stack.url('webhook_sink')}/notifications", timeout=10).json()
    return [entry["received_at"] for entry in entries if entry["received_at"] >= since
            and isinstance(entry.get("body"), dict)
            and any(isinstance(alert, dict) and alert.get("labels", {}).get("alertname") == alertname
                    and alert.get("status") == status for alert in entry["body"].get("alerts", []))]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# --- 1. Prometheus killed mid-scrape ----------------------------------------------------------------

def test_prometheus_sigkill_keeps_scraped_samples_and_scrapes_again(stack: Stack) -> None:
    selector = '{__name__=~"up|scrape_duration_seconds", job="node"}'

    def samples(at: float) -> dict[str, list[list[Any]]]:
        return {json.dumps(s["metric"], sort_keys=True): s["values"] for s in query(stack, f"{selector}[30s]", at)}

    # It scrapes: a fresh sample, and at least three of each series in the 30 s up to a scrape interval
    # ago (by then every sample up to `at` is committed).
    poll("a fresh node scrape", lambda: float(query(stack, 'time() - timestamp(up{job="node"})')[0]["value"][1]) < 7)
    def enough() -> tuple[float, dict[str, list[list[Any]]]] | None:
        at = time.time() - 6
        found = samples(at)
        return (at, found) if len(found) == 2 and all(len(values) >= 3 for values in found.values()) else None

    at, before = poll("three node scrapes before the crash", enough)

    entry = stack.pid_entry("prometheus")
    assert stack.running("prometheus")
    os.kill(entry["pid"], signal.SIGKILL)
    poll("prometheus gone after SIGKILL", lambda: process_start_time(entry["pid"]) != entry["start"], 10)
    with pytest.raises(requests.ConnectionError):
        query(stack, "up")
    assert json.loads(cli("status", state=stack.state).stdout)["prometheus"] == "stopped"

    restarted = native(stack, "start", "prometheus")
    after = samples(at)
    assert after == before, "samples scraped before the SIGKILL differ after WAL replay"
    newest = poll("a scrape after the restart",
                  lambda: [float(s["value"][1]) for s in query(stack, 'timestamp(up{job="node"})')
                           if float(s["value"][1]) > restarted])
    print(f"\nWAL replay kept {sum(map(len, before.values()))} samples; first new scrape "
          f"{newest[0] - restarted:.1f}s after the restart")


# --- 2. Alertmanager restarted ------------------------------------------------------------------------

def warning_route(stack: Stack) -> dict[str, float]:
    """The rendered (scaled) timings of the route a severity=warning alert takes, in seconds."""
    config = yaml.safe_load((stack.state / "alertmanager/alertmanager.yml").read_text())
    [route] = [r for r in config["route"]["routes"] if r.get("matchers") == ["severity = warning"]]
    return {key: parse_duration(route[key]) for key in ("group_wait", "group_interval", "repeat_interval")}


def test_alertmanager_restart_keeps_silences_and_notification_log(stack: Stack) -> None:
    timing = warning_route(stack)
    window = max(10.0, 5 * timing["group_interval"] + timing["group_wait"])
    assert timing["group_interval"] < window < timing["repeat_interval"], timing
    base = {"severity": "warning", "job": "faults", "instance": "restart"}
    notified = {**base, "alertname": unique("FaultNotified")}
    silenced = {**base, "alertname": unique("FaultSilenced")}
    control = {**base, "alertname": unique("FaultControl")}
    comment = f"fault test {silenced['alertname']}"
    matchers = [{"name": "alertname", "value": silenced["alertname"], "isRegex": False, "isEqual": True}]
    now = time.time()
    response = am(stack, "POST", "silences", json={
        "matchers": matchers, "createdBy": "test_faults", "comment": comment,
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))})
    assert response.status_code == 200, response.text
    silence_id = response.json()["silenceID"]

    since = time.time()
    post_alerts(stack, notified, silenced)
    poll("the first notification", lambda: delivered(stack, notified["alertname"], since))
    # Several group intervals later it has still been notified once (so the count after the restart means something).
    settle = time.monotonic() + 3 * timing["group_interval"] + 1
    while time.monotonic() < settle:
        post_alerts(stack, notified, silenced)
        time.sleep(0.5)
    assert len(delivered(stack, notified["alertname"], since)) == 1
    assert am_alert_states(stack, silenced["alertname"])[0]["silencedBy"] == [silence_id]

    native(stack, "stop", "alertmanager")
    restarted = native(stack, "start", "alertmanager")
    kept = am(stack, "GET", f"silence/{silence_id}")
    assert kept.status_code == 200, f"silence {silence_id} lost in the restart: {kept.text}"
    assert kept.json()["status"]["state"] == "active" and kept.json()["comment"] == comment
    assert [{k: m[k] for k in ("name", "value", "isRegex", "isEqual")} for m in kept.json()["matchers"]] == matchers

    # Prometheus resends firing alerts; so does the test, for longer than a group interval.
    end = time.monotonic() + window
    while time.monotonic() < end or not delivered(stack, control["alertname"], restarted):
        assert time.monotonic() < end + DEADLINE_S, "the control alert, new after the restart, was never notified"
        post_alerts(stack, notified, silenced, control)
        time.sleep(1)
    assert [s["state"] for s in am_alert_states(stack, notified["alertname"])] == ["active"]
    assert [s["silencedBy"] for s in am_alert_states(stack, silenced["alertname"])] == [[silence_id]]
    again = delivered(stack, notified["alertname"], restarted)
    assert not again, f"notified again {len(again)}x within {window:.0f}s of the restart (repeat_interval " \
                      f"{timing['repeat_interval']:.0f}s): the notification log was lost"
    assert not delivered(stack, silenced["alertname"], since), "a silenced alert was delivered"
    post_alerts(stack, notified, silenced, control, resolved=True)
    print(f"\nno repeat in a {window:.0f}s window after the restart; silence {silence_id} kept")


# --- 3. Alertmanager down while an alert fires -----------------------------------------------------------

def test_alert_raised_while_alertmanager_is_down_is_delivered_when_it_returns(stack: Stack) -> None:
    errors_before = counter(stack, "prometheus", "prometheus_notifications_errors_total")
    stopped = native(stack, "stop", "alertmanager")
    try:
        native(stack, "stop", "redis")
        try:
            poll("RedisDown firing in Prometheus",
                 lambda: query(stack, 'ALERTS{alertname="RedisDown", alertstate="firing", job="redis"}'))
            poll("Prometheus failing to send to Alertmanager",
                 lambda: counter(stack, "prometheus", "prometheus_notifications_errors_total") > errors_before)
            assert not delivered(stack, "RedisDown", stopped), "RedisDown arrived while Alertmanager was down"
        finally:
            returned = native(stack, "start", "alertmanager")
        arrived = poll("RedisDown delivered after Alertmanager returned", lambda: delivered(stack, "RedisDown", returned))
    finally:
        recovered = native(stack, "start", "redis") if not stack.running("redis") else time.time()
    poll("RedisDown resolved", lambda: delivered(stack, "RedisDown", recovered, "resolved"))
    print(f"\nRedisDown delivered {arrived[0] - returned:.1f}s after Alertmanager returned "
          f"({returned - stopped:.1f}s down)")


# --- 4. The receiver answers 500 ---------------------------------------------------------------------------

class FailingReceiver:
    """A webhook receiver that answers every POST with 500, on the sink's own port, and keeps what it was sent."""

    def __init__(self, port: int) -> None:
        self.attempts: list[tuple[float, str, list[str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                names = [a.get("labels", {}).get("alertname", "") for a in body.get("alerts", [])]
                receiver.attempts.append((time.time(), self.path, names))
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

        # The sink's port is ours once it stopped (SO_REUSEADDR: its closed connections may linger).
        self.server = poll(f"port {port} free", lambda: self._bind(port, Handler), 10)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _bind(port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer | None:
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError:
            return None

    def tried(self, alertname: str) -> int:
        return sum(alertname in names for _, _, names in self.attempts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_receiver_answering_500_is_retried_and_delivered_after_recovery(stack: Stack) -> None:
    alert = {"alertname": unique("FaultRetried"), "severity": "warning", "job": "faults", "instance": "retry"}
    failed = ("alertmanager", "alertmanager_notifications_failed_total")
    failed_before = counter(stack, *failed, integration="webhook", reason="serverError")
    native(stack, "stop", "webhook_sink")
    receiver = FailingReceiver(urlsplit(stack.url("webhook_sink")).port or 0)
    try:
        failing = time.time()
        post_alerts(stack, alert)
        poll("Alertmanager retrying after a 500", lambda: receiver.tried(alert["alertname"]) >= 2)
        poll("alertmanager_notifications_failed_total rising",
             lambda: counter(stack, *failed, integration="webhook", reason="serverError") > failed_before)
        poll("AlertmanagerFailedToSendAlerts firing for the webhook integration",
             lambda: query(stack, 'ALERTS{alertname="AlertmanagerFailedToSendAlerts", alertstate="firing", '
                                  'integration="webhook"}'))
    finally:
        receiver.close()
        recovered = native(stack, "start", "webhook_sink")
    arrived = poll("the retried alert delivered after the receiver recovered",
                   lambda: delivered(stack, alert["alertname"], recovered))
    poll("AlertmanagerFailedToSendAlerts itself delivered",
         lambda: delivered(stack, "AlertmanagerFailedToSendAlerts", failing))
    post_alerts(stack, alert, resolved=True)
    print(f"\n{receiver.tried(alert['alertname'])} attempts answered 500 over {recovered - failing:.1f}s; "
          f"delivered {arrived[0] - recovered:.1f}s after recovery")


# --- 5. Bad requests to the Python servers -------------------------------------------------------------------

@dataclass(frozen=True)
class Server:
    name: str
    health: str           # path: answers 200 with `health_text`
    health_text: str
    load: str             # path hit by the parallel GETs: 200 with `load_text`
    load_text: str


SERVERS = (Server("gpu_exporter", "/healthz", "ok", "/metrics", "gpu_exporter_up"),
           Server("demo_app", "/healthz", '"ok"', "/metrics", "http_requests_total"),
           Server("webhook_sink", "/healthz", '"ok"', "/notifications", "["))


def raw_request(url: str, data: bytes, timeout: float = 5) -> int | None:
    """Send `data` on a new connection; the status the server answers, None if it closed without one."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            head = sock.recv(64)
        except ConnectionResetError:  # closed while we still sent: no answer
            return None
    return int(head.split()[1]) if head.startswith(b"HTTP/") else None


def healthy(url: str, server: Server, path: str = "", text: str = "") -> bool:
    response = requests.get(f"{url}{path or server.health}", timeout=5)
    return response.status_code == 200 and (text or server.health_text) in response.text


@pytest.mark.parametrize("server", SERVERS, ids=[s.name for s in SERVERS])
def test_bad_and_slow_requests_leave_the_server_answering(stack: Stack, server: Server) -> None:
    url = stack.url(server.name)
    host = b"Host: 127.0.0.1\r\nConnection: close\r\n"
    # Unknown paths and methods: a client error (or, for an exporter, its metrics), never a server error.
    statuses = {f"{method} {path}": raw_request(url, f"{method} {path} HTTP/1.1\r\n".encode() + host + b"\r\n")
                for method, path in (("GET", "/no/such/path"), ("DELETE", server.load), ("BREW", server.load))}
    assert all(status is not None and (status < 500 or status == 501) for status in statuses.values()), statuses
    if server.name != "gpu_exporter":  # the exporter serves /metrics on every path, as prometheus_client does
        assert statuses["GET /no/such/path"] == 404, statuses
    big = raw_request(url, b"GET " + server.health.encode() + b" HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    assert big in (None, 400, 413, 431), f"a 100 kB header got {big}"

    # Slow clients: half a request line each, held ~2 s, while a normal client is served.
    parts = urlsplit(url)
    slow = [socket.create_connection((parts.hostname, parts.port), timeout=5) for _ in range(8)]
    try:
        for sock in slow:
            sock.sendall(f"GET {server.health[:4]}".encode())
        held_until = time.monotonic() + 2
        served = 0
        while time.monotonic() < held_until:
            assert healthy(url, server), f"{server.name} stopped answering while slow clients held connections"
            served += 1
            time.sleep(0.2)
        for sock in slow[:4]:  # half of them finish their request: served correctly
            sock.sendall(f"{server.health[4:]} HTTP/1.1\r\n".encode() + host + b"\r\n")
            answer = sock.recv(64)
            assert answer.split(b" ")[1:2] == [b"200"], f"a slow client finishing its request got {answer!r}"
    finally:
        for sock in slow:  # the other half just go away
            sock.close()

    # 200 GETs, 16 at a time.
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: healthy(url, server, server.load, server.load_text), range(200)))
    assert all(answers), f"{answers.count(False)} of 200 parallel GETs of {server.load} failed"

    assert stack.running(server.name), f"{server.name} died; see {stack.state}/logs/{server.name}.log"
    assert healthy(url, server) and healthy(url, server, server.load, server.load_text)
    print(f"\n{server.name}: {statuses}, 100 kB header -> {big}, {served} served during the slow clients")


def test_webhook_sink_answers_malformed_posts(stack: Stack) -> None:
    url = stack.url("webhook_sink")
    head = b"POST /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    statuses = {"Content-Length: abc": raw_request(url, head + b"Content-Length: abc\r\n\r\n{}"),
                'alerts: [1]': raw_request(url, head + b'Content-Length: 14\r\n\r\n{"alerts":[1]}')}
    assert stack.running("webhook_sink") and healthy(url, SERVERS[2])
    assert statuses == {"Content-Length: abc": 400, "alerts: [1]": 400}, statuses
    recorded = requests.get(f"{url}/notifications", timeout=5).json()
    assert not [n for n in recorded if n.get("path") == "/faults"], "a refused payload must not be recorded"
