"""Render the project's own configs for the native stack: compose service names become loopback
addresses, container paths become state-directory paths, and --fast shortens every interval.

There is no second copy of any config: these functions take the shipped files and return
rendered ones, and they read command-line flags from docker-compose.yml itself.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

# Container paths in the shipped configs -> what replaces them natively (the caller provides files).
WEB_DIR = "/etc/web/"
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
FAST_DIVISOR = 60  # --fast: a rule's `for: 2m` becomes 2s
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def parse_duration(text: str) -> float:
    match = DURATION.match(str(text))
    if not match or not any(match.groups()):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    hours, minutes, seconds, millis = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def format_duration(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


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
                      targets_dir: Path, fast: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Returns the rendered config and {job: reason} for the jobs left out."""
    config = copy.deepcopy(config)
    skipped: dict[str, str] = {}
    if fast:
        # 3s, not 1s: postgres_exporter needs ~2s to report pg_up 0 while its database is down.
        config["global"].update(scrape_interval=f"{FAST_SCRAPE_S}s", scrape_timeout=f"{FAST_SCRAPE_S}s",
                                evaluation_interval="1s")
    config["rule_files"] = [str(rules_dir / Path(pattern).name) for pattern in config.get("rule_files", [])]

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
        if fast:
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


RANGE = re.compile(r"\[(\d+(?:ms|[smhdwy]))(?::(\d+(?:ms|[smhdwy]))?)?\]")
FAST_SCRAPE_S = 3
FAST_MIN_RANGE_S = 4.0 * FAST_SCRAPE_S  # rate() still sees several samples


def scale_ranges(expr: str) -> str:
    """`rate(x[5m])` -> `rate(x[5s])`, subqueries alike: time in a fast test runs 60 times faster."""

    def scale(match: re.Match[str]) -> str:
        window = format_duration(max(FAST_MIN_RANGE_S, to_seconds(match[1]) / FAST_DIVISOR))
        if match[0].count(":") == 0:
            return f"[{window}]"
        step = format_duration(to_seconds(match[2]) / FAST_DIVISOR) if match[2] else ""
        return f"[{window}:{step}]"

    return RANGE.sub(scale, expr)


def to_seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    number = re.match(r"\d+", duration)[0]
    return int(number) * units[duration[len(number):]]


ABSENT_JOB = re.compile(r'^absent\(up\{job="([^"]+)"\}\)$')


def drop_absent_jobs(expr: str, jobs: set[str]) -> str | None:
    """In a chain of `absent(up{job="X"}) or ...`, leave out the jobs the native stack does not run."""
    terms = re.split(r"\s+or\s+", expr.strip())
    matches = [ABSENT_JOB.match(term) for term in terms]
    if not all(matches):
        return expr
    kept = [term for term, match in zip(terms, matches) if match[1] not in jobs]
    return " or ".join(kept) if kept else None


def render_rules(rules: dict[str, Any], fast: bool, dropped_jobs: set[str] = frozenset()) -> dict[str, Any]:
    """--fast runs rules 60 times faster: every `for`, `keep_firing_for` and range window / 60.
    Absent-target alerts leave out the jobs the native stack does not run."""
    rules = copy.deepcopy(rules)
    for group in rules.get("groups", []):
        kept_rules = []
        for rule in group["rules"]:
            expr = drop_absent_jobs(str(rule["expr"]), set(dropped_jobs))
            if expr is not None:
                kept_rules.append({**rule, "expr": expr})
        group["rules"] = kept_rules
    if fast:
        for group in rules.get("groups", []):
            group.pop("interval", None)
            for rule in group["rules"]:
                rule["expr"] = scale_ranges(str(rule["expr"]))
                for key in ("for", "keep_firing_for"):
                    if key in rule:
                        rule[key] = format_duration(parse_duration(rule[key]) / FAST_DIVISOR)
    return rules


def render_alertmanager(config: dict[str, Any], webhook_url: str, *, templates_dir: Path, links_template: Path,
                        fast: bool) -> dict[str, Any]:
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
    if fast:
        def shorten(route: dict[str, Any]) -> None:
            for key in ("group_wait", "group_interval"):
                if key in route:
                    route[key] = "1s"
            if "repeat_interval" in route:
                # not below 10s: the Watchdog would otherwise repeat every second
                route["repeat_interval"] = format_duration(max(10.0, parse_duration(route["repeat_interval"]) / FAST_DIVISOR))
            for child in route.get("routes", []):
                shorten(child)

        shorten(config["route"])
    return config


def web_config(user: str, bcrypt_hash: str) -> dict[str, Any]:
    return {"basic_auth_users": {user: bcrypt_hash}}
