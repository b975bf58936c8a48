"""Names, ports and paths that must agree between components that cannot run here (Caddy in its
image, cAdvisor, Filebeat, Elasticsearch) and the compose file that wires them."""
from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from conftest import PROFILES, ROOT
from obsstack import backup

PROXY_CADDYFILE = (ROOT / "docker-socket-proxy/Caddyfile").read_text()
TLS_CADDYFILE = (ROOT / "tls-proxy/Caddyfile").read_text()


@pytest.fixture(scope="module")
def project(render) -> dict[str, Any]:
    return render((*PROFILES, "tls"), gpu=True)


def placeholder_default(caddyfile: str, name: str) -> str:
    found = set(re.findall(r"\{\$" + name + r":([^}]*)\}", caddyfile))
    assert len(found) == 1, f"{name}: one default, written once ({found})"
    return found.pop()


def test_socket_proxy_clients_use_the_port_and_name_it_listens_on(project):
    port = placeholder_default(PROXY_CADDYFILE, "DOCKER_PROXY_PORT")
    url = f"tcp://docker-socket-proxy:{port}"
    services = project["services"]
    assert f"-docker={url}" in services["cadvisor"]["command"]
    filebeat = yaml.safe_load((ROOT / "filebeat/filebeat.yml").read_text())
    assert {p["add_docker_metadata"]["host"] for i in filebeat["filebeat.inputs"] for p in i.get("processors", [])
            if "add_docker_metadata" in p} == {url}
    assert f"127.0.0.1:{port}/_ping" in " ".join(services["docker-socket-proxy"]["healthcheck"]["test"])
    socket = placeholder_default(PROXY_CADDYFILE, "DOCKER_SOCKET").removeprefix("unix/")
    assert socket in {v["target"] for v in services["docker-socket-proxy"]["volumes"]}
    assert {"cadvisor", "filebeat"} <= {name for name, s in services.items() if "docker-socket-proxy" in s.get("depends_on", {})}


def test_tls_proxy_gets_every_setting_its_caddyfile_reads(project):
    service = project["services"]["tls-proxy"]
    environment = service["environment"]
    read = set(re.findall(r"\{\$([A-Z_]+)", TLS_CADDYFILE)) | set(re.findall(r"\{\$([A-Z_]+)", (ROOT / "tls-proxy/tls-files.caddy").read_text()))
    # The upstreams, the users folder and the certificate paths default to the compose names and mounts;
    # the native tests override them. Everything else comes from .env.
    defaulted = {name for name in read if name.endswith("_UPSTREAM")} | {"TLS_USERS_DIR", "TLS_CERT_PATH", "TLS_KEY_PATH",
                                                                         "TLS_HOSTS_USERS", "TLS_EXTRA_SITES"}
    assert sorted(read - defaulted - set(environment)) == []
    # The other hosts' OTLP logins: the file `obsstack hosts` renders, inside the mounted tls-proxy folder.
    from obsstack import hosts

    mounts = {v["target"]: v["source"] for v in service["volumes"]}
    hosts_users = placeholder_default(TLS_CADDYFILE, "TLS_HOSTS_USERS")
    assert hosts_users == "/etc/caddy/" + hosts.OTLP_USERS.removeprefix("tls-proxy/") and mounts["/etc/caddy"].endswith("tls-proxy")
    published = {int(p["target"]) for p in service["ports"]}
    assert published == {int(environment[name]) for name in read if name.endswith("_PORT")}
    users = placeholder_default(TLS_CADDYFILE, "TLS_USERS_DIR")
    assert {c["target"] for c in service["configs"]} == {f"{users}/jaeger", f"{users}/otlp"}
    files = (ROOT / "tls-proxy/tls-files.caddy").read_text()
    certs = {placeholder_default(files, "TLS_CERT_PATH"), placeholder_default(files, "TLS_KEY_PATH")}
    assert {s["target"] for s in service["secrets"]} == certs
    for upstream, (name, port) in {"GRAFANA_UPSTREAM": ("grafana", 3000), "PROMETHEUS_UPSTREAM": ("prometheus", 9090),
                                   "ALERTMANAGER_UPSTREAM": ("alertmanager", 9093), "KIBANA_UPSTREAM": ("kibana", 5601),
                                   "JAEGER_UPSTREAM": ("jaeger", 16686), "OTLP_HTTP_UPSTREAM": ("jaeger", 4318),
                                   "OTLP_GRPC_UPSTREAM": ("jaeger", 4317)}.items():
        assert placeholder_default(TLS_CADDYFILE, upstream).removeprefix("h2c://") == f"{name}:{port}"
        assert name in project["services"]


def test_every_tls_mode_setup_accepts_has_its_snippet():
    modes = set(re.findall(r'mode not in \(([^)]*)\)', (ROOT / "src/obsstack/settings.py").read_text())[0].replace('"', "").split(", "))
    assert modes == {"internal", "files"}
    assert "import tls-{$TLS_MODE:internal}.caddy" in TLS_CADDYFILE
    assert all((ROOT / f"tls-proxy/tls-{mode}.caddy").is_file() for mode in modes)


def test_the_snapshot_repository_is_where_elasticsearch_allows_and_the_volume_is(project):
    config = yaml.safe_load((ROOT / "elasticsearch/elasticsearch.yml").read_text())
    assert config["path.repo"] == [backup.ES_LOCATION]
    services = project["services"]
    mounts = lambda name: {v["target"]: v.get("source") for v in services[name].get("volumes", [])}
    assert backup.ES_LOCATION in mounts("elasticsearch")
    assert mounts("elasticsearch-backup-owner") == {backup.ES_LOCATION: mounts("elasticsearch")[backup.ES_LOCATION]}
    assert services["elasticsearch-backup-owner"]["entrypoint"][-1] == backup.ES_LOCATION
    assert services["elasticsearch"]["depends_on"]["elasticsearch-backup-owner"]["condition"] == "service_completed_successfully"
