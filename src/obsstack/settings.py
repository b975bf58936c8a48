"""The values of .env checked before setup writes anything: each wrong one is refused naming the
setting and the fix. What Compose alone would accept but a component would refuse at start (a
retention Elasticsearch cannot parse, a heap above its container's memory limit, a profile no
service has) is caught here, on the user's machine, not in a crash loop."""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from .compose import parse_bytes
from .durations import parse_duration
from .report import Result, Status

# Elasticsearch's time units (TimeValue.parseTimeValue): no w or y, unlike Prometheus.
ES_DURATION = re.compile(r"^\d+(d|h|m|s|ms)$")
# Prometheus' --storage.tsdb.retention.size units.
PROMETHEUS_SIZE = re.compile(r"^\d+(B|KB|MB|GB|TB|PB|EB)$")
# A JVM heap as -Xmx takes it.
HEAP = re.compile(r"^(\d+)([mMgG])$")
# The least heap each JVM runs with at all (its vendor's documented minimum for a working node).
MIN_HEAP_MIB = {"ELASTICSEARCH_HEAP": 512, "LOGSTASH_HEAP": 256}
HEAP_OF_SERVICE = {"ELASTICSEARCH_HEAP": "elasticsearch", "LOGSTASH_HEAP": "logstash"}
# The heap may take this share of the container's memory limit; the rest is the JVM's own and the
# page cache (Elastic's guidance: heap at most half of the memory; 3/4 leaves no margin below).
HEAP_SHARE = 0.75
RECEIVER_URLS = ("ALERT_SLACK_WEBHOOK_URL", "ALERT_WEBHOOK_URL", "ALERT_DEADMANSSWITCH_URL")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


MIB = 1024 * 1024


def mebibytes(size: str) -> int:
    return parse_bytes(size) // MIB


def known_profiles(compose_file: Path) -> set[str]:
    """Every profile a service of the compose file belongs to: the one list, written there."""
    services = yaml.safe_load(compose_file.read_text())["services"]
    return {profile for service in services.values() for profile in service.get("profiles", [])}


def memory_limit_mib(compose_file: Path, service: str) -> int:
    limits = yaml.safe_load(compose_file.read_text())["services"][service]["deploy"]["resources"]["limits"]
    return mebibytes(str(limits["memory"]))


