#!/usr/bin/env python3
"""Prove a running stack works, part by part: PASS, FAIL or SKIP per check, with timings.

Reads URLs and credentials from .env (the compose stack on this machine). Exit status 0 only
when nothing failed. `--wait SECONDS` retries failing checks until they pass or time runs out.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from obsstack import envfile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 5


class Skip(Exception):
    """The component is not deployed; the message says why."""


@dataclass
class Check:
    component: str
    check: str
    status: str
    seconds: float
    detail: str


@dataclass(frozen=True)
class Endpoints:
    prometheus: str
    alertmanager: str
    grafana: str
    elasticsearch: str
    kibana: str
    jaeger: str
    env: dict[str, str]

    @classmethod
    def from_env(cls, path: Path) -> Endpoints:
        env = envfile.read_env(path)
        host = env.get("BIND_ADDRESS", "127.0.0.1")
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host

        def url(key: str, default: str) -> str:
            return f"http://{host}:{env.get(key) or default}"

        return cls(url("PROMETHEUS_PORT", "9090"), url("ALERTMANAGER_PORT", "9093"), url("GRAFANA_PORT", "3000"),
                   url("ELASTICSEARCH_PORT", "9200"), url("KIBANA_PORT", "5601"), url("JAEGER_UI_PORT", "16686"), env)

    def profiles(self) -> set[str]:
        return {p.strip() for p in self.env.get("COMPOSE_PROFILES", "").split(",") if p.strip()}


def get(url: str, auth: tuple[str, str] | None = None) -> requests.Response:
    response = requests.get(url, auth=auth, timeout=TIMEOUT_S)
    response.raise_for_status()
    return response


def checks(ep: Endpoints) -> list[tuple[str, str, Callable[[], str]]]:
    prom_auth = ("prometheus", ep.env.get("PROMETHEUS_WEB_PASSWORD", ""))
    am_auth = ("alertmanager", ep.env.get("ALERTMANAGER_WEB_PASSWORD", ""))
    grafana_auth = ("admin", ep.env.get("GRAFANA_ADMIN_PASSWORD", ""))
    elastic_auth = ("elastic", ep.env.get("ELASTIC_PASSWORD", ""))

    def needs(profile: str) -> None:
        if profile not in ep.profiles():
            raise Skip(f"profile {profile} not in COMPOSE_PROFILES")

    def prometheus_ready() -> str:
        get(f"{ep.prometheus}/-/ready", prom_auth)
        return "ready"

    def prometheus_targets() -> str:
        active = get(f"{ep.prometheus}/api/v1/targets?state=active", prom_auth).json()["data"]["activeTargets"]
        down = [f"{t['labels'].get('job')}/{t['labels'].get('instance')}: {t.get('lastError') or t['health']}"
                for t in active if t["health"] != "up"]
        if down:
            raise AssertionError(f"{len(down)} of {len(active)} targets down: " + "; ".join(down))
        return f"{len(active)} targets up"

    def prometheus_rules() -> str:
        groups = get(f"{ep.prometheus}/api/v1/rules", prom_auth).json()["data"]["groups"]
        bad = [f"{g['name']}/{r['name']}: {r.get('lastError')}" for g in groups for r in g["rules"] if r.get("health") != "ok"]
        if bad:
            raise AssertionError("rules failing: " + "; ".join(bad))
        return f"{sum(len(g['rules']) for g in groups)} rules healthy"

    def prometheus_alertmanager() -> str:
        active = get(f"{ep.prometheus}/api/v1/alertmanagers", prom_auth).json()["data"]["activeAlertmanagers"]
        if not active:
            raise AssertionError("Prometheus has discovered no Alertmanager")
        return f"{len(active)} Alertmanager(s)"

    def alertmanager_watchdog() -> str:
        get(f"{ep.alertmanager}/-/ready", am_auth)
        alerts = get(f"{ep.alertmanager}/api/v2/alerts?filter=alertname%3DWatchdog", am_auth).json()
        if not alerts:
            raise AssertionError("the always-firing Watchdog alert has not reached Alertmanager")
        return "ready; Watchdog received"

    def grafana() -> str:
        health = get(f"{ep.grafana}/api/health").json()
        if health.get("database") != "ok":
            raise AssertionError(f"Grafana database: {health}")
        sources = get(f"{ep.grafana}/api/datasources", grafana_auth).json()
        broken = []
        for source in sources:
            if source["type"] in ("elasticsearch",) and "logging" not in ep.profiles():
                continue
            if source["type"] == "jaeger" and "tracing" not in ep.profiles():
                continue
            result = requests.get(f"{ep.grafana}/api/datasources/uid/{source['uid']}/health", auth=grafana_auth,
                                  timeout=TIMEOUT_S * 2)
            if result.status_code != 200:
                broken.append(f"{source['name']}: {result.text[:120]}")
        if broken:
            raise AssertionError("datasources unhealthy: " + "; ".join(broken))
        return f"Grafana {health.get('version')}, {len(sources)} datasources"

    def elasticsearch() -> str:
        needs("logging")
        health = get(f"{ep.elasticsearch}/_cluster/health", elastic_auth).json()
        if health["status"] == "red":
            raise AssertionError(f"cluster red: {health}")
        return f"cluster {health['status']}"

    def kibana() -> str:
        needs("logging")
        level = get(f"{ep.kibana}/api/status", elastic_auth).json()["status"]["overall"]["level"]
        if level != "available":
            raise AssertionError(f"Kibana overall status {level}")
        return "available"

    def jaeger() -> str:
        needs("tracing")
        get(f"{ep.jaeger}/api/services")
        return "query API answers"

    return [
        ("prometheus", "ready", prometheus_ready),
        ("prometheus", "targets up", prometheus_targets),
        ("prometheus", "rules healthy", prometheus_rules),
        ("prometheus", "alertmanager discovered", prometheus_alertmanager),
        ("alertmanager", "watchdog delivered", alertmanager_watchdog),
        ("grafana", "health and datasources", grafana),
        ("elasticsearch", "cluster health", elasticsearch),
        ("kibana", "status", kibana),
        ("jaeger", "query API", jaeger),
    ]


def run_check(component: str, name: str, fn: Callable[[], str], deadline: float) -> Check:
    start = time.monotonic()
    while True:
        try:
            return Check(component, name, "PASS", round(time.monotonic() - start, 3), fn())
        except Skip as skip:
            return Check(component, name, "SKIP", round(time.monotonic() - start, 3), str(skip))
        except (requests.RequestException, AssertionError, KeyError, ValueError) as exc:
            if time.monotonic() >= deadline:
                return Check(component, name, "FAIL", round(time.monotonic() - start, 3), f"{type(exc).__name__}: {exc}")
            time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env", help="the stack's .env (default: %(default)s)")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="retry failing checks this long")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    args = parser.parse_args(argv)
    if not args.env_file.exists():
        print(f"{args.env_file} not found: run `make up` first", file=sys.stderr)
        return 2
    endpoints = Endpoints.from_env(args.env_file)
    deadline = time.monotonic() + args.wait
    results = [run_check(component, name, fn, deadline) for component, name, fn in checks(endpoints)]
    failed = [r for r in results if r.status == "FAIL"]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(r) for r in results]}, indent=2))
    else:
        for r in results:
            print(f"{r.status:4}  {r.component:<13} {r.check:<24} {r.seconds:6.2f}s  {r.detail}")
        print(f"smoke: {len(failed)} of {len(results)} checks failed" if failed else f"smoke: all {len(results)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
