"""The agent bundle that runs on every other host (issue 14), rendered from the stack's own files.

The exporters, the socket proxy and Filebeat are the base stack's services as docker-compose.yml,
docker-compose.gpu.yml (profile `gpu`: dcgm-exporter, GPU access) and filebeat/filebeat.yml define
them (one source of truth); what differs on a host is written here:
  - Prometheus in agent mode scrapes them and remote-writes to the centre (src/obsstack/agent.py);
  - Filebeat names its host HOST_NAME and ships to the central Logstash over TLS with the host's
    client certificate (hosts' intake, port 5045) instead of to `logstash:5044`;
  - the secrets come from the bundle's .env (0600) as compose configs, never the command line;
  - nothing is published: the agent only makes outgoing connections.
`obsstack hosts render-agent` writes agent/ (checked in, and --check'ed by the tests); `hosts add`
copies it with the host's own prometheus.yml and .env.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

AGENT_DIR = "agent"
# The base services the agent runs unchanged (apart from its network).
SHARED_SERVICES = ("node-exporter", "cadvisor", "docker-socket-proxy")
GPU_SERVICES = ("gpu-exporter",)
NETWORK = "agent"
# The agent's memory: the WAL of a few hours of one host's series needs little.
AGENT_LIMITS = {"memory": "256m", "cpus": "0.5"}
AGENT_WAL_VOLUME = "agent-wal"
GENERATED_NOTE = ("# Rendered by `obsstack hosts render-agent` from docker-compose.yml and filebeat/filebeat.yml:\n"
                  "# edit those, then run it again (tests/unit/test_hosts.py checks this file is current).\n")


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _on_agent_network(service: dict[str, Any]) -> dict[str, Any]:
    service = copy.deepcopy(service)
    service["networks"] = [NETWORK]
    service.pop("ports", None)
    return service


def render_compose(project: Path) -> dict[str, Any]:
    base = _load(project / "docker-compose.yml")
    services = base["services"]
    out: dict[str, Any] = {}
    for name in SHARED_SERVICES:
        out[name] = _on_agent_network(services[name])
    # Profile gpu: our exporter with the GPU overlay's access, and dcgm-exporter, as docker-compose.gpu.yml has them.
    overlay = _load(project / "docker-compose.gpu.yml")["services"]
    gpu = _on_agent_network(services["gpu-exporter"])
    gpu.pop("build", None)  # the image is built at the centre (README "Other hosts": docker save | ssh docker load)
    gpu_access = overlay["gpu-exporter"]
    gpu["pid"] = gpu_access["pid"]
    gpu["environment"] = {**gpu.get("environment", {}), **gpu_access["environment"]}
    gpu["deploy"] = {"resources": {**gpu["deploy"]["resources"], **copy.deepcopy(gpu_access["deploy"]["resources"])}}
    gpu["profiles"] = ["gpu"]
    out["gpu-exporter"] = gpu
    dcgm = _on_agent_network(overlay["dcgm-exporter"])
    dcgm["profiles"] = ["gpu"]
    out["dcgm-exporter"] = dcgm

    prometheus = services["prometheus"]
    agent = {key: copy.deepcopy(value) for key, value in prometheus.items()
             if key in ("restart", "logging", "security_opt", "init", "cap_drop", "read_only", "image", "user")}
    agent.update({
        "networks": [NETWORK],
        "command": ["--agent", "--config.file=/etc/agent/prometheus.yml", "--storage.agent.path=/prometheus",
                    # Its own metrics (the remote-write queue) are scraped by itself and sent on; no one else needs the port.
                    "--web.listen-address=127.0.0.1:9090"],
        "volumes": ["./prometheus.yml:/etc/agent/prometheus.yml:ro", f"{AGENT_WAL_VOLUME}:/prometheus"],
        "configs": [{"source": "agent_password", "target": "/etc/agent/password"},
                    {"source": "central_ca", "target": "/etc/agent/central-ca.crt"}],
        "healthcheck": {**copy.deepcopy(prometheus["healthcheck"]),
                        "test": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:9090/-/ready"]},
        "deploy": {"resources": {"limits": dict(AGENT_LIMITS)}},
        "depends_on": {"node-exporter": {"condition": "service_healthy"}},
    })
    out["prometheus-agent"] = agent

    filebeat = _on_agent_network(services["filebeat"])
    filebeat.pop("profiles", None)
    filebeat["volumes"] = [volume.replace("./filebeat/filebeat.yml", "./filebeat.yml") for volume in filebeat["volumes"]]
    filebeat["configs"] = [{"source": "stack_ca", "target": "/usr/share/filebeat/tls/ca.crt"},
                           {"source": "filebeat_cert", "target": "/usr/share/filebeat/tls/host.crt"},
                           {"source": "filebeat_key", "target": "/usr/share/filebeat/tls/host.key"}]
    filebeat["environment"] = {"HOST_NAME": "${HOST_NAME:?run `obsstack hosts add` at the centre: it writes this bundle's .env}",
                               "LOGSTASH_HOSTS": "${LOGSTASH_HOSTS:?run `obsstack hosts add` at the centre}"}
    filebeat["depends_on"] = {"docker-socket-proxy": {"condition": "service_healthy"}}
    out["filebeat"] = filebeat

    required = "run `obsstack hosts add` at the centre: it writes this bundle's .env"
    return {
        "name": "obsstack-agent",
        "services": out,
        "configs": {
            "agent_password": {"content": "${AGENT_PASSWORD:?" + required + "}"},
            "central_ca": {"content": "${CENTRAL_CA_PEM:?" + required + "}"},
            "stack_ca": {"content": "${STACK_CA_PEM:?" + required + "}"},
            "filebeat_cert": {"content": "${FILEBEAT_CERT_PEM:?" + required + "}"},
            "filebeat_key": {"content": "${FILEBEAT_KEY_PEM:?" + required + "}"},
        },
        "networks": {NETWORK: {"name": "obsstack-agent"}},
        "volumes": {AGENT_WAL_VOLUME: {}, "filebeat-data": {}},
    }


def render_filebeat(project: Path) -> dict[str, Any]:
    """The base filebeat.yml with this host's name and the TLS output to the centre."""
    config = _load(project / "filebeat" / "filebeat.yml")
    config["name"] = "${HOST_NAME}"
    config["processors"] = [{"add_fields": {"target": "host", "fields": {"name": "${HOST_NAME}"}}}]
    config["output.logstash"] = {
        "hosts": ["${LOGSTASH_HOSTS}"],
        "ssl.enabled": True,
        "ssl.certificate_authorities": ["/usr/share/filebeat/tls/ca.crt"],
        "ssl.certificate": "/usr/share/filebeat/tls/host.crt",
        "ssl.key": "/usr/share/filebeat/tls/host.key",
        "ssl.verification_mode": "full",
    }
    return config


def rendered_files(project: Path) -> dict[Path, str]:
    """agent/'s files and their text (src/obsstack/rendered.py writes or checks them)."""
    dump = lambda data: GENERATED_NOTE + yaml.safe_dump(data, sort_keys=False, width=120)
    folder = project / AGENT_DIR
    return {
        folder / "docker-compose.yml": dump(render_compose(project)),
        folder / "filebeat.yml": dump(render_filebeat(project)),
        folder / "docker-socket-proxy/Caddyfile": (project / "docker-socket-proxy" / "Caddyfile").read_text(),
        folder / "dcgm/counters.csv": (project / "dcgm" / "counters.csv").read_text(),
    }
