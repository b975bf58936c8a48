"""Elasticsearch and the logs pipeline: cluster health, the logs template, an empty failure store,
and a line written into a container's output found in Elasticsearch as an ECS document."""
from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import requests

from ..stack import TIMEOUT_S, Skip, Stack, get

# Where the logs go (logstash/pipeline/logstash.conf) and the template that shapes them
# (elasticsearch/setup/index-templates/); tests/contract checks both names against those files.
LOGS_DATA_STREAM = "logs-docker-default"
LOGS_INDEX_TEMPLATE = "logs-docker"


def cluster_health(stack: Stack) -> str:
    es = stack.needs("elasticsearch")
    health = get(es, "/_cluster/health").json()
    if health["status"] == "red":
        raise AssertionError(f"cluster red: {health}")
    templates = get(es, f"/_index_template/{LOGS_INDEX_TEMPLATE}").json()["index_templates"]
    if not templates:
        raise AssertionError(f"the {LOGS_INDEX_TEMPLATE} index template is missing: did elasticsearch-setup run?")
    failures = requests.get(f"{es.url}/{LOGS_DATA_STREAM}::failures/_count", auth=es.auth, timeout=TIMEOUT_S,
                            params={"ignore_unavailable": "true", "allow_no_indices": "true"})
    refused = failures.json().get("count", 0) if failures.status_code == 200 else 0
    if refused:
        raise AssertionError(f"{refused} log documents refused into the failure store of {LOGS_DATA_STREAM} "
                             "(docs/runbooks/LogsRejectedIntoFailureStore.md)")
    return f"cluster {health['status']}, {LOGS_INDEX_TEMPLATE} template present, failure store empty"


def log_line_searchable(stack: Stack) -> str:
    es = stack.needs("elasticsearch")
    stack.needs("filebeat")
    if shutil.which("docker") is None:
        raise Skip("the docker CLI is needed to write a log line into a container's output")
    tag = f"smoke-{uuid.uuid4().hex}"
    # A logfmt line, as Alertmanager writes them, into its container's stdout: Filebeat reads every
    # container's json-file log, and Logstash must make it an ECS document of the right service.
    line = f'time=2026-01-01T00:00:00.000Z level=WARN source=smoke.go:1 msg={tag}'
    subprocess.run(["docker", "compose", "--project-directory", str(stack.project_dir), "exec", "-T", "alertmanager",
                    "sh", "-c", f"echo '{line}' > /proc/1/fd/1"], check=True, capture_output=True, timeout=30)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        hits = requests.get(f"{es.url}/{LOGS_DATA_STREAM}/_search", auth=es.auth, timeout=TIMEOUT_S,
                            params={"q": f'message:"{tag}"'}).json().get("hits", {}).get("hits", [])
        if hits:
            document = hits[0]["_source"]
            shape = {"service.name": document.get("service", {}).get("name"),
                     "log.level": document.get("log", {}).get("level")}
            if shape != {"service.name": "alertmanager", "log.level": "warning"}:
                raise AssertionError(f"log line {tag} stored with {shape}, not as ECS of alertmanager at warning")
            return f"log line {tag} searchable as ECS ({shape})"
        time.sleep(2)
    raise AssertionError(f"log line {tag} not in {LOGS_DATA_STREAM} within 90s")


CHECKS = [("elasticsearch", "cluster health", cluster_health), ("filebeat", "log line searchable", log_line_searchable)]