def check(values: dict[str, str], project_dir: Path, insecure_bind: bool = False) -> list[Result]:
    """FAIL results for every wrong value (empty when all are right)."""
    compose_file = project_dir / "docker-compose.yml"
    problems: list[Result] = []

    def refuse(setting: str, detail: str, fix: str) -> None:
        problems.append(Result(f".env {setting}", Status.FAIL, f"{setting}={values.get(setting, '')!r}: {detail}", fix))

    profiles = [p.strip() for p in values.get("COMPOSE_PROFILES", "").split(",") if p.strip()]
    known = known_profiles(compose_file)
    for profile in profiles:
        if profile not in known:
            refuse("COMPOSE_PROFILES", f"no service has the profile {profile!r}",
                   f"use some of: {', '.join(sorted(known))} (comma-separated)")

    for setting in ("BIND_ADDRESS", "TLS_BIND_ADDRESS"):
        address = values.get(setting, "127.0.0.1")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            refuse(setting, "not an IP address", "an address of this machine, e.g. 127.0.0.1 or 0.0.0.0")
    bind = values.get("BIND_ADDRESS", "127.0.0.1")
    if bind not in LOOPBACK and "tls" not in profiles and not insecure_bind and not any(p.check == ".env BIND_ADDRESS" for p in problems):
        refuse("BIND_ADDRESS", "opens the plain HTTP ports to the network: every login would cross it in clear "
               "text, and the Jaeger UI has no login at all",
               "keep BIND_ADDRESS=127.0.0.1, add `tls` to COMPOSE_PROFILES and set TLS_BIND_ADDRESS=0.0.0.0 "
               "(HTTPS with logins); or, behind a network you trust, re-run setup with --insecure-bind")

    mode = values.get("TLS_MODE", "internal")
    if mode not in ("internal", "files"):
        refuse("TLS_MODE", "must be internal or files", "internal (a local CA) or files (TLS_CERT_FILE, TLS_KEY_FILE)")
    elif mode == "files" and "tls" in profiles:
        for setting in ("TLS_CERT_FILE", "TLS_KEY_FILE"):
            path = values.get(setting, "")
            if not path or not (project_dir / path).is_file():
                refuse(setting, "no such file", "the PEM file's path (absolute, or relative to the stack's folder)")

    for setting, value in values.items():
        if setting.endswith("_PORT") and value:
            if not value.isdigit() or not 1 <= int(value) <= 65535:
                refuse(setting, "not a port number", "a number from 1 to 65535")

    for setting in RECEIVER_URLS:
        url = values.get(setting, "")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                refuse(setting, "not an http(s) URL", "the full URL the receiver gave you, e.g. https://hooks.slack.com/services/...")

    # Compose writes redis_exporter's password file as JSON from these two values, unescaped.
    for setting in ("MONITORED_REDIS_PASSWORD", "MONITORED_REDIS_ADDR"):
        if any(char in values.get(setting, "") for char in '"\\'):
            refuse(setting, "holds a \" or a \\, which the exporter's JSON password file cannot carry",
                   "use a password without those two characters")

    # VictoriaMetrics' -retentionPeriod (v1.145.0 -help): a number with h, d, w, M or y (a bare number
    # is months), at least 24 hours; anything else stops it at start.
    retention = values.get("VM_RETENTION_PERIOD", "1y")
    match = re.fullmatch(r"(\d+)([hdwMy]?)", retention)
    hours = int(match[1]) * {"h": 1, "d": 24, "w": 168, "M": 744, "y": 8760, "": 744}[match[2]] if match else 0
    if hours < 24:
        refuse("VM_RETENTION_PERIOD", "not a VictoriaMetrics retention of at least 24h", "e.g. 90d, 12w, 6M or 1y")

    try:
        parse_duration(values.get("PROMETHEUS_RETENTION_TIME", "31d"))
    except ValueError:
        refuse("PROMETHEUS_RETENTION_TIME", "not a Prometheus duration", "e.g. 31d, 12w or 1y")
    if not PROMETHEUS_SIZE.match(values.get("PROMETHEUS_RETENTION_SIZE", "10GB")):
        refuse("PROMETHEUS_RETENTION_SIZE", "not a size Prometheus reads", "a number and a unit: B, KB, MB, GB or TB, e.g. 10GB")
    for setting, default in (("LOGS_RETENTION", "14d"), ("TRACES_RETENTION", "7d")):
        if not ES_DURATION.match(values.get(setting, default)):
            refuse(setting, "not a duration Elasticsearch reads (it has no w or y)", "a number and one of d, h, m, s, e.g. 14d")

    for setting, service in HEAP_OF_SERVICE.items():
        heap = values.get(setting, "")
        match = HEAP.match(heap)
        if not match:
            refuse(setting, "not a JVM heap size", "a number and m or g, e.g. 1g or 512m")
            continue
        heap_mib = mebibytes(heap)
        limit = memory_limit_mib(compose_file, service)
        if heap_mib < MIN_HEAP_MIB[setting]:
            refuse(setting, f"below the {MIN_HEAP_MIB[setting]}m {service} needs to run", f"at least {MIN_HEAP_MIB[setting]}m")
        elif heap_mib > limit * HEAP_SHARE:
            refuse(setting, f"above {int(HEAP_SHARE * 100)}% of {service}'s memory limit ({limit}m in docker-compose.yml): "
                   "the container would be killed for memory",
                   f"at most {int(limit * HEAP_SHARE)}m, or raise {service}'s deploy.resources.limits.memory first")
    return problems


def port_settings(values: dict[str, str]) -> dict[int, list[str]]:
    """Port number -> the .env settings that publish it, to name them when one is taken."""
    named: dict[int, list[str]] = {}
    for setting, value in values.items():
        if setting.endswith("_PORT") and value.isdigit():
            named.setdefault(int(value), []).append(setting)
    return named
