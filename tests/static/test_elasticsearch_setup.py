"""elasticsearch/setup/entrypoint.sh against a stand-in for Elasticsearch's security API.

Elasticsearch cannot run here; the stand-in answers the four endpoints the script calls as
Elasticsearch does (401 without the elastic password, 200 on success) and records each request.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT

SCRIPT = ROOT / "elasticsearch/setup/entrypoint.sh"
ELASTIC_PASSWORD = "elastic-test-password"


class FakeSecurityApi(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, object]] = []
    fail_path: str | None = None

    def log_message(self, *_args) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        expected = "Basic " + base64.b64encode(f"elastic:{ELASTIC_PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._reply(401, {"error": "security_exception"})
            return
        self.requests.append((self.command, self.path, body))
        if self.path == self.fail_path:
            self._reply(403, {"error": "action unauthorized"})
        else:
            self._reply(200, {"acknowledged": True, "username": "elastic"})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = _handle


@pytest.fixture
def api() -> Iterator[str]:
    FakeSecurityApi.requests = []
    FakeSecurityApi.fail_path = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSecurityApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_script(url: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which("curl"):
        pytest.fail("curl is needed (the Elasticsearch image has it): apt-get install curl")
    env = dict(os.environ, ELASTICSEARCH_URL=url, ELASTIC_PASSWORD=ELASTIC_PASSWORD,
               KIBANA_SYSTEM_PASSWORD="kibana-pw", LOGSTASH_INTERNAL_PASSWORD='logstash"pw\\x',
               JAEGER_ES_PASSWORD="jaeger-pw", GRAFANA_ES_PASSWORD="grafana-pw", MONITORING_ES_PASSWORD="monitor-pw")
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_creates_roles_users_and_passwords(api):
    proc = run_script(api)
    assert proc.returncode == 0, proc.stderr
    calls = {(method, path): body for method, path, body in FakeSecurityApi.requests}
    for role_file in (ROOT / "elasticsearch/setup/roles").glob("*.json"):
        assert calls[("PUT", f"/_security/role/{role_file.stem}")] == json.loads(role_file.read_text())
    assert calls[("POST", "/_security/user/kibana_system/_password")] == {"password": "kibana-pw"}
    assert calls[("PUT", "/_security/user/logstash_internal")] == {"password": 'logstash"pw\\x', "roles": ["logstash_writer"]}
    assert calls[("PUT", "/_security/user/jaeger_internal")] == {"password": "jaeger-pw", "roles": ["jaeger_writer"]}
    assert calls[("PUT", "/_security/user/grafana_reader")] == {"password": "grafana-pw", "roles": ["grafana_reader"]}
    assert calls[("PUT", "/_security/user/monitoring_internal")]["roles"] == ["remote_monitoring_collector"]
    assert calls[("PUT", "/_component_template/logs@custom")]["template"]["settings"]["number_of_replicas"] == 0
    assert "kibana-pw" not in proc.stderr + proc.stdout, "passwords are never logged"


def test_a_refused_call_fails_the_job_naming_it(api):
    FakeSecurityApi.fail_path = "/_security/user/jaeger_internal"
    proc = run_script(api)
    assert proc.returncode == 1
    assert "PUT /_security/user/jaeger_internal failed with HTTP 403" in proc.stderr


def test_rerun_is_idempotent(api):
    assert run_script(api).returncode == 0
    first = list(FakeSecurityApi.requests)
    FakeSecurityApi.requests.clear()
    assert run_script(api).returncode == 0
    assert FakeSecurityApi.requests == first
