"""Every alert and recording rule follows docs/alerting-conventions.md."""
from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT

from obsstack.rules import rule_files

RUNBOOK_BASE = "https://github.com/observability-stack/observability-stack/blob/main/docs/runbooks/"
DASHBOARD_UIDS = {"stack-health", "node", "containers", "postgresql", "redis", "gpu", "application", "slo",
                  "logs-pipeline", "tracing"}
RULE_FILES = rule_files(ROOT)


def rules(kind: str) -> list[tuple[str, dict]]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if kind in rule:
                    found.append((path.name, rule))
    return found


ALERTS = rules("alert")
RECORDS = rules("record")


def test_there_are_rules():
    assert len(ALERTS) >= 3 and RECORDS


def test_groups_hold_at_most_20_rules():
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            assert len(group["rules"]) <= 20, f"{path.name}: group {group['name']}"


@pytest.mark.parametrize("source, rule", ALERTS, ids=[r["alert"] + "@" + s for s, r in ALERTS])
def test_alert_follows_conventions(source, rule):
    name = rule["alert"]
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name) and len(name) <= 40, name
    severity = rule["labels"]["severity"]
    assert severity in ({"none"} if name == "Watchdog" else {"critical", "warning", "info"}), (name, severity)
    notes = rule["annotations"]
    summary = notes["summary"]
    assert summary[0].isupper() and summary.endswith(".") and "{{" not in summary, (name, summary)
    assert notes["description"].strip(), name
    assert notes["runbook_url"] == f"{RUNBOOK_BASE}{name}.md", name
    assert (ROOT / "docs/runbooks" / f"{name}.md").exists(), f"docs/runbooks/{name}.md missing"
    dashboard = notes["dashboard_url"]
    assert dashboard.startswith("/d/") and dashboard[3:].split("?")[0] in DASHBOARD_UIDS, (name, dashboard)
    assert "humanizePercentage" not in notes["description"] or "* 100" not in rule["expr"], \
        f"{name}: a percentage of a percentage"


@pytest.mark.parametrize("source, rule", RECORDS, ids=[r["record"] for _, r in RECORDS])
def test_recording_rule_name_is_level_metric_operations(source, rule):
    assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]


@pytest.mark.parametrize("path", sorted((ROOT / "docs/runbooks").glob("*.md")), ids=lambda p: p.stem)
def test_runbook_has_every_section(path):
    text = path.read_text()
    assert text.startswith(f"# {path.stem}\n")
    for section in ("Meaning", "Impact", "Diagnosis", "Mitigation", "Source"):
        assert re.search(rf"^##+ {section}", text, re.M), f"{path.name}: no {section} section"


def test_every_runbook_belongs_to_an_alert():
    alerts = {rule["alert"] for _, rule in ALERTS}
    orphans = {p.stem for p in (ROOT / "docs/runbooks").glob("*.md")} - alerts
    assert not orphans, f"runbooks without an alert: {sorted(orphans)}"
