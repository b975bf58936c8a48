"""Alertmanager: the config rendered from alertmanager/alertmanager.yml, .env and teams.yml, checked
by the real amtool: validity, a routing table, every template rendered on realistic alerts."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from obsstack import alertmanager_config

pytestmark = pytest.mark.toolchain

FULL_ENV = {
    "ALERT_SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T000/B000/secret-slack-token",
    "ALERT_PAGERDUTY_ROUTING_KEY": "secret-pagerduty-routing-key",
    "ALERT_WEBHOOK_URL": "https://hooks.example/secret-webhook-token",
    "ALERT_EMAIL_TO": "oncall@example.com",
    "ALERT_EMAIL_FROM": "alerts@example.com",
    "ALERT_SMTP_SMARTHOST": "smtp.example.com:587",
    "ALERT_SMTP_USERNAME": "alerts",
    "ALERT_SMTP_PASSWORD": "secret-smtp-password",
    "ALERT_DEADMANSSWITCH_URL": "https://hc-ping.example/secret-uuid",
    "GRAFANA_ROOT_URL": "https://grafana.example.com/",
}
TEAMS = [
    {"name": "payments", "slack_webhook_url_file": "secrets/payments-slack", "pagerduty_routing_key_file": "secrets/payments-pd"},
    {"name": "search", "webhook_url_file": "secrets/search-hook"},
]


def render_into(folder: Path, env: dict[str, str], teams: list[dict] | None = None) -> Path:
    """A copy of alertmanager/ with its config rendered, as setup does it."""
    shutil.copytree(ROOT / "alertmanager", folder / "alertmanager", ignore=shutil.ignore_patterns("generated", "secrets"))
    if teams is not None:
        (folder / "alertmanager/teams.yml").write_text(yaml.safe_dump({"teams": teams}))
    return alertmanager_config.write(folder, env)


@pytest.fixture(scope="module")
def default_config(tmp_path_factory) -> Path:
    return render_into(tmp_path_factory.mktemp("am-default"), {})


@pytest.fixture(scope="module")
def full_config(tmp_path_factory) -> Path:
    return render_into(tmp_path_factory.mktemp("am-full"), FULL_ENV, TEAMS)


def amtool(tool, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("amtool")), *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("which", ["default", "full"])
def test_rendered_config_passes_amtool(tool, which, default_config, full_config):
    path = default_config if which == "default" else full_config
    proc = amtool(tool, "check-config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 templates" in proc.stdout


def test_fresh_stack_notifies_no_one(default_config):
    config = yaml.safe_load(default_config.read_text())
    for receiver in config["receivers"]:
        assert not [k for k in receiver if k.endswith("_configs")], receiver
    assert "smtp_smarthost" not in config["global"]


def test_full_env_wires_every_channel_and_no_secret_is_written(full_config):
    text = full_config.read_text()
    for key, value in FULL_ENV.items():
        if key in ("ALERT_SLACK_WEBHOOK_URL", "ALERT_PAGERDUTY_ROUTING_KEY", "ALERT_WEBHOOK_URL", "ALERT_SMTP_PASSWORD",
                   "ALERT_DEADMANSSWITCH_URL"):
            assert value not in text, f"{key} leaked into the rendered config"
    receivers = {r["name"]: r for r in yaml.safe_load(text)["receivers"]}
    assert set(receivers["critical"]) == {"name", "pagerduty_configs", "slack_configs", "email_configs", "webhook_configs"}
    assert set(receivers["warning"]) == {"name", "slack_configs", "email_configs", "webhook_configs"}
    assert receivers["critical"]["email_configs"][0]["to"] == "oncall@example.com"
    assert receivers["watchdog"]["webhook_configs"][0]["url_file"] == "/etc/alertmanager-secrets/deadmansswitch_url"
    assert receivers["team-payments"]["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/secrets/payments-slack"
    assert "x-enabled-by" not in text
    assert "https://grafana.example.com/d" not in text  # the links template carries it, not the config
    assert (full_config.parent / "links.tmpl").read_text().count("https://grafana.example.com{{") == 1


def test_compose_mounts_every_secret_file_the_config_reads(full_config):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounted = {c["target"] for c in compose["services"]["alertmanager"]["configs"]}
    read = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("_file") and str(value).startswith("/etc/alertmanager-secrets/"):
                    read.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(full_config.read_text()))
    assert read and read <= mounted, sorted(read - mounted)


# labels of an alert -> the receivers it must reach, in order
ROUTES = [
    ({"alertname": "Watchdog", "severity": "none"}, ["watchdog"]),
    ({"alertname": "Watchdog", "severity": "none", "team": "payments"}, ["watchdog"]),
    ({"alertname": "RedisDown", "severity": "critical", "job": "redis"}, ["critical"]),
    ({"alertname": "TargetDown", "severity": "warning", "job": "node"}, ["warning"]),
    ({"alertname": "NodeClockSkew", "severity": "info"}, ["local"]),
    ({"alertname": "Unlabelled"}, ["local"]),
    ({"alertname": "HighErrorRatio", "severity": "critical", "team": "payments"}, ["critical", "team-payments"]),
    ({"alertname": "HighErrorRatio", "severity": "warning", "team": "search"}, ["warning", "team-search"]),
    ({"alertname": "Chatter", "severity": "info", "team": "payments"}, ["local"]),
    ({"alertname": "NoSeverity", "team": "payments"}, ["team-payments"]),
    ({"alertname": "Other", "severity": "warning", "team": "unknown"}, ["warning"]),
]


@pytest.mark.parametrize("labels, receivers", ROUTES, ids=[json.dumps(r[0]) for r in ROUTES])
def test_routing_table(tool, full_config, labels, receivers):
    pairs = [f"{k}={v}" for k, v in labels.items()]
    proc = amtool(tool, "config", "routes", "test", f"--config.file={full_config}",
                  f"--verify.receivers={','.join(receivers)}", *pairs)
    assert proc.returncode == 0, f"{labels} -> {proc.stdout.strip()} (expected {receivers})"


def test_routing_table_can_fail(tool, full_config):
    proc = amtool(tool, "config", "routes", "test", f"--config.file={full_config}", "--verify.receivers=local",
                  "severity=critical", "alertname=X")
    assert proc.returncode != 0


ALERT = {
    "labels": {"alertname": "HighErrorRatio", "job": "demo-app", "severity": "critical"},
    "annotations": {"summary": "A service answers too many requests with errors.",
                    "description": "demo-app: 12% of requests failed over the last 5 minutes (threshold 5%).",
                    "runbook_url": "https://github.com/observability-stack/observability-stack/blob/main/docs/runbooks/HighErrorRatio.md",
                    "dashboard_url": "/d/application"},
    "startsAt": "2026-11-22T10:00:00Z", "generatorURL": "http://localhost:9090/graph?g0.expr=x",
}


def template_data(status: str) -> dict:
    alert = {**ALERT, "status": status, "endsAt": "2026-11-22T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"}
    return {"receiver": "critical", "status": status, "externalURL": "http://localhost:9093",
            "groupLabels": {"alertname": "HighErrorRatio"}, "commonLabels": ALERT["labels"], "commonAnnotations": {},
            "alerts": [alert, {**alert, "labels": {**ALERT["labels"], "route": "/api/orders"}}]}


def render_template(tool, config: Path, tmp_path: Path, status: str, text: str) -> str:
    data = tmp_path / f"{status}.json"
    data.write_text(json.dumps(template_data(status)))
    proc = amtool(tool, "template", "render", f"--template.glob={ROOT / 'alertmanager/templates/*.tmpl'}",
                  f"--template.glob={config.parent / 'links.tmpl'}", f"--template.data={data}", f"--template.text={text}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_firing_notification_text(tool, full_config, tmp_path):
    title = render_template(tool, full_config, tmp_path, "firing", '{{ template "obs.title" . }}').strip()
    assert title == "[FIRING:2] critical HighErrorRatio (demo-app)"
    text = render_template(tool, full_config, tmp_path, "firing", '{{ template "obs.text" . }}')
    assert text.count("FIRING: A service answers too many requests with errors.") == 2
    assert "demo-app: 12% of requests failed" in text
    assert "Runbook: https://github.com/observability-stack/observability-stack/blob/main/docs/runbooks/HighErrorRatio.md" in text
    assert "Dashboard: https://grafana.example.com/d/application" in text
    assert "Silence: http://localhost:9093/#/silences/new?filter=%7Balertname%3D%22HighErrorRatio%22" in text
    assert "Since: 2026-11-22 10:00:00 UTC" in text


def test_resolved_notification_text(tool, full_config, tmp_path):
    title = render_template(tool, full_config, tmp_path, "resolved", '{{ template "obs.title" . }}').strip()
    assert title == "[RESOLVED] critical HighErrorRatio (demo-app)"
    text = render_template(tool, full_config, tmp_path, "resolved", '{{ template "obs.text" . }}')
    assert "RESOLVED: A service answers too many requests with errors." in text
    assert "resolved 2026-11-22 10:30:00 UTC" in text
    assert "Silence:" not in text


def test_every_template_the_config_names_is_defined():
    names = set()
    for path in (ROOT / "alertmanager").rglob("*.yml"):
        names |= set(__import__("re").findall(r'template "([\w.]+)"', path.read_text()))
    defined = set(__import__("re").findall(r'define "([\w.]+)"', (ROOT / "alertmanager/templates/notification.tmpl").read_text()))
    defined.add("obs.grafana_url")  # links.tmpl, rendered
    assert names and names <= defined, names - defined


@pytest.mark.parametrize("team, message", [
    ({"name": "Payments!"}, "teams[0].name 'Payments!'"),
    ({"name": "ok", "slack_url": "x"}, "teams[0]: unknown field(s) slack_url"),
    ({"name": "ok", "webhook_url_file": "/etc/passwd"}, "teams[0].webhook_url_file: give a path under alertmanager/secrets/"),
])
def test_bad_team_is_named(team, message):
    with pytest.raises(alertmanager_config.AlertmanagerConfigError, match="alertmanager/teams.yml") as error:
        alertmanager_config.render(yaml.safe_load((ROOT / "alertmanager/alertmanager.yml").read_text()), {}, [team])
    assert message in str(error.value)
