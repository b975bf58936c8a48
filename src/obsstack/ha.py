"""The high-availability overlay's configs (docker-compose.ha.yml), rendered from the base ones.

Two Prometheus replicas run the same prometheus.yml plus what HA needs, written here once:
  - a `replica` external label (PROMETHEUS_REPLICA, set per service), so the two are told apart;
  - alerts sent to every Alertmanager of the gossip cluster, with `replica` dropped so both replicas'
    alerts are the same alert and the cluster notifies once;
  - remote write to VictoriaMetrics with `replica` dropped, where -dedup.minScrapeInterval keeps one
    sample per series and scrape interval: the long-term store holds one copy, not two;
  - every replica and Alertmanager scraped by both replicas, so each sees the others fail.
Grafana gets a second Prometheus-type datasource reading VictoriaMetrics for long ranges.
`obsstack ha render` writes prometheus/ha/ and grafana/ha/ (checked in; `--check` in the tests).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

PROMETHEUS_REPLICAS = ("prometheus", "prometheus-b")
ALERTMANAGERS = ("alertmanager", "alertmanager-b", "alertmanager-c")
VICTORIAMETRICS = "victoriametrics:8428"
# The cluster overlay (docker-compose.vm-cluster.yml) turns `victoriametrics` into vmauth, which has
# no storage metrics: its components are scraped by DNS, found only while that overlay runs (like dcgm).
CLUSTER_COMPONENTS = {"vminsert": 8480, "vmselect": 8481, "vmstorage-1": 8482, "vmstorage-2": 8482, "vmstorage-3": 8482}
REPLICA_LABEL = "replica"
PROMETHEUS_OUT = "prometheus/ha/prometheus.yml"
DATASOURCES_OUT = "grafana/ha/datasources/datasources.yml"
NOTE = ("# Rendered by `obsstack ha render` from {source} (src/obsstack/ha.py): edit that, then run it\n"
        "# again; tests/unit/test_ha_config.py checks this file is current. Used by docker-compose.ha.yml.\n")


def _drop_replica() -> list[dict[str, str]]:
    return [{"action": "labeldrop", "regex": REPLICA_LABEL}]


def render_prometheus(base: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(base)
    config["global"]["external_labels"][REPLICA_LABEL] = "${PROMETHEUS_REPLICA}"
    alerting = config["alerting"]
    alerting["alert_relabel_configs"] = _drop_replica()
    for manager in alerting["alertmanagers"]:
        manager["static_configs"] = [{"targets": [f"{name}:9093" for name in ALERTMANAGERS]}]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["prometheus"]["static_configs"] = [{"targets": [f"{name}:9090" for name in PROMETHEUS_REPLICAS]}]
    jobs["alertmanager"]["static_configs"] = [{"targets": [f"{name}:9093" for name in ALERTMANAGERS]}]
    auth = copy.deepcopy(jobs["prometheus"]["basic_auth"])  # VictoriaMetrics takes the stack's Prometheus login
    config["scrape_configs"].append({"job_name": "victoriametrics", "basic_auth": auth,
                                     "static_configs": [{"targets": [VICTORIAMETRICS]}],
                                     "dns_sd_configs": [{"names": [name], "type": "A", "port": port}
                                                        for name, port in CLUSTER_COMPONENTS.items()]})
    config["remote_write"] = [{
        "url": f"http://{VICTORIAMETRICS}/api/v1/write",
        "name": "victoriametrics",
        "basic_auth": copy.deepcopy(auth),
        "write_relabel_configs": _drop_replica(),
        # Retry with backoff up to 30 s; the WAL (2 h or more) holds what VictoriaMetrics missed.
        "queue_config": {"max_backoff": "30s"},
    }]
    return config


def render_datasources(base: dict[str, Any]) -> dict[str, Any]:
    """The base datasources plus VictoriaMetrics: the Prometheus one's settings (login, exemplar
    links), since VictoriaMetrics answers Prometheus' query API with the stack's Prometheus login."""
    config = copy.deepcopy(base)
    prometheus = next(source for source in config["datasources"] if source["uid"] == "prometheus")
    long_term = copy.deepcopy(prometheus)
    long_term.update(name="VictoriaMetrics (long-term)", uid="victoriametrics", url=f"http://{VICTORIAMETRICS}", isDefault=False)
    config["datasources"].insert(config["datasources"].index(prometheus) + 1, long_term)
    return config


def rendered_files(project: Path) -> dict[Path, str]:
    """prometheus/ha/ and grafana/ha/ and their text (src/obsstack/rendered.py writes or checks them)."""
    base = yaml.safe_load((project / "prometheus/prometheus.yml").read_text())
    sources = yaml.safe_load((project / "grafana/provisioning/datasources/datasources.yml").read_text())
    dump = lambda data, source: NOTE.format(source=source) + yaml.safe_dump(data, sort_keys=False, width=120)
    return {project / PROMETHEUS_OUT: dump(render_prometheus(base), "prometheus/prometheus.yml"),
            project / DATASOURCES_OUT: dump(render_datasources(sources), "grafana/provisioning/datasources/datasources.yml")}
