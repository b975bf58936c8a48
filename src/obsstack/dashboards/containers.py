"""Containers (uid containers): Each Compose service's containers seen by cAdvisor: memory against its limit,
CPU, throttling, restarts."""
from __future__ import annotations

from typing import Any

from .builder import RUNBOOKS, Panel, alert_threshold, dashboard, variable
from .selectors import COMPOSE_CONTAINERS, COMPOSE_SERVICE


def build() -> dict[str, Any]:
    panels = [
        Panel("Memory use vs limit", "Working set of each Compose service's container as a share of its memory "
              "limit (containers without a limit left out); alert ContainerMemoryNearLimit above 90%.",
              [(f"max by (host, {COMPOSE_SERVICE}) (container_memory_working_set_bytes{{{COMPOSE_CONTAINERS}}} / (container_spec_memory_limit_bytes{{{COMPOSE_CONTAINERS}}} > 0))",
                f"{{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}")], "percentunit", thresholds=[(alert_threshold("ContainerMemoryNearLimit"), "red")]),
        Panel("Memory working set", "Memory each service's containers use (working set: what the OOM killer counts).",
              [(f"sum by (host, {COMPOSE_SERVICE}) (container_memory_working_set_bytes{{{COMPOSE_CONTAINERS}}})", f"{{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}")], "bytes"),
        Panel("CPU", "CPU cores each service's containers use.",
              [(f"sum by (host, {COMPOSE_SERVICE}) (rate(container_cpu_usage_seconds_total{{{COMPOSE_CONTAINERS}}}[$__rate_interval]))", f"{{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}")],
              "short"),
        Panel("CPU throttling", "Share of CFS periods in which the container was throttled at its CPU limit; alert "
              "ContainerCpuThrottlingHigh (info) above 25%.",
              [(f"max by (host, {COMPOSE_SERVICE}) (rate(container_cpu_cfs_throttled_periods_total{{{COMPOSE_CONTAINERS}}}[$__rate_interval]) / "
                f"(rate(container_cpu_cfs_periods_total{{{COMPOSE_CONTAINERS}}}[$__rate_interval]) > 0))", f"{{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}")],
              "percentunit", thresholds=[(alert_threshold("ContainerCpuThrottlingHigh"), "orange")]),
        Panel("Restarts", "Container starts per service in the interval (alert ContainerRestarting).",
              [(f"sum by (host, {COMPOSE_SERVICE}) (changes(container_start_time_seconds{{{COMPOSE_CONTAINERS}}}[$__interval]))", f"{{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}")],
              "short", thresholds=[(1.0, "red")]),
        Panel("Network traffic", "Bytes received and sent per second by each service's containers.",
              [(f"sum by (host, {COMPOSE_SERVICE}) (rate(container_network_receive_bytes_total{{{COMPOSE_CONTAINERS}}}[$__rate_interval]))", f"in {{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}"),
               (f"sum by (host, {COMPOSE_SERVICE}) (rate(container_network_transmit_bytes_total{{{COMPOSE_CONTAINERS}}}[$__rate_interval]))", f"out {{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}")],
              "Bps"),
        Panel("Last seen", "Seconds since cAdvisor last saw each service's container (alert ContainerKilled above 60 s).",
              [(f"time() - max by (host, {COMPOSE_SERVICE}) (container_last_seen{{{COMPOSE_CONTAINERS}}})", f"{{{{host}}}} {{{{{COMPOSE_SERVICE}}}}}")], "s", kind="table", width=24, height=8,
              thresholds=[(alert_threshold("ContainerKilled"), "red")]),
    ]
    return dashboard("containers", "Containers", "Each Compose service's containers seen by cAdvisor: memory against "
                     "its limit, CPU, throttling, restarts.", panels, ["observability-stack", "infrastructure"],
                     [("Runbooks", RUNBOOKS)], "label_values(container_last_seen, job)",
                     [variable("host", "Host", 'label_values(container_last_seen{job=~"$job"}, host)')])
