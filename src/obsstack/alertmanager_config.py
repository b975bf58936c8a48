"""Render alertmanager/alertmanager.yml (the one source) with .env and teams.yml into the config
Alertmanager loads. See the header of alertmanager/alertmanager.yml for the rules."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ENABLED_BY = "x-enabled-by"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Global settings that only make sense with e-mail configured, and what enables each.
GLOBAL_ENABLED_BY = {
    "smtp_smarthost": "ALERT_EMAIL_TO", "smtp_from": "ALERT_EMAIL_TO", "smtp_require_tls": "ALERT_EMAIL_TO",
    "smtp_auth_username": "ALERT_SMTP_USERNAME", "smtp_auth_password_file": "ALERT_SMTP_PASSWORD",
}
TEAM_INTEGRATIONS = {
    "slack_webhook_url_file": ("slack_configs", "api_url_file"),
    "pagerduty_routing_key_file": ("pagerduty_configs", "routing_key_file"),
    "webhook_url_file": ("webhook_configs", "url_file"),
}
TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class AlertmanagerConfigError(ValueError):
    """A bad teams.yml or a missing setting; the message names the file and field."""


def substitute(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: env.get(m[1], ""), value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return value


def render(source: dict[str, Any], env: dict[str, str], teams: list[dict[str, Any]], *,
           links_template: str = "links.tmpl", team_secrets_dir: str = "/etc/alertmanager/secrets") -> dict[str, Any]:
    # A JSON round trip: a plain tree without the YAML anchors' shared objects.
    config = json.loads(json.dumps(source))
    for key, variable in GLOBAL_ENABLED_BY.items():
        if not env.get(variable):
            config.get("global", {}).pop(key, None)
    for receiver in config["receivers"]:
        for kind in [k for k in receiver if k.endswith("_configs")]:
            kept = []
            for integration in receiver[kind]:
                variable = integration.pop(ENABLED_BY, None)
                if variable is None or env.get(variable):
                    kept.append(integration)
            if kept:
                receiver[kind] = kept
            else:
                del receiver[kind]
    for index, team in enumerate(teams):
        add_team(config, team, index, team_secrets_dir)
    config["templates"] = [links_template if t == "links.tmpl" else t for t in config.get("templates", [])]
    return substitute(config, env)


def add_team(config: dict[str, Any], team: dict[str, Any], index: int, secrets_dir: str) -> None:
    where = f"alertmanager/teams.yml: teams[{index}]"
    name = team.get("name", "")
    if not isinstance(name, str) or not TEAM_NAME.match(name):
        raise AlertmanagerConfigError(f"{where}.name {name!r}: use lower-case letters, digits, - and _")
    unknown = set(team) - {"name"} - set(TEAM_INTEGRATIONS)
    if unknown:
        raise AlertmanagerConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                                      f"allowed: name, {', '.join(TEAM_INTEGRATIONS)}")
    receiver: dict[str, Any] = {"name": f"team-{name}"}
    for field, (kind, key) in TEAM_INTEGRATIONS.items():
        if field in team:
            path = str(team[field])
            if path.startswith("/") or ".." in Path(path).parts:
                raise AlertmanagerConfigError(f"{where}.{field}: give a path under alertmanager/secrets/, like secrets/{name}-key")
            integration: dict[str, Any] = {key: f"{secrets_dir}/{Path(path).name}"}
            if kind != "pagerduty_configs":
                integration["send_resolved"] = True
            if kind == "slack_configs":
                integration.update(title='{{ template "obs.title" . }}', text='{{ template "obs.text" . }}')
            receiver[kind] = [integration]
    if any(r["name"] == receiver["name"] for r in config["receivers"]):
        raise AlertmanagerConfigError(f"{where}: team {name!r} is listed twice")
    config["receivers"].append(receiver)
    config["route"]["routes"].append({"receiver": receiver["name"], "matchers": [f"team = {name}"]})


def read_teams(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AlertmanagerConfigError(f"{path}:{mark.line + 1 if mark else '?'}: {exc}") from exc
    teams = data.get("teams") or []
    if not isinstance(teams, list):
        raise AlertmanagerConfigError(f"{path}: `teams` must be a list")
    return teams


def links_template(grafana_root_url: str) -> str:
    """Alertmanager's templates cannot read the environment: the Grafana address is rendered in."""
    url = grafana_root_url.rstrip("/") or "http://localhost:3000"
    return ("{{/* Rendered by scripts/setup.py from GRAFANA_ROOT_URL. */}}\n"
            f'{{{{ define "obs.grafana_url" }}}}{url}{{{{ end }}}}\n')


def write(root: Path, env: dict[str, str], out_dir: Path | None = None) -> Path:
    """Render into alertmanager/generated/ (or out_dir); returns the config's path."""
    out_dir = out_dir or root / "alertmanager/generated"
    out_dir.mkdir(parents=True, exist_ok=True)
    source = yaml.safe_load((root / "alertmanager/alertmanager.yml").read_text())
    config = render(source, env, read_teams(root / "alertmanager/teams.yml"))
    target = out_dir / "alertmanager.yml"
    tmp = target.with_suffix(".tmp")
    tmp.write_text("# Rendered by scripts/setup.py from alertmanager/alertmanager.yml and .env: edit those, not this.\n"
                   + yaml.safe_dump(config, sort_keys=False))
    tmp.replace(target)
    (out_dir / "links.tmpl").write_text(links_template(env.get("GRAFANA_ROOT_URL", "")))
    return target
