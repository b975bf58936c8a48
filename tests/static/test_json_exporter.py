"""json-exporter/config.yml against the JSON it reads and the series the stack reads from it.

json_exporter cannot run here (no Debian package); its config format is read from its source at
v0.7.0 (config/config.go): metrics with a name, a Kubernetes JSONPath `path`, static `labels`, and a
lower-case `valuetype`. The paths are evaluated here on recorded API answers
(json-exporter/testdata/), and every `filebeat_*` and `logs_failure_store_*` series that a rule,
dashboard or runbook reads must be one the config produces.
"""
from __future__ import annotations

import json
import re

import pytest
import yaml
from conftest import ROOT

CONFIG = yaml.safe_load((ROOT / "json-exporter/config.yml").read_text())
FIXTURES = {"filebeat": "filebeat-stats.json", "failure_store": "failure-store-count.json"}
PREFIXES = ("filebeat_", "logs_failure_store_")


def resolve(path: str, document: dict):
    """The subset of Kubernetes JSONPath the config uses: {.a.b.c}."""
    match = re.fullmatch(r"\{((?:\.[A-Za-z_][\w-]*)+)\}", path)
    assert match, f"{path}: only {{.a.b.c}} paths are used (and checked) here"
    node = document
    for key in match[1].strip(".").split("."):
        assert isinstance(node, dict) and key in node, f"{path}: no {key!r} in the recorded answer"
        node = node[key]
    return node


def produced() -> set[str]:
    return {metric["name"] for module in CONFIG["modules"].values() for metric in module["metrics"]}


@pytest.mark.parametrize("module", sorted(CONFIG["modules"]))
def test_every_path_reads_a_number_from_the_real_answer(module):
    document = json.loads((ROOT / "json-exporter/testdata" / FIXTURES[module]).read_text())
    for metric in CONFIG["modules"][module]["metrics"]:
        assert metric.get("type", "value") == "value", metric["name"]
        assert metric.get("valuetype") in ("gauge", "counter"), f"{metric['name']}: valuetype must be lower case"
        value = resolve(metric["path"], document)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (metric["name"], value)
        assert all(isinstance(v, str) and not v.startswith("{") for v in metric.get("labels", {}).values())


def test_metrics_of_one_name_differ_by_labels_and_share_help():
    seen: dict[str, list[dict]] = {}
    for module in CONFIG["modules"].values():
        for metric in module["metrics"]:
            seen.setdefault(metric["name"], []).append(metric)
    for name, metrics in seen.items():
        label_sets = [tuple(sorted(m.get("labels", {}).items())) for m in metrics]
        assert len(set(label_sets)) == len(label_sets), f"{name}: two series with the same labels"
        assert len({m.get("help") for m in metrics}) == 1 and len({m["valuetype"] for m in metrics}) == 1, name


def test_every_series_the_stack_reads_is_produced():
    sources = [ROOT / "prometheus/rules/logging.yml", *sorted((ROOT / "grafana/dashboards").rglob("*.json")),
               *sorted((ROOT / "docs/runbooks").glob("*.md"))]
    read = set()
    for source in sources:
        read |= {name for name in re.findall(r"\b((?:filebeat|logs_failure_store)_[a-z_]+)\b", source.read_text())
                 if name.startswith(PREFIXES)}
    missing = sorted(read - produced())
    assert read and not missing, f"read but not exported by json-exporter/config.yml: {missing}"


def test_the_failure_store_module_logs_in_with_a_mounted_password_file():
    client = CONFIG["modules"]["failure_store"]["http_client_config"]["basic_auth"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["json-exporter"]
    targets = {c["target"] for c in compose["configs"]}
    assert client["password_file"] in targets and "password" not in client
    assert client["username"] in (ROOT / "elasticsearch/setup/entrypoint.sh").read_text()
