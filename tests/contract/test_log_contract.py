"""The logs contract (logstash/contract/log-lines.yml), held on both sides.

The pipeline side: each case's lines go through Filebeat's multiline grouping, the Logstash ruby
filter script itself (Ruby 3.1, the language of Logstash 9's JRuby), the date and fingerprint
filters, and must give exactly the documents the contract lists. The consumer side: the index
template, roles, Grafana, Kibana, Filebeat, the alert rules and the smoke test must agree with those
documents and with each other (consumers.py); copies of the repository broken on purpose must fail.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import consumers
import pipeline
from conftest import ROOT

CASES = pipeline.Paths().contract["cases"]
# The sources the stack runs: each must have at least one case (renaming one breaks this too).
STACK_SOURCES = {"prometheus", "alertmanager", "node-exporter", "grafana", "elasticsearch", "kibana", "logstash",
                 "filebeat", "jaeger", "demo-app", "demo-postgres", "demo-redis"}


@pytest.fixture(scope="module")
def ruby(tool) -> Path:
    return tool("ruby")


@pytest.fixture(scope="module")
def results(ruby) -> dict[str, list[dict]]:
    return pipeline.run_contract(ruby, pipeline.Paths())


@pytest.fixture(scope="module")
def documents(results) -> list[dict]:
    return [doc for docs in results.values() for doc in docs]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_each_case_becomes_its_documents(results, case):
    got = [pipeline.line_fields(doc) for doc in results[case["id"]]]
    assert got == case["documents"], f"{case['id']} ({case['source']})"


def test_the_contract_covers_every_source_the_stack_runs():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    covered = {case["service"] for case in CASES}
    assert STACK_SOURCES <= covered, f"no case for {sorted(STACK_SOURCES - covered)}"
    assert STACK_SOURCES <= set(compose), f"not compose services: {sorted(STACK_SOURCES - set(compose))}"
    assert all(case.get("source") and case.get("lines") for case in CASES)
    assert len({case["id"] for case in CASES}) == len(CASES)


def test_only_the_stacks_own_probes_are_dropped(results):
    dropped = {case["id"] for case in CASES if not case["documents"]}
    assert dropped == {"demo-app-healthcheck-probe", "blackbox-probe-of-a-user-app"}
    assert results["demo-app-healthz-from-a-user"], "a /healthz request from anyone else is kept"


def test_unparsed_lines_are_kept_and_tagged(results):
    for case_id, tag in (("plain-text", "_unstructured"), ("broken-json", "_jsonparsefailure"),
                         ("unknown-level", "_level_unknown")):
        (document,) = results[case_id]
        assert tag in document["tags"] and document["message"], case_id


def test_a_replayed_batch_gets_the_same_ids(ruby):
    paths = pipeline.Paths()
    first = pipeline.run_contract(ruby, paths)
    second = pipeline.run_contract(ruby, paths)
    ids = [[d["@metadata"]["_id"] for d in docs] for docs in first.values()]
    assert ids == [[d["@metadata"]["_id"] for d in docs] for docs in second.values()]


@pytest.mark.parametrize("check", consumers.CHECKS, ids=[c.__name__ for c in consumers.CHECKS])
def test_every_consumer_agrees_with_the_contract(check, documents):
    assert check(pipeline.Paths(), documents) == []


# A one-word change in any consumer must be caught: (file, text, replacement, what breaks).
SABOTAGE = [
    ("logstash/scripts/ecs.rb", '"[trace][id]"', '"[trace][traceid]"', "the trace id field renamed in the pipeline"),
    ("filebeat/filebeat.yml", "/var/lib/docker/containers/*/*-json.log\n", "/var/lib/docker/container/*/*-json.log\n",
     "Filebeat pointed at a wrong folder"),
    ("grafana/provisioning/datasources/datasources.yml", "index: logs-docker-*", "index: logs-dokcer-*",
     "Grafana's logs datasource on a wrong index pattern"),
    ("elasticsearch/setup/roles/logstash_writer.json", '"logs-docker-*"', '"logs-app-*"',
     "the writer role on a wrong index pattern"),
    ("elasticsearch/setup/roles/logstash_writer.json", '"create_doc"', '"create_document"',
     "a privilege Elasticsearch does not have"),
    ("elasticsearch/setup/index-templates/logs-docker.json", '"trace": {"properties": {"id"',
     '"trace": {"properties": {"ids"', "the mapping of trace.id renamed"),
    ("logstash/pipeline/logstash.conf", "port => 5044", "port => 5045", "the beats port moved on one side"),
    ("logstash/pipeline/logstash.conf", 'data_stream_dataset => "docker"', 'data_stream_dataset => "containers"',
     "the data stream renamed"),
    ("kibana/setup/data-view-logs.json", '"trace.id": {', '"trace_id": {', "Kibana's link on a field that does not exist"),
    ("grafana/provisioning/datasources/datasources.yml", "query: 'trace.id:", "query: 'traceId:",
     "trace-to-logs on a free-text field"),
    ("prometheus/rules/logging.yml", 'index=~"\\\\.ds-logs-.+"', 'index=~"\\\\.ds-log-.+"',
     "an alert on a wrong backing index"),
    ("src/obsstack/smoke/checks/elasticsearch.py", 'LOGS_DATA_STREAM = "logs-docker-default"', 'LOGS_DATA_STREAM = "logs-generic-default"',
     "the smoke test searching the wrong data stream"),
    ("prometheus/prometheus.yml", 'target: ["http://filebeat:5066/stats"]', 'target: ["http://filebeat:5067/stats"]',
     "Filebeat's stats port out of step"),
    ("json-exporter/config.yml", "data_stream: logs-docker-default", "data_stream: logs-docker-prod",
     "the failure store count labelled for another stream"),
    ("blackbox/blackbox.yml", "User-Agent: obsstack-probe/blackbox", "User-Agent: Blackbox Exporter",
     "a stack probe that no longer announces itself"),
    ("elasticsearch/setup/entrypoint.sh", 'traces_policy=jaeger-traces', 'traces_policy=jaeger-trace',
     "the traces retention attached under another name than installed"),
    ("docker-compose.yml", "filebeat-data:/usr/share/filebeat/data", "filebeat-data:/tmp/filebeat",
     "Filebeat's registry off its volume"),
    ("logstash/config/logstash.yml", "dead_letter_queue.enable: true", "dead_letter_queue.enable: false",
     "the dead letter queue turned off"),
    ("docs/runbooks/LogsRejectedIntoFailureStore.md", "9200/logs-docker-default::failures/_search",
     "9200/logs-docker::failures/_search",
     "a runbook reading a data stream that does not exist"),
]
COPIED = ["docs/runbooks", "blackbox", "demo/Dockerfile", "logstash", "filebeat", "elasticsearch", "kibana", "grafana/provisioning", "prometheus", "json-exporter",
          "src/obsstack/smoke/checks/elasticsearch.py", "docker-compose.yml", ".env.example", "tests/fixtures/elasticsearch"]


@pytest.mark.parametrize("path, text, replacement, what", SABOTAGE, ids=[s[3] for s in SABOTAGE])
def test_a_broken_consumer_is_caught(ruby, tmp_path, path, text, replacement, what):
    for item in COPIED:
        source, target = ROOT / item, tmp_path / item
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
    broken = tmp_path / path
    original = broken.read_text()
    assert text in original, f"{path} no longer contains {text!r}: update this sabotage"
    broken.write_text(original.replace(text, replacement, 1))
    paths = pipeline.Paths(tmp_path)
    try:
        results = pipeline.run_contract(ruby, paths)
    except AssertionError:  # the pipeline itself refuses the broken config: caught
        return
    differs = any([pipeline.line_fields(d) for d in results[case["id"]]] != case["documents"] for case in paths.contract["cases"])
    errors = consumers.run_all(paths, [doc for docs in results.values() for doc in docs])
    assert differs or errors, f"{what}: not caught"
