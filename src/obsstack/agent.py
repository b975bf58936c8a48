"""How metrics travel from another host to the centre (issue 14): pushed, not pulled.

Each host runs Prometheus in agent mode: it scrapes that host's exporters on the host itself and
remote-writes to the central Prometheus (`--web.enable-remote-write-receiver`), logging in with a
credential of its own. Pushing, rather than the centre pulling each exporter:
  - works behind NAT and firewalls that only let connections out (GPU nodes often sit behind one);
  - keeps a write-ahead log on the host through a network outage and sends it when the link comes
    back, so an outage is late data, not a gap (a pulling centre has a gap the length of the outage);
  - needs no exporter to listen beyond the host's loopback, so none needs TLS or a login of its own;
  - one credential per host at the centre's web config: removing it refuses that host at once
    (Prometheus re-reads its web config on every request). A refusal is a 401, which remote write
    does not retry: the agent counts the dropped samples (`prometheus_remote_storage_samples_failed_total`)
    and logs "non-recoverable error"; the centre, which counts nothing it refuses before its handlers
    (measured on 3.5.3), sees the host's series stop, which its absence alert reports.
Every series gets the host's name as the `host` label (the agent's external label).

This module renders both sides' configs as data; the `hosts` command and the agent bundle use it.
"""
from __future__ import annotations

from typing import Any

# The remote-write path of the central Prometheus.
WRITE_PATH = "/api/v1/write"


# What the agent bundle (agent/docker-compose.agent.yml) scrapes on its host: job -> service:port,
# the jobs of the same names at the centre, so every rule and dashboard applies to every host.
BUNDLE_TARGETS: dict[str, list[str]] = {
    "node": ["node-exporter:9100"],
    "cadvisor": ["cadvisor:8080"],
    "gpu-exporter": ["gpu-exporter:9835"],
}
# Found by DNS only where the host runs the GPU overlay (as at the centre).
BUNDLE_DNS_TARGETS: dict[str, tuple[str, int]] = {"dcgm": ("dcgm-exporter", 9400)}
# The agent's own metrics: its remote-write queue (failed samples, lag) reaches the centre too.
AGENT_JOB = "prometheus-agent"


def agent_config(host: str, central_urls: str | list[str], password_file: str, targets: dict[str, list[str]],
                 scrape_interval: str = "15s", ca_file: str | None = None,
                 dns_targets: dict[str, tuple[str, int]] | None = None, self_address: str | None = None) -> dict[str, Any]:
    """The agent's prometheus.yml: scrape TARGETS (job -> addresses) on the host, write to every
    central URL (one per Prometheus replica) as user HOST with the password in PASSWORD_FILE.

    Every target's `instance` is the host's name: the agents scrape the same service names on every
    host, so the address would not tell hosts apart in legends and alerts; `host` is the label to
    join on."""
    urls = [central_urls] if isinstance(central_urls, str) else list(central_urls)
    if not urls:
        raise ValueError("an agent needs at least one central URL to write to")
    relabel = [{"target_label": "instance", "replacement": host}]
    jobs: list[dict[str, Any]] = [{"job_name": job, "static_configs": [{"targets": addresses}], "relabel_configs": relabel}
                                  for job, addresses in sorted(targets.items())]
    jobs += [{"job_name": job, "dns_sd_configs": [{"names": [name], "type": "A", "port": port}], "relabel_configs": relabel}
             for job, (name, port) in sorted((dns_targets or {}).items())]
    if self_address:
        jobs.append({"job_name": AGENT_JOB, "static_configs": [{"targets": [self_address]}], "relabel_configs": relabel})
    writes: list[dict[str, Any]] = []
    for number, url in enumerate(urls, start=1):
        write: dict[str, Any] = {
            "url": url.rstrip("/") + WRITE_PATH,
            "name": "central" if len(urls) == 1 else f"central-{number}",
            "basic_auth": {"username": host, "password_file": password_file},
            # Retry with backoff up to 30 s between tries; the WAL holds what is not sent yet.
            "queue_config": {"max_backoff": "30s"},
        }
        if ca_file:
            write["tls_config"] = {"ca_file": ca_file}
        writes.append(write)
    return {
        "global": {"scrape_interval": scrape_interval, "external_labels": {"host": host}},
        "scrape_configs": jobs,
        "remote_write": writes,
    }


def central_web_users(hosts: dict[str, str], others: dict[str, str] | None = None) -> dict[str, Any]:
    """The centre's web config: one basic-auth user per host (NAME -> bcrypt hash), plus OTHERS
    (the stack's own `prometheus` user). A host left out is refused from the next request on."""
    overlap = set(hosts) & set(others or {})
    if overlap:
        raise ValueError(f"host names {sorted(overlap)} clash with the stack's own users; choose other names")
    return {"basic_auth_users": {**(others or {}), **hosts}}
