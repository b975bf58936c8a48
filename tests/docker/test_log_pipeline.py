"""The real logs and traces pipelines on a Docker engine (skipped, with the reason, where none runs).

- The contract's lines (logstash/contract/log-lines.yml), written by containers labelled as the
  compose service of each case, go through the real Filebeat -> Logstash -> Elasticsearch; the
  stored documents must equal the contract's.
- Filebeat and Logstash restarted while a container logs: every line stored exactly once.
- Elasticsearch restarted while spans flow into Jaeger: no span is lost without being counted.
- Retention, the failure store, Kibana's data view and a changed password, as set up.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import pytest
import requests

from conftest import ROOT
from docker_stack import poll
from log_documents import line_fields

pytestmark = pytest.mark.docker

WRITER_IMAGE = "python:3.12.14-slim"  # the demo app's base image: already pulled by the build


def contract() -> list[dict]:
    import yaml

    return yaml.safe_load((ROOT / "logstash/contract/log-lines.yml").read_text())["cases"]


def write_lines(stack, service: str, stream: str, lines: list[str]) -> str:
    """A container labelled as compose service `service` that writes `lines` to `stream` and exits;
    returns its id (kept until the test ends: add_docker_metadata looks the container up)."""
    script = ("import sys, json\nlines = json.loads(sys.argv[1])\nout = sys.stderr if sys.argv[2] == 'stderr' else sys.stdout\n"
              "for line in lines:\n    out.write(line + '\\n')\n    out.flush()\n")
    proc = subprocess.run(["docker", "run", "-d", "--log-driver", "json-file",
                           "--label", f"com.docker.compose.service={service}",
                           "--label", "com.docker.compose.project=contract-test",
                           WRITER_IMAGE, "python", "-c", script, json.dumps(lines), stream],
                          capture_output=True, text=True, check=True, timeout=120)
    return proc.stdout.strip()


def search(stack, query: dict, size: int = 1000) -> list[dict]:
    response = requests.post(f"{stack.url('ELASTICSEARCH_PORT')}/logs-docker-default/_search", auth=stack.elastic,
                             json={"query": query, "size": size, "sort": [{"log.offset": "asc"}]}, timeout=10)
    response.raise_for_status()
    return [hit["_source"] for hit in response.json()["hits"]["hits"]]


@pytest.fixture
def containers():
    created: list[str] = []
    yield created
    if created:
        subprocess.run(["docker", "rm", "-f", *created], capture_output=True, check=False)


def test_the_contract_lines_become_their_documents(stack, containers):
    cases = contract()
    written = {}
    for case in cases:
        container = write_lines(stack, case["service"], case.get("stream", "stdout"), [str(l) for l in case["lines"]])
        containers.append(container)
        written[case["id"]] = container
    for case in (c for c in cases if c["documents"]):
        expected = case["documents"]

        def stored(container=written[case["id"]], count=len(expected)):
            docs = search(stack, {"term": {"container.id": container}})
            return docs if len(docs) == count else None

        documents = poll(stored, f"{case['id']}: {len(expected)} documents", 180)
        for got, want in zip(documents, expected):
            fields = line_fields(got)
            if want["@timestamp"].startswith("2026-12-04T01:40:00."):  # no time of its own: Docker's
                fields.pop("@timestamp"), want.pop("@timestamp")
            assert fields == want, case["id"]
    # Every case was written before any was polled: by now the dropped ones would have arrived.
    for case in cases:
        if not case["documents"]:
            assert search(stack, {"term": {"container.id": written[case["id"]]}}) == [], f"{case['id']} not dropped"


def test_filebeat_and_logstash_restarts_lose_and_double_nothing(stack, containers):
    total = 3000
    script = f"import time\nfor i in range(1, {total + 1}):\n    print(f'line {{i}} of run', flush=True)\n    time.sleep(0.02)\n"
    proc = subprocess.run(["docker", "run", "-d", "--log-driver", "json-file", "--label",
                           "com.docker.compose.service=restart-test", WRITER_IMAGE, "python", "-c", script],
                          capture_output=True, text=True, check=True, timeout=120)
    container = proc.stdout.strip()
    containers.append(container)
    time.sleep(10)
    stack.compose("restart", "filebeat")
    time.sleep(10)
    stack.compose("restart", "logstash")

    def complete():
        response = requests.get(f"{stack.url('ELASTICSEARCH_PORT')}/logs-docker-default/_count", auth=stack.elastic,
                                json={"query": {"term": {"container.id": container}}}, timeout=10)
        return response.json()["count"] >= total

    poll(complete, f"all {total} lines stored", 600)
    documents = search(stack, {"term": {"container.id": container}}, size=total + 100)
    numbers = sorted(int(doc["message"].split()[1]) for doc in documents)
    assert numbers == list(range(1, total + 1)), "a line is missing or stored twice"


def prometheus_value(stack, query: str) -> float:
    response = requests.get(f"{stack.url('PROMETHEUS_PORT')}/api/v1/query", params={"query": query},
                            auth=("prometheus", stack.env["PROMETHEUS_WEB_PASSWORD"]), timeout=10).json()
    result = response["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_elasticsearch_restart_while_spans_flow_loses_nothing_silently(stack):
    """Jaeger 2.20 writes to Elasticsearch asynchronously and does not retry a failed bulk request
    (jaeger/config.yaml says why): spans sent while Elasticsearch is down may be lost, but each one
    must be counted in jaeger_storage_bulk_index_errors, which JaegerStorageWriteErrors alerts on."""
    errors_query = "sum(jaeger_storage_bulk_index_errors)"
    errors_before = prometheus_value(stack, errors_query)
    sent: list[str] = []
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            trace_id, now = uuid.uuid4().hex, time.time_ns()
            span = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "restart-test"}}]},
                                       "scopeSpans": [{"spans": [{"traceId": trace_id, "spanId": uuid.uuid4().hex[:16], "name": "tick",
                                                                  "kind": 1, "startTimeUnixNano": str(now - 1000),
                                                                  "endTimeUnixNano": str(now)}]}]}]}
            try:
                requests.post(f"{stack.url('OTLP_HTTP_PORT')}/v1/traces", json=span, timeout=5).raise_for_status()
                sent.append(trace_id)
            except requests.RequestException:
                pass  # refused by Jaeger: the SDK would retry; not counted as sent
            time.sleep(0.1)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    time.sleep(15)
    stack.compose("restart", "elasticsearch")
    poll(lambda: requests.get(f"{stack.url('ELASTICSEARCH_PORT')}/_cluster/health", auth=stack.elastic,
                              timeout=5).json()["status"] in ("green", "yellow"), "Elasticsearch back", 300)
    time.sleep(15)
    stop.set()
    sender.join()

    def found(trace_id: str) -> bool:
        response = requests.get(f"{stack.url('JAEGER_UI_PORT')}/api/traces/{trace_id}", timeout=10)
        return response.status_code == 200 and bool(response.json().get("data"))

    time.sleep(10)
    missing = [t for t in sent if not found(t)]
    counted = poll(lambda: prometheus_value(stack, errors_query) - errors_before >= len(missing) or None,
                   f"{len(missing)} lost spans counted as bulk errors", 120) if missing else True
    print(f"spans sent {len(sent)}, stored {len(sent) - len(missing)}, lost and counted {len(missing)}")
    assert counted


def test_retention_failure_store_and_data_view_are_set(stack):
    es = stack.url("ELASTICSEARCH_PORT")
    streams = requests.get(f"{es}/_data_stream/logs-docker-default", auth=stack.elastic, timeout=10).json()["data_streams"]
    (stream,) = streams
    assert stream["lifecycle"]["data_retention"] == stack.env.get("LOGS_RETENTION", "14d")
    assert stream["failure_store"]["enabled"] is True
    poll(lambda: all(settings["settings"]["index"].get("lifecycle", {}).get("name") == "jaeger-traces"
                     for settings in requests.get(f"{es}/jaeger-span-*/_settings", auth=stack.elastic,
                                                  timeout=10).json().values()), "jaeger-traces attached", 300)
    view = poll(lambda: requests.get(f"{stack.url('KIBANA_PORT')}/api/data_views/data_view/logs-docker",
                                     auth=stack.elastic, timeout=10).json().get("data_view"), "Kibana data view", 600)
    url = view["fieldFormats"]["trace.id"]["params"]["urlTemplate"]
    assert url == f"http://localhost:{stack.url('JAEGER_UI_PORT').rsplit(':', 1)[1]}/trace/{{{{value}}}}"


def test_a_changed_password_is_applied_by_make_up(stack):
    """Changing ELASTIC_PASSWORD (and a service account's) in .env and re-running up works; runs last."""
    env_path = stack.project / ".env"
    old = stack.env["ELASTIC_PASSWORD"]
    text = env_path.read_text()
    new = "changed-" + uuid.uuid4().hex
    env_path.write_text(text.replace(f"ELASTIC_PASSWORD={old}", f"ELASTIC_PASSWORD={new}"))
    stack.compose("up", "-d", "--wait", timeout=900)
    es = stack.url("ELASTICSEARCH_PORT")
    assert requests.get(f"{es}/_security/_authenticate", auth=("elastic", new), timeout=10).status_code == 200
    assert requests.get(f"{es}/_security/_authenticate", auth=("elastic", old), timeout=10).status_code == 401
    stack.reload_env()
