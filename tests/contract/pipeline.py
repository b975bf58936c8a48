"""The logs pipeline, Filebeat -> Logstash -> Elasticsearch, run as far as it can run here.

Each stage is driven by the project's own config, read from its file:
  - Filebeat: Docker's json-file records, the filestream `multiline` parser (pattern, negate, match,
    max_lines from filebeat/filebeat.yml) and the fields add_docker_metadata / add_fields give;
  - Logstash: the pipeline's real ruby filter script (logstash/scripts/ecs.rb), executed by Ruby 3.1
    (the language level of Logstash 9's JRuby 9.4), then the date and fingerprint filters with the
    options read from logstash/pipeline/logstash.conf;
  - Elasticsearch: the index template's mapping (elasticsearch/setup/index-templates/), against which
    each document is type-checked as `dynamic: false` indexing would see it.
What cannot run here (the JVM processes themselves) is run by tests/docker/ where Docker exists.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from log_documents import ENVELOPE, flatten, line_fields  # noqa: F401  (re-exported for the tests)

from obsstack import paths

ROOT = paths.project_dir()
# Docker's capture time of each case's first line (a line without a time of its own keeps it).
START = datetime(2026, 12, 4, 1, 40, tzinfo=timezone.utc)
CONTRACT = Path("logstash/contract/log-lines.yml")
RUNNER = Path(__file__).with_name("run_ruby_filter.rb")
COMPOSE_PROJECT = "observability"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})Z$")


@dataclass(frozen=True)
class Paths:
    """Where each config lives, relative to a checkout (a test may point it at a broken copy)."""

    root: Path = ROOT

    def read(self, relative: str | Path) -> str:
        return (self.root / relative).read_text()

    @property
    def filebeat(self) -> dict[str, Any]:
        return yaml.safe_load(self.read("filebeat/filebeat.yml"))

    @property
    def logstash_conf(self) -> str:
        return self.read("logstash/pipeline/logstash.conf")

    @property
    def contract(self) -> dict[str, Any]:
        return yaml.safe_load(self.read(CONTRACT))


# ------------------------------------------------------------------------------------ Filebeat
def stream_input(filebeat: dict[str, Any], stream: str) -> dict[str, Any]:
    """The filestream input whose container parser reads this stream (stdout or stderr)."""
    found = [i for i in filebeat["filebeat.inputs"]
             if any(p.get("container", {}).get("stream") in (stream, "all") for p in i.get("parsers", []))]
    assert len(found) == 1, f"filebeat.yml: {len(found)} inputs read the {stream} stream; exactly one must"
    return found[0]


def multiline_settings(filebeat: dict[str, Any], stream: str) -> dict[str, Any]:
    parsers = stream_input(filebeat, stream).get("parsers", [])
    names = [next(iter(parser)) for parser in parsers]
    assert names.count("multiline") == 1 and names.index("container") < names.index("multiline"), \
        f"filebeat.yml: the {stream} input needs the container parser, then one multiline parser"
    return parsers[names.index("multiline")]["multiline"]


def join_multiline(lines: list[str], settings: dict[str, Any]) -> list[list[str]]:
    """Filebeat's pattern multiline: with negate false and match after, a line matching the pattern
    is appended to the event before it; max_lines caps an event (the rest of its lines are dropped
    by Filebeat, so here too)."""
    assert settings.get("type", "pattern") == "pattern" and settings["match"] == "after"
    pattern = re.compile(settings["pattern"])
    negate = bool(settings.get("negate", False))
    max_lines = int(settings.get("max_lines", 500))
    events: list[list[str]] = []
    for line in lines:
        continues = bool(pattern.search(line)) != negate
        if continues and events:
            if len(events[-1]) < max_lines:
                events[-1].append(line)
        else:
            events.append([line])
    return events


def static_host_name(filebeat: dict[str, Any]) -> str | None:
    for processor in filebeat.get("processors", []):
        fields = processor.get("add_fields", {})
        if fields.get("target") == "host":
            return fields["fields"].get("name")
    return None


def filebeat_events(case: dict[str, Any], paths: Paths, start: datetime, offset: int = 0) -> list[dict[str, Any]]:
    """What Filebeat sends Logstash for one case: one event per (joined) line, with Docker's time;
    `offset` is where the case's lines start in its container's log file."""
    filebeat = paths.filebeat
    service = case["service"]
    container_id = hashlib.sha256(f"{COMPOSE_PROJECT}-{service}".encode()).hexdigest()
    events = []
    stream = case.get("stream", "stdout")
    groups = join_multiline([str(line) for line in case["lines"]], multiline_settings(filebeat, stream))
    for index, group in enumerate(groups):
        captured = start + timedelta(microseconds=index * 1000 + 1)
        message = "\n".join(group)
        event: dict[str, Any] = {
            "@timestamp": captured.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
            "message": message,
            "stream": stream,
            "log": {"file": {"path": f"/var/lib/docker/containers/{container_id}/{container_id}-json.log"},
                    "offset": offset},
            "input": {"type": "filestream"},
            "agent": {"type": "filebeat", "version": "9.5.1"},
            "ecs": {"version": "8.0.0"},
            "host": {"name": static_host_name(filebeat) or "filebeat-container"},
            "container": {"id": container_id, "name": f"{COMPOSE_PROJECT}-{service}-1",
                          "image": {"name": case.get("image", f"{service}:test")},
                          "labels": {"com_docker_compose_service": service,
                                     "com_docker_compose_project": COMPOSE_PROJECT}},
            "tags": ["beats_input_codec_plain_applied"],
            # Logstash adds it to every event it creates.
            "@version": "1",
        }
        if len(group) > 1:
            event["log"]["flags"] = ["multiline"]
        offset += sum(len(line) + 1 for line in group)
        events.append(event)
    return events


# ------------------------------------------------------------------------------------ Logstash
def run_ruby_filter(ruby: Path, events: list[dict[str, Any]], paths: Paths) -> list[list[dict[str, Any]]]:
    """The pipeline's ruby filter, for real: returns, per event, the events it passes on."""
    script = ruby_filter_script(paths.logstash_conf)
    proc = subprocess.run([str(ruby), str(RUNNER), str(paths.root / script)], input=json.dumps(events),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{script} failed under Ruby:\n{proc.stderr[-3000:]}"
    return [result["kept"] for result in json.loads(proc.stdout)]


def ruby_filter_script(conf: str) -> Path:
    """logstash.conf names the script by its path inside the container; map it to the repository."""
    found = re.findall(r'ruby\s*\{[^}]*?path\s*=>\s*"([^"]+)"', conf)
    assert len(found) == 1, "logstash.conf: expected one ruby filter with a script path"
    container_path = found[0]
    prefix = "/usr/share/logstash/scripts/"
    assert container_path.startswith(prefix), f"ruby script {container_path} is not under {prefix}"
    return Path("logstash/scripts") / container_path[len(prefix):]


def date_filter(conf: str) -> tuple[str, list[str]]:
    """(source field, formats) of the date filter that sets @timestamp."""
    block = re.search(r"date\s*\{(.*?)\n\s*\}", conf, re.S)
    assert block, "logstash.conf: no date filter"
    match = re.search(r'match\s*=>\s*\[\s*"([^"]+)"((?:\s*,\s*"[^"]+")+)\s*\]', block[1])
    assert match, "logstash.conf: the date filter has no match => [field, formats...]"
    target = re.search(r'target\s*=>\s*"([^"]+)"', block[1])
    assert target is None or target[1] == "@timestamp", "the date filter must set @timestamp"
    return match[1], re.findall(r'"([^"]+)"', match[2])


def get_field(document: dict[str, Any], reference: str) -> Any:
    keys = re.findall(r"\[([^\]]+)\]", reference) if reference.startswith("[") else [reference]
    node: Any = document
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def apply_date(document: dict[str, Any], conf: str) -> None:
    source, formats = date_filter(conf)
    value = get_field(document, source)
    if value is None:
        return
    assert "ISO8601" in formats, "the ruby filter writes ISO 8601; the date filter must accept it"
    assert ISO_UTC.match(str(value)), f"{source} = {value!r} is not ISO 8601 UTC"
    document["@timestamp"] = value


def fingerprint_settings(conf: str) -> dict[str, Any]:
    block = re.search(r"fingerprint\s*\{(.*?)\n\s*\}", conf, re.S)
    assert block, "logstash.conf: no fingerprint filter"
    body = block[1]
    sources = re.search(r'source\s*=>\s*\[((?:\s*"[^"]*"\s*,?)+)\s*\]', body)
    target = re.search(r'target\s*=>\s*"([^"]+)"', body)
    method = re.search(r'method\s*=>\s*"([^"]+)"', body)
    assert sources and target and method, "fingerprint needs source, target and method"
    assert re.findall(r'"([^"]+)"', sources[1]), "fingerprint has no source field"
    return {"sources": re.findall(r'"([^"]+)"', sources[1]), "target": target[1], "method": method[1],
            "concatenate": bool(re.search(r"concatenate_sources\s*=>\s*true", body))}


def fingerprint(document: dict[str, Any], settings: dict[str, Any]) -> str:
    """The fingerprint filter (v3.5.0, fingerprint.rb) with concatenate_sources: "|field|value" for
    each source in sorted order, a closing "|", then the digest in hex."""
    assert settings["method"] == "SHA256" and settings["concatenate"]
    text = ""
    for source in sorted(settings["sources"]):
        value = get_field(document, source)
        assert value is not None, f"fingerprint source {source} is missing from the event"
        text += f"|{source}|{value}"
    return hashlib.sha256((text + "|").encode()).hexdigest()


def logstash(ruby: Path, events: list[dict[str, Any]], paths: Paths) -> list[list[dict[str, Any]]]:
    """ruby filter -> date -> fingerprint, as logstash.conf orders them, for each event: the
    documents it becomes (none when dropped). The document id is kept in [@metadata][_id]."""
    conf = paths.logstash_conf
    settings = fingerprint_settings(conf)
    results = run_ruby_filter(ruby, events, paths)
    for kept in results:
        for document in kept:
            apply_date(document, conf)
            document.setdefault("@metadata", {})
            document["@metadata"]["_id"] = fingerprint(document, settings)
    return results


def run_contract(ruby: Path, paths: Paths) -> dict[str, list[dict[str, Any]]]:
    """Every case of the contract through the pipeline, in one Ruby run: case id -> its documents."""
    cases = paths.contract["cases"]
    events, owners = [], []
    # One log file per container: cases of the same service follow each other in it.
    offsets: dict[str, int] = {}
    for case in cases:
        start = offsets.get(case["service"], 0)
        for event in filebeat_events(case, paths, START, start):
            events.append(event)
            owners.append(case["id"])
        offsets[case["service"]] = start + sum(len(str(line)) + 1 for line in case["lines"])
    documents: dict[str, list[dict[str, Any]]] = {case["id"]: [] for case in cases}
    for owner, kept in zip(owners, logstash(ruby, events, paths)):
        documents[owner].extend(kept)
    return documents
