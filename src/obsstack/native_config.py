"""Render the project's own configs for the native stack: compose service names become loopback
addresses, container paths become state-directory paths, and a time scale (obsstack.timescale)
shortens every interval.

There is no second copy of any config: these functions take the shipped files and return
rendered ones, and they read command-line flags from docker-compose.yml itself.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from .durations import DURATION_TEXT, format_duration
from .timescale import TimeScale

# Container paths in the shipped configs -> what replaces them natively (the caller provides files).
WEB_DIR = "/etc/web/"
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def compose_command(compose_file: Path, service: str, env: dict[str, str] | None = None) -> list[str]:
    """A service's command from docker-compose.yml, `${VAR:-default}` resolved from ``env`` or the default."""
    env = env or {}
    command = yaml.safe_load(compose_file.read_text())["services"][service]["command"]
    return [INTERPOLATION.sub(lambda m: env.get(m[1]) or (m[2] or ""), str(arg)) for arg in command]


def replace_flags(flags: list[str], replacements: dict[str, str | None]) -> list[str]:
    """Swap the values of --flag=value entries; None drops the flag."""
    out = []
    for flag in flags:
        name = flag.split("=", 1)[0]
        if name in replacements:
            if replacements[name] is not None:
                out.append(f"{name}={replacements[name]}")
        else:
            out.append(flag)
    missing = set(replacements) - {f.split("=", 1)[0] for f in flags}
    out += [f"{name}={value}" for name, value in replacements.items() if name in missing and value is not None]
    return out


HOST_PORT = re.compile(r"(?<![\w.-])([a-z][a-z0-9-]*):(\d+)")


def map_addresses(text: str, addresses: dict[str, str]) -> str | None:
    """Every compose `service:port` in ``text`` (a target, a URL, a relabel replacement) -> its
    native address; None when one of them does not run natively."""
    unmapped = [m[0] for m in HOST_PORT.finditer(text) if m[0] not in addresses]
    if unmapped:
        return None
    return HOST_PORT.sub(lambda m: addresses[m[0]], text)


def render_prometheus(config: dict[str, Any], addresses: dict[str, str], *, web_dir: Path, rules_dir: Path,
                      targets_dir: Path, scale: TimeScale) -> tuple[dict[str, Any], dict[str, str]]:
    """Returns the rendered config and {job: reason} for the jobs left out."""
    config = copy.deepcopy(config)
    skipped: dict[str, str] = {}
    if scale.scrape_s is not None:
        config["global"].update(scrape_interval=format_duration(scale.scrape_s),
                                scrape_timeout=format_duration(scale.scrape_s))
    if scale.evaluation_s is not None:
        config["global"]["evaluation_interval"] = format_duration(scale.evaluation_s)
    # generated/: the other hosts' files (obsstack hosts), which the native stack has none of.
    config["rule_files"] = [str(rules_dir / Path(pattern).name) for pattern in config.get("rule_files", [])
                            if not pattern.startswith("generated/")]

    def rewrite_auth(block: dict[str, Any]) -> None:
        auth = block.get("basic_auth", {})
        if str(auth.get("password_file", "")).startswith(WEB_DIR):
            auth["password_file"] = str(web_dir / auth["password_file"][len(WEB_DIR):])

    for alertmanager in config.get("alerting", {}).get("alertmanagers", []):
        rewrite_auth(alertmanager)
        for static in alertmanager.get("static_configs", []):
            static["targets"] = [addresses[t] for t in static["targets"] if t in addresses]

    jobs = []
    for job in config.get("scrape_configs", []):
        rewrite_auth(job)
        if scale.scrape_s is not None:
            job.pop("scrape_interval", None)
            job.pop("scrape_timeout", None)
        statics = []
        for static in job.pop("static_configs", []):
            mapped = [m for m in (map_addresses(t, addresses) for t in static["targets"]) if m is not None]
            if mapped:
                statics.append({**static, "targets": mapped})
        relabels = []
        for relabel in job.get("relabel_configs", []):
            replacement = relabel.get("replacement")
            if isinstance(replacement, str) and HOST_PORT.search(replacement):
                relabel = {**relabel, "replacement": map_addresses(replacement, addresses) or replacement}
            relabels.append(relabel)
        if relabels:
            job["relabel_configs"] = relabels
        for dns in job.pop("dns_sd_configs", []):
            mapped = [addresses[f"{name}:{dns['port']}"] for name in dns["names"] if f"{name}:{dns['port']}" in addresses]
            if mapped:
                statics.append({"targets": mapped})
        for file_sd in job.get("file_sd_configs", []):
            file_sd["files"] = [str(targets_dir / Path(pattern).name) for pattern in file_sd["files"]]
        if statics:
            job["static_configs"] = statics
        elif not job.get("file_sd_configs"):
            skipped[job["job_name"]] = "its service does not run in the native stack"
            continue
        jobs.append(job)
    config["scrape_configs"] = jobs
    return config, skipped


