"""elasticsearch/setup/entrypoint.sh against a stand-in for the Elasticsearch and Kibana APIs it calls.

Neither can run here. The stand-in answers as they do for what the script sends, including their
refusals: 401 for anyone but the file-realm user `stack_setup`, 400 for a privilege name
Elasticsearch 9.5 does not have (tests/fixtures/elasticsearch/privileges.yml), for a template
that is not valid JSON or has a placeholder left, for an invalid retention, 404 for the lifecycle of
data streams that do not exist yet, and Kibana's 400 without the kbn-xsrf header. It keeps
state, so a password changed in .env is seen to change the users.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from obsstack.net import reply_json

SCRIPT = ROOT / "elasticsearch/setup/entrypoint.sh"
SETUP_PASSWORD = "setup-test-password"
PRIVILEGES = yaml.safe_load((ROOT / "tests/fixtures/elasticsearch/privileges.yml").read_text())
DURATION = re.compile(r"^\d+(d|h|m|s|ms)$")


class FakeElastic(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, object]] = []
    fail_path: str | None = None
    passwords: dict[str, str] = {}
    data_streams: set[str] = set()

    def log_message(self, *_args) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        expected = "Basic " + base64.b64encode(f"stack_setup:{SETUP_PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._reply(401, {"error": {"type": "security_exception"}})
            return
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError as exc:
            self._reply(400, {"error": {"type": "x_content_parse_exception", "reason": str(exc)}})
            return
        path = self.path.split("?")[0]
        self.requests.append((self.command, self.path, body))
        if path == self.fail_path:
            self._reply(403, {"error": {"type": "security_exception", "reason": "action unauthorized"}})
            return
        error = self.validate(path, body, raw.decode())
        if error:
            self._reply(*error)
            return
        self._reply(200, {"acknowledged": True, "username": "stack_setup"})

    def validate(self, path: str, body, raw: str) -> tuple[int, dict] | None:
        if "@" in raw and re.search(r"@[A-Z_]+@", raw):
            return 400, {"error": {"reason": f"placeholder left in body: {raw[:80]}"}}
        if path.startswith("/_security/role/"):
            if not isinstance(body, dict):
                return 400, {"error": {"reason": "request body is required"}}
            for field in set(body) - set(PRIVILEGES["role_fields"]):
                return 400, {"error": {"reason": f"failed to parse role [{path.split('/')[3]}]. unexpected field [{field}]"}}
            for group in body.get("indices", []):
                for field in set(group) - set(PRIVILEGES["index_fields"]):
                    return 400, {"error": {"reason": f"failed to parse indices privileges. unexpected field [{field}]"}}
                if not group.get("names") or not group.get("privileges"):
                    return 400, {"error": {"reason": "failed to parse indices privileges: missing [names] or [privileges]"}}
            for privilege in body.get("cluster", []):
                if privilege not in PRIVILEGES["cluster"]:
                    return 400, {"error": {"reason": f"unknown cluster privilege [{privilege}]"}}
            for group in body.get("indices", []):
                for privilege in group["privileges"]:
                    if privilege not in PRIVILEGES["indices"]:
                        return 400, {"error": {"reason": f"unknown index privilege [{privilege}]"}}
        if path.startswith("/_security/user/") and path.endswith("/_password"):
            if set(body) - {"password", "password_hash"} or len(body.get("password", "")) < 6:
                return 400, {"error": {"reason": f"invalid change-password body: {sorted(body)}"}}
            self.passwords[path.split("/")[3]] = body["password"]
        elif path.startswith("/_security/user/"):
            unknown = set(body) - set(PRIVILEGES["user_fields"])
            if unknown:
                return 400, {"error": {"reason": f"unexpected field [{sorted(unknown)[0]}]"}}
            # Elasticsearch: "Validation Failed: ... roles are missing" and passwords of 6 characters at least.
            if "roles" not in body or len(body.get("password", "")) < 6:
                return 400, {"error": {"reason": "Validation Failed: roles are missing or password too short"}}
            self.passwords[path.split("/")[3]] = body["password"]
        if path.startswith("/_index_template/"):
            retention = body["template"].get("lifecycle", {}).get("data_retention", "")
            if not DURATION.match(retention):
                return 400, {"error": {"reason": f"failed to parse setting [data_retention] with value [{retention}]"}}
        if path.startswith("/_ilm/policy/"):
            min_age = body["policy"]["phases"]["delete"]["min_age"]
            if not DURATION.match(min_age):
                return 400, {"error": {"reason": f"failed to parse [min_age] with value [{min_age}]"}}
        if path.startswith("/_data_stream/") and path.endswith("/_lifecycle"):
            if not self.data_streams:
                return 404, {"error": {"type": "index_not_found_exception"}}
        if path.startswith("/api/") and self.command == "POST" and not self.headers.get("kbn-xsrf"):
            return 400, {"message": "Request must contain a kbn-xsrf header."}
        return None

    def _reply(self, status: int, payload: dict) -> None:
        reply_json(self, status, payload)

    do_GET = do_PUT = do_POST = _handle


@pytest.fixture
def api() -> Iterator[str]:
    FakeElastic.requests = []
    FakeElastic.fail_path = None
    FakeElastic.passwords = {}
    FakeElastic.data_streams = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeElastic)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


PASSWORDS = {"ELASTIC_PASSWORD": "elastic-pw", "KIBANA_SYSTEM_PASSWORD": "kibana-pw",
             "LOGSTASH_INTERNAL_PASSWORD": 'logstash"pw\\x', "JAEGER_ES_PASSWORD": "jaeger-pw",
             "GRAFANA_ES_PASSWORD": "grafana-pw", "MONITORING_ES_PASSWORD": "monitor-pw"}


def run_script(url: str, mode: str = "setup", root: Path = ROOT, **overrides: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which("curl"):
        pytest.fail("curl is needed (the Elasticsearch image has it): apt-get install curl")
    env = dict(os.environ, ELASTICSEARCH_URL=url, ELASTIC_SETUP_PASSWORD=SETUP_PASSWORD, LOGS_RETENTION="14d",
               TRACES_RETENTION="7d", KIBANA_URL=url, KIBANA_SETUP_DIR=str(root / "kibana/setup"),
               JAEGER_PUBLIC_URL="http://localhost:16686", MAINTAIN_ONCE="true", **PASSWORDS)
    env.update(overrides)
    return subprocess.run(["bash", str(root / "elasticsearch/setup/entrypoint.sh"), mode], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def test_creates_policies_templates_roles_users_and_passwords(api):
    proc = run_script(api)
    assert proc.returncode == 0, proc.stderr
    calls = {(method, path.split("?")[0]): body for method, path, body in FakeElastic.requests}
    for role_file in (ROOT / "elasticsearch/setup/roles").glob("*.json"):
        assert calls[("PUT", f"/_security/role/{role_file.stem}")] == json.loads(role_file.read_text())
    assert FakeElastic.passwords == {"elastic": "elastic-pw", "kibana_system": "kibana-pw",
                                     "logstash_internal": 'logstash"pw\\x', "jaeger_internal": "jaeger-pw",
                                     "grafana_reader": "grafana-pw", "monitoring_internal": "monitor-pw"}
    assert calls[("PUT", "/_security/user/logstash_internal")]["roles"] == ["logstash_writer"]
    assert calls[("PUT", "/_security/user/monitoring_internal")]["roles"] == ["remote_monitoring_collector",
                                                                               "failure_store_reader"]
    template = calls[("PUT", "/_index_template/logs-docker")]
    assert template["template"]["lifecycle"]["data_retention"] == "14d"
    assert template["template"]["data_stream_options"]["failure_store"]["enabled"] is True
    assert calls[("PUT", "/_ilm/policy/jaeger-traces")]["policy"]["phases"]["delete"]["min_age"] == "7d"
    # No replica on one node (it cannot hold one: yellow forever), one on the three-node overlay.
    assert calls[("PUT", "/jaeger-span-*,jaeger-service-*,jaeger-dependencies-*/_settings")] == {
        "index": {"lifecycle": {"name": "jaeger-traces"}, "auto_expand_replicas": "0-1"}}
    assert calls[("PUT", "/_component_template/logs@custom")]["template"]["settings"] == {"auto_expand_replicas": "0-1"}
    assert template["template"]["settings"]["auto_expand_replicas"] == "0-1"
    assert "number_of_replicas" not in template["template"]["settings"]
    output = proc.stderr + proc.stdout
    assert not any(password in output for password in PASSWORDS.values()), "passwords are never logged"


def test_changed_passwords_and_retention_are_applied_to_what_exists(api):
    assert run_script(api).returncode == 0
    FakeElastic.data_streams.add("logs-docker-default")
    FakeElastic.requests.clear()
    proc = run_script(api, ELASTIC_PASSWORD="new-elastic-pw", GRAFANA_ES_PASSWORD="new-grafana-pw", LOGS_RETENTION="30d")
    assert proc.returncode == 0, proc.stderr
    assert FakeElastic.passwords["elastic"] == "new-elastic-pw"
    assert FakeElastic.passwords["grafana_reader"] == "new-grafana-pw"
    calls = {(method, path.split("?")[0]): body for method, path, body in FakeElastic.requests}
    assert calls[("PUT", "/_data_stream/logs-docker-*/_lifecycle")] == {"data_retention": "30d"}


def test_a_refused_call_fails_the_job_naming_it(api):
    FakeElastic.fail_path = "/_security/user/jaeger_internal"
    proc = run_script(api)
    assert proc.returncode == 1
    assert "PUT /_security/user/jaeger_internal failed with HTTP 403" in proc.stderr


def test_an_invalid_retention_fails_the_job_naming_the_call(api):
    proc = run_script(api, LOGS_RETENTION="two weeks")
    assert proc.returncode == 1
    assert "PUT /_index_template/logs-docker failed with HTTP 400" in proc.stderr


def test_a_privilege_elasticsearch_lacks_fails_the_job(api, tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "elasticsearch", copy / "elasticsearch")
    shutil.copytree(ROOT / "kibana", copy / "kibana")
    role = copy / "elasticsearch/setup/roles/logstash_writer.json"
    role.write_text(role.read_text().replace('"create_doc"', '"create_document"'))
    proc = run_script(api, root=copy)
    assert proc.returncode == 1
    assert "unknown index privilege [create_document]" in proc.stderr


def test_a_role_field_elasticsearch_lacks_fails_the_job(api, tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "elasticsearch", copy / "elasticsearch")
    shutil.copytree(ROOT / "kibana", copy / "kibana")
    role = copy / "elasticsearch/setup/roles/grafana_reader.json"
    role.write_text(role.read_text().replace('"indices"', '"index_patterns"', 1))
    proc = run_script(api, root=copy)
    assert proc.returncode == 1
    assert "unexpected field [index_patterns]" in proc.stderr


def test_passwords_from_files_in_secrets_dir(api, tmp_path):
    """As compose runs it: no password in the environment, each in VARIABLE_FILES_DIR/<VARIABLE>."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in {"ELASTIC_SETUP_PASSWORD": SETUP_PASSWORD, "ELASTIC_PASSWORD": "from-a-file",
                        "KIBANA_SYSTEM_PASSWORD": "kibana-file", "LOGSTASH_INTERNAL_PASSWORD": "logstash-file",
                        "JAEGER_ES_PASSWORD": "jaeger-file", "GRAFANA_ES_PASSWORD": "grafana-file",
                        "MONITORING_ES_PASSWORD": "monitor-file"}.items():
        (secrets / name).write_text(value + "\n")
    env = {key: value for key, value in os.environ.items() if not key.endswith("PASSWORD")}
    env.update(ELASTICSEARCH_URL=api, VARIABLE_FILES_DIR=str(secrets), LOGS_RETENTION="14d", TRACES_RETENTION="7d")
    FakeElastic.passwords.clear()
    proc = subprocess.run(["bash", str(ROOT / "elasticsearch/setup/entrypoint.sh"), "setup"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert FakeElastic.passwords["elastic"] == "from-a-file" and FakeElastic.passwords["jaeger_internal"] == "jaeger-file"


def test_without_the_setup_password_it_stops_at_once(api):
    env_less = {key: value for key, value in os.environ.items() if key != "ELASTIC_SETUP_PASSWORD"}
    proc = subprocess.run(["bash", str(SCRIPT), "setup"], capture_output=True, text=True, timeout=10, check=False,
                          env=dict(env_less, ELASTICSEARCH_URL=api))
    assert proc.returncode != 0 and "ELASTIC_SETUP_PASSWORD" in proc.stderr
    assert not FakeElastic.requests


def test_rerun_is_idempotent(api):
    assert run_script(api).returncode == 0
    first = list(FakeElastic.requests)
    FakeElastic.requests.clear()
    assert run_script(api).returncode == 0
    assert FakeElastic.requests == first


def test_maintain_attaches_the_traces_policy_and_keeps_the_kibana_data_view(api):
    proc = run_script(api, mode="maintain", JAEGER_PUBLIC_URL="https://jaeger.example")
    assert proc.returncode == 0, proc.stderr
    calls = {(method, path.split("?")[0]): body for method, path, body in FakeElastic.requests}
    assert ("PUT", "/jaeger-span-*,jaeger-service-*,jaeger-dependencies-*/_settings") in calls
    view = calls[("POST", "/api/data_views/data_view")]
    assert view["override"] is True
    assert view["data_view"]["fieldFormats"]["trace.id"]["params"]["urlTemplate"] == "https://jaeger.example/trace/{{value}}"
    assert calls[("POST", "/api/data_views/default")] == {"data_view_id": "logs-docker", "force": True}
