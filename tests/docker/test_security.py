"""What issue 13 changed, on the real images where Docker runs (skipped here, saying why): cAdvisor,
unprivileged behind the Docker socket proxy, still gives every container panel its data; the socket
proxy refuses what is not on its allowlist; the tls profile serves HTTPS from its local CA with the
headers and logins the native tests check on Debian's Caddy."""
from __future__ import annotations

import requests
import pytest

from docker_stack import PORTS, poll

pytestmark = pytest.mark.docker


def prometheus_query(stack, query: str) -> list:
    response = requests.get(f"{stack.url('PROMETHEUS_PORT')}/api/v1/query", params={"query": query},
                            auth=("prometheus", stack.env["PROMETHEUS_WEB_PASSWORD"]), timeout=10)
    return response.json()["data"]["result"]


@pytest.mark.parametrize("metric", ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                                    "container_network_receive_bytes_total", "container_spec_memory_limit_bytes"])
def test_unprivileged_cadvisor_reports_every_service_by_name(stack, metric):
    names = poll(lambda: {r["metric"].get("container_label_com_docker_compose_service")
                          for r in prometheus_query(stack, f"{metric}{{container_label_com_docker_compose_service!=\"\"}}")}
                 >= {"prometheus", "grafana", "demo-app"}, f"{metric} for the stack's services")
    assert names


def test_the_socket_proxy_refuses_writes_from_inside_the_network(stack):
    # cAdvisor's image has wget; a create through the proxy must be refused (403), a read allowed.
    refused = stack.compose("exec", "-T", "cadvisor", "wget", "-q", "-O-", "--post-data", "{}",
                            "http://docker-socket-proxy:2375/v1.47/containers/create", check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    allowed = stack.compose("exec", "-T", "cadvisor", "wget", "-q", "-O-", "http://docker-socket-proxy:2375/_ping", check=False)
    assert allowed.returncode == 0 and allowed.stdout.strip() == "OK"


def test_tls_profile_serves_https_with_its_local_ca(stack, tmp_path):
    ca = tmp_path / "root.crt"
    stack.compose("cp", "tls-proxy:/data/caddy/pki/authorities/local/root.crt", str(ca))
    grafana = requests.get(f"https://localhost:{PORTS['TLS_HTTPS_PORT']}/api/health", verify=str(ca), timeout=10)
    assert grafana.status_code == 200 and grafana.headers["Strict-Transport-Security"].startswith("max-age=")
    jaeger = f"https://localhost:{PORTS['JAEGER_TLS_PORT']}/"
    assert requests.get(jaeger, verify=str(ca), timeout=10).status_code == 401
    assert requests.get(jaeger, verify=str(ca), auth=("jaeger", stack.env["JAEGER_UI_PASSWORD"]), timeout=10).status_code == 200
    plain = requests.get(f"http://localhost:{PORTS['TLS_HTTP_PORT']}/", allow_redirects=False, timeout=10)
    assert plain.status_code == 308 and plain.headers["Location"].startswith("https://")
