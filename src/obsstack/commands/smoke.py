"""Prove a running stack works, part by part: PASS, FAIL or SKIP per check, with timings.

Works on the compose stack (URLs and passwords from .env) and on the native stack
(`--endpoints STATE/endpoints.json` from `obsstack native up`). Exit status 0 only when nothing
failed; SKIP says why a part was not checked (not deployed, or cannot run natively).
`--wait SECONDS` retries failing checks until they pass or time runs out.

examples:
  obsstack smoke --wait 180                        # the compose stack of this folder's .env
  obsstack smoke --endpoints /tmp/obs/endpoints.json --json
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from .. import compose, envfile, paths
from ..checks import render_project
from ..native import COMPONENTS as NATIVE_COMPONENTS
from ..uis import BY_PORT

HELP = "prove the running stack works, part by part"
TIMEOUT_S = 5
# Where the logs go (logstash/pipeline/logstash.conf) and the template that shapes them
# (elasticsearch/setup/index-templates/); tests/contract checks both names against those files.
LOGS_DATA_STREAM = "logs-docker-default"
LOGS_INDEX_TEMPLATE = "logs-docker"
NATIVE_ONLY_REASON = "not part of the native stack (cannot run without Docker)"


# The smoke test's components that are compose services only some profiles run.
OPTIONAL_SERVICES = {"elasticsearch": "elasticsearch", "kibana": "kibana", "filebeat": "filebeat", "jaeger": "jaeger",
                     "demo_app": "demo-app"}


class SmokeError(Exception):
    """The stack to check could not be read; the message says why."""


class Skip(Exception):
    """The component is not deployed; the message says why."""


@dataclass
class Check:
    component: str
    check: str
    status: str
    seconds: float
    detail: str


@dataclass
class Endpoint:
    url: str
    auth: tuple[str, str] | None = None


@dataclass
class Stack:
    """What the checks need to know, whichever way the stack was deployed."""

    kind: str  # "compose" or "native"
    endpoints: dict[str, Endpoint]
    not_deployed: dict[str, str] = field(default_factory=dict)  # component -> why
    gpu_overlay: bool = False
    project_dir: Path = field(default_factory=paths.project_dir)

    @classmethod
    def from_env(cls, path: Path, project_dir: Path) -> Stack:
        """The compose stack as `config` renders it with this .env: which services run, on which
        published ports, and the logins from .env."""
        project, error = render_project(project_dir, path)
        if project is None:
            raise SmokeError(f"cannot read the stack from {project_dir} with {path}: {error}")
        env = envfile.read_env(path)
        services = project["services"]
        endpoints = {}
        for port in compose.published_ports(project):
            ui = BY_PORT.get((port.service, port.target))
            if ui and ui.component:
                host = "127.0.0.1" if port.host_ip in ("", "0.0.0.0") else port.host_ip
                endpoints[ui.component] = Endpoint(f"http://{host}:{port.port}", ui.login(env))
        not_deployed = {component: f"service {service} is not in this stack (COMPOSE_PROFILES)"
                        for component, service in OPTIONAL_SERVICES.items() if service not in services}
        return cls("compose", endpoints, not_deployed, "dcgm-exporter" in services, project_dir)

    @classmethod
    def from_native(cls, path: Path) -> Stack:
        data = json.loads(path.read_text())
        endpoints = {name: Endpoint(c["url"], tuple(c["auth"]) if c.get("auth") else None)
                     for name, c in data["components"].items()}
        not_deployed = {name: NATIVE_ONLY_REASON for name in ("grafana", "elasticsearch", "kibana", "filebeat", "jaeger")
                        if name not in NATIVE_COMPONENTS}
        return cls("native", endpoints, not_deployed)


def get(endpoint: Endpoint, path: str, **kwargs) -> requests.Response:
    response = requests.get(f"{endpoint.url}{path}", auth=endpoint.auth, timeout=TIMEOUT_S, **kwargs)
    response.raise_for_status()
    return response


def checks(stack: Stack) -> list[tuple[str, str, Callable[[], str]]]:
    ep = stack.endpoints
    prom = ep["prometheus"]

    def needs(component: str) -> Endpoint | None:
        if component in stack.not_deployed:
            raise Skip(stack.not_deployed[component])
        return ep.get(component)

    def query(expr: str) -> list[dict]:
        return get(prom, "/api/v1/query", params={"query": expr}).json()["data"]["result"]

    def prometheus_ready() -> str:
        get(prom, "/-/ready")
        if query("prometheus_config_last_reload_successful")[0]["value"][1] != "1":
            raise AssertionError("the last configuration reload failed: see Prometheus' log")
        return "ready, configuration loaded"

    def prometheus_targets() -> str:
        active = get(prom, "/api/v1/targets", params={"state": "active"}).json()["data"]["activeTargets"]
        down = [f"job={t['labels'].get('job')} instance={t['labels'].get('instance')}: {t.get('lastError') or t['health']}"
                for t in active if t["health"] != "up"]
        if not active:
            raise AssertionError("no active targets")
        if down:
            raise AssertionError(f"{len(down)} of {len(active)} targets down: " + "; ".join(down))
        return f"{len(active)} targets up"

    def prometheus_rules() -> str:
        groups = get(prom, "/api/v1/rules").json()["data"]["groups"]
        bad = [f"{g['name']}/{r['name']}: {r.get('lastError')}" for g in groups for r in g["rules"] if r.get("health") != "ok"]
        if bad:
            raise AssertionError("rules failing: " + "; ".join(bad))
        count = sum(len(g["rules"]) for g in groups)
        if not count:
            raise AssertionError("no rules loaded")
        return f"{count} rules in {len(groups)} groups healthy"

    def prometheus_alertmanager() -> str:
        active = get(prom, "/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"]
        if not active:
            raise AssertionError("Prometheus has discovered no Alertmanager")
        return f"{len(active)} Alertmanager(s)"

    def alertmanager_ready() -> str:
        status = get(ep["alertmanager"], "/api/v2/status").json()
        return f"ready, cluster {status['cluster']['status']}"

    def watchdog_delivered() -> str:
        sink = ep.get("webhook_sink")
        if sink is not None:
            for entry in get(sink, "/notifications").json():
                body = entry["body"]
                if any(a["labels"].get("alertname") == "Watchdog" and a["status"] == "firing" for a in body["alerts"]):
                    return f"Watchdog delivered to receiver {body['receiver']} (webhook sink)"
            raise AssertionError("the webhook sink has not received the Watchdog alert")
        alerts = get(ep["alertmanager"], "/api/v2/alerts", params={"filter": "alertname=Watchdog"}).json()
        if not alerts:
            raise AssertionError("the always-firing Watchdog alert has not reached Alertmanager")
        return f"Watchdog active in Alertmanager, routed to {', '.join(r['name'] for r in alerts[0]['receivers'])}"

    def grafana() -> str:
        grafana_ep = needs("grafana")
        health = get(grafana_ep, "/api/health").json()
        if health.get("database") != "ok":
            raise AssertionError(f"Grafana database: {health}")
        broken = []
        sources = get(grafana_ep, "/api/datasources").json()
        for source in sources:
            if (source["type"] == "elasticsearch" and "elasticsearch" in stack.not_deployed) or (
                    source["type"] == "jaeger" and "jaeger" in stack.not_deployed):
                continue
            result = requests.get(f"{grafana_ep.url}/api/datasources/uid/{source['uid']}/health", auth=grafana_ep.auth,
                                  timeout=TIMEOUT_S * 2)
            if result.status_code != 200:
                broken.append(f"{source['name']}: {result.text[:120]}")
        if broken:
            raise AssertionError("datasources unhealthy: " + "; ".join(broken))
        shipped = {json.loads(p.read_text())["uid"] for p in (stack.project_dir / "grafana/dashboards").rglob("*.json")}
        found = {d["uid"] for d in get(grafana_ep, "/api/search", params={"type": "dash-db"}).json()}
        missing = shipped - found
        if missing:
            raise AssertionError(f"dashboards not provisioned: {', '.join(sorted(missing))}")
        return f"Grafana {health.get('version')}, {len(sources)} datasources healthy, {len(shipped)} dashboards present"

    def elasticsearch() -> str:
        es = needs("elasticsearch")
        health = get(es, "/_cluster/health").json()
        if health["status"] == "red":
            raise AssertionError(f"cluster red: {health}")
        templates = get(es, f"/_index_template/{LOGS_INDEX_TEMPLATE}").json()["index_templates"]
        if not templates:
            raise AssertionError(f"the {LOGS_INDEX_TEMPLATE} index template is missing: did elasticsearch-setup run?")
        failures = requests.get(f"{es.url}/{LOGS_DATA_STREAM}::failures/_count", auth=es.auth, timeout=TIMEOUT_S,
                                params={"ignore_unavailable": "true", "allow_no_indices": "true"})
        refused = failures.json().get("count", 0) if failures.status_code == 200 else 0
        if refused:
            raise AssertionError(f"{refused} log documents refused into the failure store of {LOGS_DATA_STREAM} "
                                 "(docs/runbooks/LogsRejectedIntoFailureStore.md)")
        return f"cluster {health['status']}, {LOGS_INDEX_TEMPLATE} template present, failure store empty"

    def log_line_searchable() -> str:
        es = needs("elasticsearch")
        needs("filebeat")
        if shutil.which("docker") is None:
            raise Skip("the docker CLI is needed to write a log line into a container's output")
        tag = f"smoke-{uuid.uuid4().hex}"
        # A logfmt line, as Alertmanager writes them, into its container's stdout: Filebeat reads every
        # container's json-file log, and Logstash must make it an ECS document of the right service.
        line = f'time=2026-01-01T00:00:00.000Z level=WARN source=smoke.go:1 msg={tag}'
        subprocess.run(["docker", "compose", "--project-directory", str(stack.project_dir), "exec", "-T", "alertmanager",
                        "sh", "-c", f"echo '{line}' > /proc/1/fd/1"], check=True, capture_output=True, timeout=30)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            hits = requests.get(f"{es.url}/{LOGS_DATA_STREAM}/_search", auth=es.auth, timeout=TIMEOUT_S,
                                params={"q": f'message:"{tag}"'}).json().get("hits", {}).get("hits", [])
            if hits:
                document = hits[0]["_source"]
                shape = {"service.name": document.get("service", {}).get("name"),
                         "log.level": document.get("log", {}).get("level")}
                if shape != {"service.name": "alertmanager", "log.level": "warning"}:
                    raise AssertionError(f"log line {tag} stored with {shape}, not as ECS of alertmanager at warning")
                return f"log line {tag} searchable as ECS ({shape})"
            time.sleep(2)
        raise AssertionError(f"log line {tag} not in {LOGS_DATA_STREAM} within 90s")

    def kibana() -> str:
        level = get(needs("kibana"), "/api/status").json()["status"]["overall"]["level"]
        if level != "available":
            raise AssertionError(f"Kibana overall status {level}")
        return "available"

    def trace_returned() -> str:
        jaeger = needs("jaeger")
        trace_id, span_id, now = uuid.uuid4().hex, uuid.uuid4().hex[:16], time.time_ns()
        span = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "smoke-test"}}]},
                                   "scopeSpans": [{"spans": [{"traceId": trace_id, "spanId": span_id, "name": "smoke", "kind": 1,
                                                              "startTimeUnixNano": str(now - 1_000_000),
                                                              "endTimeUnixNano": str(now)}]}]}]}
        requests.post(f"{ep['otlp'].url}/v1/traces", json=span, timeout=TIMEOUT_S).raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = requests.get(f"{jaeger.url}/api/traces/{trace_id}", timeout=TIMEOUT_S)
            if response.status_code == 200 and response.json().get("data"):
                return f"span of trace {trace_id} returned by Jaeger"
            time.sleep(2)
        raise AssertionError(f"trace {trace_id} not returned by Jaeger within 60s")

    def gpu_exporters() -> str:
        if stack.kind == "native":
            text = get(ep["gpu_exporter"], "/metrics").text
            return "gpu-exporter answers" + (" (simulated GPUs)" if 'backend="simulated"' in text else "")
        jobs = ["gpu-exporter"] + (["dcgm"] if stack.gpu_overlay else [])
        down = [job for job in jobs if not any(r["value"][1] == "1" for r in query(f'up{{job="{job}"}}'))]
        if down:
            raise AssertionError(f"not answering: {', '.join(down)}")
        return f"{', '.join(jobs)} answer" + ("" if stack.gpu_overlay else " (GPU overlay off: no dcgm-exporter)")

    def demo_app() -> str:
        needs("demo_app")
        if not query('sum(rate(http_requests_total{job="demo-app"}[1m])) > 0'):
            raise AssertionError("no requests recorded from the demo app yet")
        return "demo app serving and scraped"

    return [
        ("prometheus", "ready", prometheus_ready),
        ("prometheus", "targets up", prometheus_targets),
        ("prometheus", "rules healthy", prometheus_rules),
        ("prometheus", "alertmanager discovered", prometheus_alertmanager),
        ("alertmanager", "ready", alertmanager_ready),
        ("alertmanager", "watchdog delivered", watchdog_delivered),
        ("grafana", "health, datasources, dashboards", grafana),
        ("elasticsearch", "cluster health", elasticsearch),
        ("filebeat", "log line searchable", log_line_searchable),
        ("kibana", "status", kibana),
        ("jaeger", "trace returned", trace_returned),
        ("gpu", "exporters answer", gpu_exporters),
        ("demo_app", "traffic scraped", demo_app),
    ]


def run_check(component: str, name: str, fn: Callable[[], str], deadline: float) -> Check:
    start = time.monotonic()
    while True:
        try:
            return Check(component, name, "PASS", round(time.monotonic() - start, 3), fn())
        except Skip as skip:
            return Check(component, name, "SKIP", round(time.monotonic() - start, 3), str(skip))
        except (requests.RequestException, subprocess.SubprocessError, AssertionError, KeyError, IndexError,
                ValueError) as exc:
            if time.monotonic() >= deadline:
                return Check(component, name, "FAIL", round(time.monotonic() - start, 3), f"{type(exc).__name__}: {exc}")
            time.sleep(1)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("smoke", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--env-file", type=Path, help="the compose stack's .env (default: PROJECT/.env)")
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="the compose project (default: the .env's folder when it holds docker-compose.yml, else this checkout)")
    source.add_argument("--endpoints", type=Path, help="a native stack's endpoints.json (`obsstack native up`)")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="retry failing checks this long")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source_file = args.endpoints or args.env_file or paths.env_file()
    if not source_file.exists():
        hint = "run `obsstack native up` first" if args.endpoints else "run `make up` first"
        print(f"{source_file} not found: {hint}", file=sys.stderr)
        return 2
    if args.endpoints:
        stack = Stack.from_native(source_file)
    else:
        beside = source_file.resolve().parent
        project_dir = args.project_dir or (beside if (beside / "docker-compose.yml").exists() else paths.project_dir())
        try:
            stack = Stack.from_env(source_file, project_dir.resolve())
        except SmokeError as exc:
            print(f"smoke: {exc}", file=sys.stderr)
            return 2
    deadline = time.monotonic() + args.wait
    results = [run_check(component, name, fn, deadline) for component, name, fn in checks(stack)]
    failed = [r for r in results if r.status == "FAIL"]
    if args.json:
        print(json.dumps({"ok": not failed, "stack": stack.kind, "checks": [asdict(r) for r in results]}, indent=2))
    else:
        for r in results:
            print(f"{r.status:4}  {r.component:<13} {r.check:<32} {r.seconds:6.2f}s  {r.detail}")
        print(f"smoke: {len(failed)} of {len(results)} checks failed" if failed else
              f"smoke: no check failed ({sum(r.status == 'PASS' for r in results)} passed, "
              f"{sum(r.status == 'SKIP' for r in results)} skipped)")
    return 1 if failed else 0
