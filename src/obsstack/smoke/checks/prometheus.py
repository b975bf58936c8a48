"""Prometheus: ready with its configuration, every target up, every rule healthy, Alertmanager found."""
from __future__ import annotations

from ..stack import Stack, get


def ready(stack: Stack) -> str:
    get(stack.endpoints["prometheus"], "/-/ready")
    if stack.query("prometheus_config_last_reload_successful")[0]["value"][1] != "1":
        raise AssertionError("the last configuration reload failed: see Prometheus' log")
    return "ready, configuration loaded"


def targets_up(stack: Stack) -> str:
    active = get(stack.endpoints["prometheus"], "/api/v1/targets", params={"state": "active"}).json()["data"]["activeTargets"]
    down = [f"job={t['labels'].get('job')} instance={t['labels'].get('instance')}: {t.get('lastError') or t['health']}"
            for t in active if t["health"] != "up"]
    if not active:
        raise AssertionError("no active targets")
    if down:
        raise AssertionError(f"{len(down)} of {len(active)} targets down: " + "; ".join(down))
    return f"{len(active)} targets up"


def rules_healthy(stack: Stack) -> str:
    groups = get(stack.endpoints["prometheus"], "/api/v1/rules").json()["data"]["groups"]
    bad = [f"{g['name']}/{r['name']}: {r.get('lastError')}" for g in groups for r in g["rules"] if r.get("health") != "ok"]
    if bad:
        raise AssertionError("rules failing: " + "; ".join(bad))
    count = sum(len(g["rules"]) for g in groups)
    if not count:
        raise AssertionError("no rules loaded")
    return f"{count} rules in {len(groups)} groups healthy"


def alertmanager_discovered(stack: Stack) -> str:
    active = get(stack.endpoints["prometheus"], "/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"]
    if not active:
        raise AssertionError("Prometheus has discovered no Alertmanager")
    return f"{len(active)} Alertmanager(s)"


CHECKS = [("prometheus", "ready", ready), ("prometheus", "targets up", targets_up),
          ("prometheus", "rules healthy", rules_healthy), ("prometheus", "alertmanager discovered", alertmanager_discovered)]
