"""Other hosts watched by the stack (issue 14): the registry, each host's agent bundle, the centre's side.

`obsstack hosts add NAME ADDRESS` gives a host a credential of its own (random; Prometheus
remote write and the OTLP intake log it in as user NAME) and a client certificate whose common
name is NAME (Filebeat -> Logstash). It writes:

  hosts/hosts.yml                     the registry (0600): each host's address and password hash
  hosts/ca/                           the stack's CA (src/obsstack/pki.py); its key never leaves here
  hosts/NAME/ and hosts/NAME.tar.gz   the host's agent bundle (agent/ with its .env), 0600
and renders the centre's side from the registry, never by hand:
  prometheus/generated/web.yml        the central Prometheus' logins: `prometheus` and one per host;
                                      Prometheus re-reads it on every request, so a removed host is
                                      refused at once
  prometheus/generated/rules/hosts.yml  a recording rule per expected host (HostMetricsAbsent reads it)
  logstash/generated/tls/             Logstash's certificate and key for the hosts' intake, and
                                      hosts-trust.pem: the registered hosts' own certificates, the
                                      only ones Logstash trusts (not the CA: a removed host's
                                      certificate is refused although the CA signed it); Logstash
                                      reloads it by itself (ssl.reload.automatic)
  tls-proxy/generated/otlp-hosts      the hosts' logins for the OTLP intake (Caddy basic_auth;
                                      `docker compose kill -s SIGUSR1 tls-proxy` applies it)
"""
from __future__ import annotations

import datetime
import io
import os
import re
import secrets
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from . import pki
from .agent import BUNDLE_DNS_TARGETS, BUNDLE_TARGETS, agent_config, central_web_users
from .envfile import write_private
from .folders import replace_dir

HOSTS_DIR = "hosts"
REGISTRY = "hosts/hosts.yml"
CA_DIR = "hosts/ca"
AGENT_DIR = "agent"
CENTRAL_WEB = "prometheus/generated/web.yml"
EXPECTED_RULES = "prometheus/generated/rules/hosts.yml"
LOGSTASH_TLS = "logstash/generated/tls"
OTLP_USERS = "tls-proxy/generated/otlp-hosts"
# The stack's own users of the central endpoints: no host may take one of these names.
RESERVED = frozenset({"prometheus", "alertmanager", "otlp", "jaeger", "stack-host", "localhost"})
NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Where the agent's container finds its files (agent/docker-compose.agent.yml mounts them there).
AGENT_PASSWORD_FILE = "/etc/agent/password"
# The bundle's .env setting holding it (agent/docker-compose.yml turns it into that file).
AGENT_LOGIN_SETTING = "AGENT_PASSWORD"
AGENT_CA_FILE = "/etc/agent/central-ca.crt"
AGENT_SELF = "127.0.0.1:9090"
# The recording rule that says a host is expected (prometheus/rules/hosts.yml alerts on it).
EXPECTED_RECORD = "host:obsstack_host_expected:info"
# The Logstash port for the hosts' Filebeat (TLS with client certificates).
LOGSTASH_HOSTS_PORT = 5045


class HostsError(ValueError):
    """A refused hosts operation; the message says what and how to fix it."""


@dataclass(frozen=True)
class Added:
    name: str
    bundle: Path
    archive: Path
    command: str


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise HostsError(f"host name {name!r}: use 1-63 lower-case letters, digits and '-', not starting or ending with '-'")
    if name in RESERVED:
        raise HostsError(f"host name {name!r} is one of the stack's own users ({', '.join(sorted(RESERVED))}); choose another")


def read_registry(project: Path) -> dict[str, dict[str, Any]]:
    path = project / REGISTRY
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    hosts = data.get("hosts") or {}
    if not isinstance(hosts, dict):
        raise HostsError(f"{path}: `hosts` must be a mapping of name -> details; restore it from a backup or delete it")
    return hosts


def _write_registry(project: Path, hosts: dict[str, dict[str, Any]]) -> None:
    path = project / REGISTRY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    write_private(path, "# Written by `obsstack hosts`; edit with it, not by hand.\n" + yaml.safe_dump({"hosts": hosts}, sort_keys=True))