RANGE = re.compile(rf"\[({DURATION_TEXT})(?::({DURATION_TEXT})?)?\]")


def scale_ranges(expr: str, scale: TimeScale) -> str:
    """`rate(x[5m])` -> `rate(x[12s])` at 60 times faster (never below the scale's minimum range), subqueries alike."""

    def scaled(match: re.Match[str]) -> str:
        window = scale.window(match[1])
        if match[0].count(":") == 0:
            return f"[{window}]"
        step = scale.duration(match[2]) if match[2] else ""
        return f"[{window}:{step}]"

    return RANGE.sub(scaled, expr)


ABSENT_JOB = re.compile(r'^absent\(up\{job="([^"]+)"\}\)$')


def drop_absent_jobs(expr: str, jobs: set[str]) -> str | None:
    """In a chain of `absent(up{job="X"}) or ...`, leave out the jobs the native stack does not run."""
    terms = re.split(r"\s+or\s+", expr.strip())
    matches = [ABSENT_JOB.match(term) for term in terms]
    if not all(matches):
        return expr
    kept = [term for term, match in zip(terms, matches) if match[1] not in jobs]
    return " or ".join(kept) if kept else None


def render_rules(rules: dict[str, Any], scale: TimeScale, dropped_jobs: set[str] = frozenset()) -> dict[str, Any]:
    """In a scaled time, every `for`, `keep_firing_for` and range window is divided alike.
    Absent-target alerts leave out the jobs the native stack does not run."""
    rules = copy.deepcopy(rules)
    for group in rules.get("groups", []):
        kept_rules = []
        for rule in group["rules"]:
            expr = drop_absent_jobs(str(rule["expr"]), set(dropped_jobs))
            if expr is not None:
                kept_rules.append({**rule, "expr": expr})
        group["rules"] = kept_rules
    if scale.scaled:
        for group in rules.get("groups", []):
            group.pop("interval", None)
            for rule in group["rules"]:
                rule["expr"] = scale_ranges(str(rule["expr"]), scale)
                for key in ("for", "keep_firing_for"):
                    if key in rule:
                        rule[key] = scale.duration(rule[key])
    return rules


def render_alertmanager(config: dict[str, Any], webhook_url: str, *, templates_dir: Path, links_template: Path,
                        scale: TimeScale) -> dict[str, Any]:
    """From the config setup renders (alertmanager_config.render): every receiver delivers to the
    webhook sink instead (its name in the path), so tests see each notification."""
    config = copy.deepcopy(config)
    config.pop("global", None)  # SMTP settings: no e-mail natively
    config["global"] = {"resolve_timeout": "5m"}
    for receiver in config.get("receivers", []):
        for key in [k for k in receiver if k.endswith("_configs")]:
            del receiver[key]
        receiver["webhook_configs"] = [{"url": f"{webhook_url}/{receiver['name']}", "send_resolved": True}]
    config["templates"] = [str(links_template) if pattern == "links.tmpl" else str(templates_dir / Path(pattern).name)
                           for pattern in config.get("templates", [])]
    if scale.scaled:
        def shorten(route: dict[str, Any]) -> None:
            for key in ("group_wait", "group_interval"):
                if key in route and scale.grouping_s is not None:
                    route[key] = format_duration(scale.grouping_s)
            if "repeat_interval" in route:
                route["repeat_interval"] = scale.duration(route["repeat_interval"], scale.min_repeat_s)
            for child in route.get("routes", []):
                shorten(child)

        shorten(config["route"])
    return config


def web_config(user: str, bcrypt_hash: str) -> dict[str, Any]:
    return {"basic_auth_users": {user: bcrypt_hash}}
