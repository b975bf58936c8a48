"""Alertmanager: ready, and the always-firing Watchdog delivered (natively, read back from the sink)."""
from __future__ import annotations

from ..stack import Stack, get


def ready(stack: Stack) -> str:
    status = get(stack.endpoints["alertmanager"], "/api/v2/status").json()
    return f"ready, cluster {status['cluster']['status']}"


def watchdog_delivered(stack: Stack) -> str:
    sink = stack.endpoints.get("webhook_sink")
    if sink is not None:
        for entry in get(sink, "/notifications").json():
            body = entry["body"]
            if any(a["labels"].get("alertname") == "Watchdog" and a["status"] == "firing" for a in body["alerts"]):
                return f"Watchdog delivered to receiver {body['receiver']} (webhook sink)"
        raise AssertionError("the webhook sink has not received the Watchdog alert")
    alerts = get(stack.endpoints["alertmanager"], "/api/v2/alerts", params={"filter": "alertname=Watchdog"}).json()
    if not alerts:
        raise AssertionError("the always-firing Watchdog alert has not reached Alertmanager")
    return f"Watchdog active in Alertmanager, routed to {', '.join(r['name'] for r in alerts[0]['receivers'])}"


CHECKS = [("alertmanager", "ready", ready), ("alertmanager", "watchdog delivered", watchdog_delivered)]