def _write_public(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomic write readable by the containers (hashes and certificates only, never a password).
    A folder is bind-mounted, not the file: a rename is then seen inside the container."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, text)
    path.chmod(mode)


def central_web(prometheus_hash: str, hosts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not prometheus_hash:
        raise HostsError("PROMETHEUS_WEB_PASSWORD_HASH is empty in .env: run `obsstack setup` first")
    return central_web_users({name: details["password_hash"] for name, details in sorted(hosts.items())},
                             {"prometheus": prometheus_hash})


def expected_rules(hosts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One recording rule per registered host: the absence alert knows whom to expect, and a
    removed host stops being expected (no alert for a host taken away on purpose)."""
    return {"groups": [{"name": "hosts-expected", "rules": [
        {"record": EXPECTED_RECORD, "expr": "vector(1)", "labels": {"host": name}} for name in sorted(hosts)]}]}


def otlp_users(hosts: dict[str, dict[str, Any]]) -> str:
    """Caddy basic_auth lines (`name bcrypt-hash`) for the OTLP intake, imported by tls-proxy/Caddyfile."""
    return "".join(f"{name} {details['password_hash']}\n" for name, details in sorted(hosts.items()))


def render_central(project: Path, env: dict[str, str]) -> list[Path]:
    """Write the centre's side from the registry and .env; returns the files written."""
    hosts = read_registry(project)
    written: list[Path] = []

    def put(relative: str, text: str, mode: int = 0o644) -> None:
        _write_public(project / relative, text, mode)
        written.append(project / relative)

    put(CENTRAL_WEB, "# Rendered by obsstack from .env and hosts/hosts.yml: bcrypt hashes only.\n"
        + yaml.safe_dump(central_web(env.get("PROMETHEUS_WEB_PASSWORD_HASH", ""), hosts), sort_keys=False))
    put(EXPECTED_RULES, "# Rendered by obsstack from hosts/hosts.yml.\n" + yaml.safe_dump(expected_rules(hosts), sort_keys=False))
    # Never empty: a trust store without a certificate fails every handshake, and whether the input
    # even starts with one is unknown. The placeholder's key was thrown away: nobody can present it.
    put(f"{LOGSTASH_TLS}/hosts-trust.pem", pki.placeholder(project / CA_DIR)
        + "".join(details["client_certificate"] for _, details in sorted(hosts.items()) if details.get("client_certificate")))
    put(OTLP_USERS, otlp_users(hosts))
    written += _logstash_tls(project, env)
    return written


def _logstash_tls(project: Path, env: dict[str, str]) -> list[Path]:
    """Logstash's certificate for the hosts' intake, named as the hosts reach the centre
    (TLS_HOSTNAME) and as containers do (logstash); made again only when that name changes."""
    folder = project / LOGSTASH_TLS
    ca = pki.ensure_ca(project / CA_DIR)
    names = sorted({env.get("TLS_HOSTNAME") or "localhost", "logstash"})
    cert_path, key_path, ca_path = folder / "server.crt", folder / "server.key", folder / "ca.crt"
    if not (cert_path.exists() and key_path.exists() and sorted(pki.subject_alternative_names(cert_path.read_text())) == names):
        issued = pki.issue(ca, "logstash", server_names=names)
        _write_public(cert_path, issued.cert_pem)
        # Logstash runs as uid 1000, group 0 (the Elastic images): group-readable, group root where
        # we may set it; otherwise the owner is the user who runs compose (often uid 1000 too).
        _write_public(key_path, issued.key_pem, 0o640)
        try:
            os.chown(key_path, -1, 0)
        except PermissionError:
            pass
    _write_public(ca_path, (project / CA_DIR / "ca.crt").read_text())
    return [cert_path, key_path, ca_path]


def central_urls(env: dict[str, str]) -> list[str]:
    """Where agents write by default: the central Prometheus behind the `tls` profile's proxy, and
    with the HA overlay in COMPOSE_FILE its second replica too (each replica has every host)."""
    hostname = env.get("TLS_HOSTNAME") or "localhost"
    urls = [f"https://{hostname}:{env.get('PROMETHEUS_TLS_PORT') or '9443'}"]
    if "docker-compose.ha.yml" in env.get("COMPOSE_FILE", ""):
        urls.append(f"https://{hostname}:{env.get('PROMETHEUS_B_TLS_PORT') or '9444'}")
    return urls


def bundle_env(name: str, credential: str, env: dict[str, str], client: pki.Issued, stack_ca_pem: str, central_ca_pem: str) -> str:
    hostname = env.get("TLS_HOSTNAME") or "localhost"
    otlp_port = env.get("OTLP_HTTP_TLS_PORT") or "14318"
    lines = {
        "HOST_NAME": name,
        "LOGSTASH_HOSTS": f"{hostname}:{env.get('LOGSTASH_HOSTS_PORT') or LOGSTASH_HOSTS_PORT}",
        # For the host's own applications: their traces go to the central OTLP intake as this host.
        "OTLP_ENDPOINT": f"https://{hostname}:{otlp_port}",
    }
    lines[AGENT_LOGIN_SETTING] = credential  # the agent's login at the centre (remote write, OTLP)
    text = "# This host's agent settings, written by `obsstack hosts add` at the centre. Keep private (0600).\n"
    text += "".join(f"{key}={value}\n" for key, value in lines.items())
    pems = {"CENTRAL_CA_PEM": central_ca_pem, "STACK_CA_PEM": stack_ca_pem, "FILEBEAT_CERT_PEM": client.cert_pem,
            "FILEBEAT_KEY_PEM": client.key_pem}
    return text + "".join(f'{key}="{value.strip()}"\n' for key, value in pems.items())


def add(project: Path, env: dict[str, str], name: str, address: str, urls: list[str] | None = None,
        central_ca_pem: str = "") -> Added:
    check_name(name)
    hosts = read_registry(project)
    if name in hosts:
        raise HostsError(f"host {name!r} is already added (at {hosts[name]['address']}); `obsstack hosts remove {name}` first")
    if not address.strip():
        raise HostsError("the host's address is empty: give the name or IP address you reach it at (for ssh)")
    password = secrets.token_urlsafe(24)
    ca = pki.ensure_ca(project / CA_DIR)
    client = pki.issue(ca, name, client=True)
    writes_to = urls or central_urls(env)
    bundle = project / HOSTS_DIR / name
    staging = project / HOSTS_DIR / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(project / AGENT_DIR, staging)
        staging.chmod(0o700)
        config = agent_config(name, writes_to, AGENT_PASSWORD_FILE, BUNDLE_TARGETS,
                              ca_file=AGENT_CA_FILE if central_ca_pem else None, dns_targets=BUNDLE_DNS_TARGETS,
                              self_address=AGENT_SELF)
        (staging / "prometheus.yml").write_text("# Rendered by `obsstack hosts add`.\n" + yaml.safe_dump(config, sort_keys=False))
        write_private(staging / ".env", bundle_env(name, password, env, client, (project / CA_DIR / "ca.crt").read_text(),
                                                   central_ca_pem or placeholder_ca()))
        archive = project / HOSTS_DIR / f"{name}.tar.gz"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(staging, arcname=".")
        partial = archive.with_name(f".{archive.name}.partial")
        partial.touch(mode=0o600)
        partial.write_bytes(buffer.getvalue())
        os.replace(partial, archive)
        replace_dir(staging, bundle)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    hosts[name] = {"address": address, "password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode(),
                   "added": _now(), "writes_to": writes_to, "client_certificate": client.cert_pem}
    _write_registry(project, hosts)
    render_central(project, env)
    command = (f"ssh {address} 'mkdir -p obsstack-agent && tar -xzf - -C obsstack-agent && cd obsstack-agent"
               f" && docker compose up -d --wait' < {archive}")
    return Added(name, bundle, archive, command)


def placeholder_ca() -> str:
    """No CA of the centre's own given (TLS_MODE=files with a publicly trusted certificate): the
    agent uses the system's roots; the file is mounted but unread."""
    return "# the central certificate is publicly trusted: no CA of its own"


def remove(project: Path, env: dict[str, str], name: str) -> None:
    """Forget NAME: its logins go from the centre's files at once (Prometheus refuses it on its
    next write; Logstash at its next handshake, within seconds; the OTLP proxy once signalled) and
    its bundle is deleted."""
    hosts = read_registry(project)
    if name not in hosts:
        known = ", ".join(sorted(hosts)) or "none"
        raise HostsError(f"no host {name!r} (added: {known})")
    del hosts[name]
    _write_registry(project, hosts)
    render_central(project, env)
    shutil.rmtree(project / HOSTS_DIR / name, ignore_errors=True)
    (project / HOSTS_DIR / f"{name}.tar.gz").unlink(missing_ok=True)
