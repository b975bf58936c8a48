"""Every consumer of the logs contract, checked against it and against each other.

Each check takes the checkout (pipeline.Paths) and the documents the contract's lines become, and
returns what does not match, as sentences naming the file and the name at fault. The same checks
run on the repository (test_log_contract.py: no complaint allowed) and on copies broken on purpose
(a renamed field, a wrong folder, a wrong index pattern, a privilege Elasticsearch lacks: each
must be caught).
"""
from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

import yaml

from pipeline import ISO_UTC, Paths, flatten, multiline_settings

Documents = list[dict[str, Any]]
Check = Callable[[Paths, Documents], list[str]]

# Grafana's log levels (its LogLevel names): the one vocabulary log.level may hold.
LEVELS = {"trace", "debug", "info", "warning", "error", "critical"}
# A backing index and a Jaeger index as Elasticsearch and Jaeger name them.
BACKING_INDEX = ".ds-{stream}-2026.12.04-000001"
JAEGER_INDICES = ("jaeger-span-2026-12-04", "jaeger-service-2026-12-04")
DOCKER_LOG = "/var/lib/docker/containers/{id}/{id}-json.log"
PRIVILEGES_FILE = "tests/fixtures/elasticsearch/privileges.yml"


# ------------------------------------------------------------------------------------ helpers
def data_stream(paths: Paths) -> str:
    """logs-<dataset>-<namespace>, as logstash.conf's elasticsearch output names it."""
    conf = paths.logstash_conf
    values = {}
    for key in ("data_stream_type", "data_stream_dataset", "data_stream_namespace"):
        match = re.search(rf'{key}\s*=>\s*"([^"]+)"', conf)
        values[key] = match[1] if match else ""
    return "-".join(values[k] for k in ("data_stream_type", "data_stream_dataset", "data_stream_namespace"))


def template(paths: Paths) -> dict[str, Any]:
    (found,) = [p for p in (paths.root / "elasticsearch/setup/index-templates").glob("*.json")]
    return json.loads(found.read_text())


def mapped_fields(paths: Paths) -> dict[str, dict[str, Any]]:
    """Dotted field name -> its mapping, from the index template."""
    fields: dict[str, dict[str, Any]] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")
            else:
                fields[f"{prefix}{name}"] = spec

    walk(template(paths)["template"]["mappings"]["properties"], "")
    return fields


def compose(paths: Paths) -> dict[str, Any]:
    return yaml.safe_load(paths.read("docker-compose.yml"))


def roles(paths: Paths) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in (paths.root / "elasticsearch/setup/roles").glob("*.json")}


def covers(role: dict[str, Any], index: str, privilege: str) -> bool:
    return any(privilege in group["privileges"] and any(fnmatch.fnmatch(index, n) for n in group["names"])
               for group in role.get("indices", []))


def datasources(paths: Paths) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(paths.read("grafana/provisioning/datasources/datasources.yml"))
    return {source["uid"]: source for source in config["datasources"]}


def documents_with(documents: Documents, field: str) -> int:
    return sum(1 for doc in documents if field in flatten(doc))


# ------------------------------------------------------------------------------------ checks
def check_envelope(paths: Paths, documents: Documents) -> list[str]:
    errors = []
    host = None
    for job in yaml.safe_load(paths.read("prometheus/prometheus.yml"))["scrape_configs"]:
        for rule in job.get("relabel_configs", []):
            if rule.get("target_label") == "host" and "replacement" in rule:
                host = rule["replacement"]
    for doc in documents:
        flat = flatten(doc)
        for field in ("container.id", "container.name", "container.image.name", "labels.stream",
                      "labels.compose_service", "event.created", "log.file.path", "log.offset"):
            if field not in flat:
                errors.append(f"document of {flat.get('labels.compose_service')} lacks {field}")
        if flat.get("host.name") != host:
            errors.append(f"host.name {flat.get('host.name')!r} is not the `host` label metrics carry ({host!r}): "
                          "filebeat/filebeat.yml add_fields and prometheus/prometheus.yml must agree")
        if "container.labels" in str(flat.keys()):
            errors.append("container.labels.* (every Docker label) reaches the document")
    return errors


def check_documents_fit_the_mapping(paths: Paths, documents: Documents) -> list[str]:
    """dynamic: false indexes only mapped fields: an unmapped one is silently unsearchable, a value of
    the wrong type sends the document to the failure store."""
    mapping = template(paths)["template"]["mappings"]
    errors = [] if mapping.get("dynamic") is False else ["the logs template must map dynamic: false"]
    fields = mapped_fields(paths)
    seen_types: dict[str, set[str]] = {}
    for doc in documents:
        for name, value in flatten(doc).items():
            if name.startswith("@metadata"):
                continue
            spec = fields.get(name)
            if spec is None:
                errors.append(f"{name} is in the documents but not mapped in the logs index template")
                continue
            seen_types.setdefault(name, set()).add(type(value).__name__)
            kind = spec["type"]
            ok = {
                "keyword": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
                "constant_keyword": lambda v: isinstance(v, str),
                "wildcard": lambda v: isinstance(v, str),
                "match_only_text": lambda v: isinstance(v, str),
                "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
                "date_nanos": lambda v: isinstance(v, str) and bool(ISO_UTC.match(v)),
                "flattened": lambda v: isinstance(v, dict),
            }.get(kind)
            if ok is None:
                errors.append(f"{name}: mapping type {kind} has no check here")
            elif not ok(value):
                errors.append(f"{name} = {value!r} does not fit its mapping ({kind})")
    errors += [f"{name} has values of several types across sources: {sorted(kinds)}"
               for name, kinds in seen_types.items() if len(kinds) > 1 and name != "tags"]
    return errors


def check_levels_and_messages(paths: Paths, documents: Documents) -> list[str]:
    errors = []
    for doc in documents:
        flat = flatten(doc)
        level = flat.get("log.level")
        if level is not None and level not in LEVELS:
            errors.append(f"log.level {level!r} is outside Grafana's vocabulary {sorted(LEVELS)}")
        message = str(flat.get("message", ""))
        if message.lstrip().startswith("{") and "_jsonparsefailure" not in flat.get("tags", []):
            errors.append(f"message holds raw JSON: {message[:60]}")
    return errors


def check_document_ids(paths: Paths, documents: Documents) -> list[str]:
    ids = [doc["@metadata"]["_id"] for doc in documents]
    if len(set(ids)) != len(ids):
        return ["two different lines got the same document id: Elasticsearch would drop one as a duplicate"]
    conf = paths.logstash_conf
    if not re.search(r'document_id\s*=>\s*"%\{\[@metadata\]\[document_id\]\}"', conf) \
            or not re.search(r'target\s*=>\s*"\[@metadata\]\[document_id\]"', conf):
        return ["logstash.conf: the output's document_id must be the fingerprint filter's target"]
    return []


def check_index_template_matches_the_data_stream(paths: Paths, documents: Documents) -> list[str]:
    stream = data_stream(paths)
    patterns = template(paths)["index_patterns"]
    errors = [] if any(fnmatch.fnmatch(stream, p) for p in patterns) else [
        f"logstash.conf writes {stream}, which the logs index template ({patterns}) does not match"]
    if "data_stream" not in template(paths):
        errors.append("the logs index template must create a data stream")
    if not re.search(r"manage_template\s*=>\s*false", paths.logstash_conf) and \
            not re.search(r"data_stream_auto_routing\s*=>\s*false", paths.logstash_conf):
        errors.append("logstash.conf must route every event to one data stream")
    return errors


def check_roles(paths: Paths, documents: Documents) -> list[str]:
    stream = data_stream(paths)
    known = yaml.safe_load(paths.read(PRIVILEGES_FILE))
    errors = []
    for name, role in roles(paths).items():
        errors += [f"role {name}: Elasticsearch 9.5 has no cluster privilege {p}"
                   for p in role.get("cluster", []) if p not in known["cluster"]]
        for group in role.get("indices", []):
            errors += [f"role {name}: Elasticsearch 9.5 has no index privilege {p}"
                       for p in group["privileges"] if p not in known["indices"]]
    every = roles(paths)
    wants = [("logstash_writer", stream, "create_doc"), ("logstash_writer", stream, "auto_configure"),
             ("grafana_reader", stream, "read"), ("failure_store_reader", stream, "read_failure_store")]
    wants += [("grafana_reader", index, "read") for index in JAEGER_INDICES]
    wants += [("jaeger_writer", index, "create_doc") for index in JAEGER_INDICES]
    for role, index, privilege in wants:
        if not covers(every.get(role, {}), index, privilege):
            errors.append(f"role {role} does not grant {privilege} on {index}")
    script = paths.read("elasticsearch/setup/entrypoint.sh")
    for user, assigned in re.findall(r'\[(\w+)\]="(\S+) [A-Z_]+"', script):
        for role in assigned.split(","):
            if role != "-" and role not in every and role not in known["reserved_roles"]:
                errors.append(f"user {user} is given role {role}, which is neither defined nor built in")
    return errors


def check_grafana(paths: Paths, documents: Documents) -> list[str]:
    sources = datasources(paths)
    fields = mapped_fields(paths)
    logs = next((s for s in sources.values() if s["type"] == "elasticsearch"), None)
    if logs is None:
        return ["Grafana has no Elasticsearch logs datasource"]
    data = logs["jsonData"]
    stream = data_stream(paths)
    errors = []
    if not fnmatch.fnmatch(stream, data["index"]):
        errors.append(f"Grafana's logs datasource reads {data['index']}, which does not match {stream}")
    for key in ("timeField", "logMessageField", "logLevelField"):
        if data.get(key) not in fields:
            errors.append(f"Grafana's {key} {data.get(key)!r} is not a mapped field")
        elif documents_with(documents, data[key]) == 0:
            errors.append(f"Grafana's {key} {data[key]!r} is in no document of the contract")
    for link in data.get("dataLinks", []):
        if link["field"] not in fields or documents_with(documents, link["field"]) == 0:
            errors.append(f"Grafana's data link field {link['field']!r} is not in the documents")
        if link.get("datasourceUid") not in sources:
            errors.append(f"Grafana's data link points at datasource {link.get('datasourceUid')!r}, which does not exist")
    for source in sources.values():
        to_logs = source.get("jsonData", {}).get("tracesToLogsV2")
        if not to_logs:
            continue
        if to_logs["datasourceUid"] != logs["uid"]:
            errors.append("Jaeger's trace-to-logs points at another datasource than the logs one")
        query = to_logs.get("query", "") if to_logs.get("customQuery") else ""
        match = re.fullmatch(r'([\w.]+):"\$\$\{__(?:trace|span)\.traceId\}"', query)
        if not match:
            errors.append(f"Jaeger's trace-to-logs must query the trace id field exactly, not {query!r}")
        elif match[1] not in fields or documents_with(documents, match[1]) == 0:
            errors.append(f"Jaeger's trace-to-logs queries {match[1]}, which is not in the documents")
    return errors


def check_kibana_data_view(paths: Paths, documents: Documents) -> list[str]:
    view = json.loads(paths.read("kibana/setup/data-view-logs.json"))["data_view"]
    fields = mapped_fields(paths)
    errors = []
    if not fnmatch.fnmatch(data_stream(paths), view["title"]):
        errors.append(f"Kibana's data view {view['title']} does not match {data_stream(paths)}")
    if view["timeFieldName"] not in fields:
        errors.append(f"Kibana's time field {view['timeFieldName']} is not mapped")
    for field, spec in view.get("fieldFormats", {}).items():
        if field not in fields or documents_with(documents, field) == 0:
            errors.append(f"Kibana formats {field}, which is not in the documents")
        template_url = spec.get("params", {}).get("urlTemplate", "")
        if spec.get("id") == "url" and not template_url.startswith("@JAEGER_PUBLIC_URL@/trace/{{value}}"):
            errors.append(f"Kibana's {field} link {template_url!r} is not the Jaeger trace page")
    services = compose(paths)["services"]
    ui_port = next((p.split(":")[-1] for p in services["jaeger"].get("ports", []) if "JAEGER_UI_PORT" in p), None)
    public = str(services["elasticsearch-maintenance"]["environment"].get("JAEGER_PUBLIC_URL", ""))
    if ui_port is None or not re.search(rf":{ui_port}\}}?$", public.rstrip("}")) and f":-http://localhost:{ui_port}" not in public:
        errors.append(f"JAEGER_PUBLIC_URL default ({public}) is not Jaeger's published UI port {ui_port}")
    return errors


def check_filebeat(paths: Paths, documents: Documents) -> list[str]:
    filebeat = paths.filebeat
    services = compose(paths)["services"]
    errors = []
    mounts = [v.split(":")[1] for v in services["filebeat"]["volumes"] if isinstance(v, str)]
    docker_logs = [m for m in mounts if m.startswith("/var/lib/docker/containers")]
    for stream in ("stdout", "stderr"):
        try:
            settings = multiline_settings(filebeat, stream)
        except AssertionError as exc:
            errors.append(str(exc))
            continue
        if re.search(r"\(\?[<=!P]|\\[1-9]|\[\[:", settings["pattern"]):
            errors.append("the multiline pattern uses syntax that Go's RE2 or Python's re lacks")
    for item in filebeat["filebeat.inputs"]:
        live = DOCKER_LOG.format(id="abc123")
        for wanted in (live, live + ".1"):
            if not any(fnmatch.fnmatch(wanted, glob) for glob in item["paths"]):
                errors.append(f"Filebeat input {item['id']} does not read {wanted}")
        for glob in item["paths"]:
            if not any(glob.startswith(m + "/") for m in docker_logs):
                errors.append(f"Filebeat reads {glob}, outside what compose mounts ({docker_logs})")
        identity = item.get("prospector.scanner.fingerprint", {})
        if not identity.get("enabled") or identity.get("length", 1024) > 64:
            errors.append(f"Filebeat input {item['id']} would skip files under 1024 bytes (fingerprint length)")
    host, _, port = filebeat["output.logstash"]["hosts"][0].partition(":")
    if host not in services:
        errors.append(f"Filebeat ships to {host}, which is no compose service")
    beats_port = re.search(r"beats\s*\{[^}]*port\s*=>\s*(\d+)", paths.logstash_conf)
    if not beats_port or beats_port[1] != port:
        errors.append(f"Filebeat ships to port {port}, the Logstash beats input listens on {beats_port and beats_port[1]}")
    stats_port = str(filebeat["http"]["port"])
    jobs = {job["job_name"]: job for job in yaml.safe_load(paths.read("prometheus/prometheus.yml"))["scrape_configs"]}
    target = jobs.get("filebeat", {}).get("params", {}).get("target", [""])[0]
    if target != f"http://filebeat:{stats_port}/stats":
        errors.append(f"Prometheus probes Filebeat's stats at {target!r}, Filebeat serves them on :{stats_port}/stats")
    if stats_port not in str(services["filebeat"]["healthcheck"]["test"]):
        errors.append("Filebeat's healthcheck does not probe its stats port")
    return errors


def check_alert_rules_and_exporters(paths: Paths, documents: Documents) -> list[str]:
    stream = data_stream(paths)
    errors = []
    rules_text = paths.read("prometheus/rules/logging.yml")
    for pattern in re.findall(r'index=~"([^"]+)"', rules_text):
        regex = pattern.encode().decode("unicode_escape")
        if not re.fullmatch(regex, BACKING_INDEX.format(stream=stream)):
            errors.append(f"prometheus/rules/logging.yml: index=~{pattern!r} misses the backing index "
                          f"{BACKING_INDEX.format(stream=stream)}")
    exporter = yaml.safe_load(paths.read("json-exporter/config.yml"))["modules"]["failure_store"]
    labelled = {m.get("labels", {}).get("data_stream") for m in exporter["metrics"]}
    if labelled != {stream}:
        errors.append(f"json-exporter labels the failure store count {labelled}, the data stream is {stream}")
    jobs = {job["job_name"]: job for job in yaml.safe_load(paths.read("prometheus/prometheus.yml"))["scrape_configs"]}
    target = jobs.get("logs-failure-store", {}).get("params", {}).get("target", [""])[0]
    if f"/{stream}::failures/_count" not in target:
        errors.append(f"Prometheus counts the failure store at {target!r}, not of {stream}")
    if "logs_failure_store_documents" not in rules_text:
        errors.append("no alert reads the failure store count")
    return errors


def check_smoke_test(paths: Paths, documents: Documents) -> list[str]:
    smoke = paths.read("src/obsstack/smoke/checks/elasticsearch.py")
    stream = data_stream(paths)
    errors = []
    constants = dict(re.findall(r'^(LOGS_\w+) = "([^"]+)"', smoke, re.M))
    if constants.get("LOGS_DATA_STREAM") != stream:
        errors.append(f"src/obsstack/smoke/checks/elasticsearch.py searches {constants.get('LOGS_DATA_STREAM')}, the logs go to {stream}")
    template_name = next((p.stem for p in (paths.root / "elasticsearch/setup/index-templates").glob("*.json")), None)
    if constants.get("LOGS_INDEX_TEMPLATE") != template_name:
        errors.append(f"src/obsstack/smoke/checks/elasticsearch.py checks template {constants.get('LOGS_INDEX_TEMPLATE')}, setup installs {template_name}")
    for field in re.findall(r'"(\w+(?:\.\w+)*)": ?(?:tag|service)', smoke):
        if field not in mapped_fields(paths):
            errors.append(f"src/obsstack/smoke/checks/elasticsearch.py reads {field}, which is not mapped")
    return errors


def check_retention(paths: Paths, documents: Documents) -> list[str]:
    errors = []
    services = compose(paths)["services"]
    env = services["elasticsearch-setup"]["environment"]
    placeholders = set(re.findall(r"@([A-Z_]+)@", paths.read("elasticsearch/setup/index-templates/logs-docker.json")))
    placeholders |= set(re.findall(r"@([A-Z_]+)@", paths.read("elasticsearch/setup/ilm/jaeger-traces.json")))
    errors += [f"the setup job does not get {name}" for name in sorted(placeholders) if name not in env]
    example = paths.read(".env.example")
    for name in placeholders:
        default = re.search(rf"\${{{name}:-([^}}]+)\}}", str(env.get(name, "")))
        line = re.search(rf"^{name}=(.*)$", example, re.M)
        if not default or not line or default[1] != line[1]:
            errors.append(f"{name}: the compose default and .env.example disagree")
    script = paths.read("elasticsearch/setup/entrypoint.sh")
    policy = re.search(r"^traces_policy=(\S+)", script, re.M)
    indices = re.search(r'^jaeger_indices="([^"]+)"', script, re.M)
    if not policy or not (paths.root / f"elasticsearch/setup/ilm/{policy[1]}.json").exists():
        errors.append("the traces policy the script attaches is not the one it installs")
    for index in JAEGER_INDICES:
        if not indices or not any(fnmatch.fnmatch(index, p) for p in indices[1].split(",")):
            errors.append(f"the traces policy is never attached to {index}")
    return errors


def check_runbooks_query_real_indices(paths: Paths, documents: Documents) -> list[str]:
    """An index or data stream a runbook's command names must be one the stack writes."""
    stream = data_stream(paths)
    real = [stream, f"{stream}::failures", BACKING_INDEX.format(stream=stream), f".fs-{stream}-2026.12.04-000002",
            *JAEGER_INDICES, "jaeger-dependencies-2026-12-04"]
    errors = []
    for runbook in sorted((paths.root / "docs/runbooks").glob("*.md")):
        for url_path in re.findall(r"9200/([^?'\s\"]+)", runbook.read_text()):
            parts = url_path.split("/")
            target = parts[1] if parts[0] in ("_data_stream", "_cat") and len(parts) > 1 and parts[0] != "_cat" else \
                parts[2] if parts[0] == "_cat" and len(parts) > 2 else parts[0]
            if not target or target.startswith("_"):
                continue
            for expression in target.split(","):
                if expression.isupper():  # a placeholder the reader fills in (INDEX)
                    continue
                # Example names carry other dates and generations: compare their shape, digits as 0.
                shape = re.sub(r"\d", "0", expression.replace("YYYY", "0000").replace("MM", "00")
                               .replace("DD", "00").replace("NNNNNN", "000000"))
                if not any(fnmatch.fnmatch(re.sub(r"\d", "0", name), shape) for name in real):
                    errors.append(f"{runbook.name} queries {expression}, which matches no index the stack writes")
    return errors


def check_state_survives_restarts(paths: Paths, documents: Documents) -> list[str]:
    """Filebeat's registry and Logstash's queues live in their images' data folders: each must be a
    named volume, or a restart forgets what was read and what was queued."""
    services = compose(paths)["services"]
    volumes = set(compose(paths).get("volumes", {}))
    errors = []
    for service, data in (("filebeat", "/usr/share/filebeat/data"), ("logstash", "/usr/share/logstash/data")):
        mounted = {v.split(":")[1]: v.split(":")[0] for v in services[service]["volumes"] if isinstance(v, str)}
        if mounted.get(data) not in volumes:
            errors.append(f"{service}: {data} (registry or queues) is not on a named volume")
    settings = yaml.safe_load(paths.read("logstash/config/logstash.yml"))
    if settings.get("queue.type") != "persisted" or settings.get("dead_letter_queue.enable") is not True:
        errors.append("logstash.yml: the persisted queue and the dead letter queue must both be on")
    if any(key in settings for key in ("path.queue", "path.dead_letter_queue", "path.data")):
        errors.append("logstash.yml moves a queue off the data volume")
    return errors


def check_probes_announce_themselves(paths: Paths, documents: Documents) -> list[str]:
    """The pipeline drops a line only when its User-Agent is the stack's probe prefix: every probe the
    stack runs against an app must send it, or its lines flood the logs."""
    script = paths.read("logstash/scripts/ecs.rb")
    match = re.search(r"PROBE_AGENT = /\\A(.+?)/\.freeze", script)
    if not match:
        return ["logstash/scripts/ecs.rb: PROBE_AGENT not found"]
    prefix = match[1].replace("\\/", "/")
    errors = []
    modules = yaml.safe_load(paths.read("blackbox/blackbox.yml"))["modules"]
    for name, module in modules.items():
        if module["prober"] == "http":
            agent = module.get("http", {}).get("headers", {}).get("User-Agent", "")
            if not agent.startswith(prefix):
                errors.append(f"blackbox module {name} sends User-Agent {agent!r}, not {prefix}...")
    healthcheck = str(compose(paths)["services"]["demo-app"]["healthcheck"]["test"])
    dockerfile = paths.read("demo/Dockerfile")
    for where, text in (("the demo-app healthcheck", healthcheck), ("demo/Dockerfile's HEALTHCHECK", dockerfile)):
        if f"'User-Agent': '{prefix}" not in text:
            errors.append(f"{where} does not send User-Agent {prefix}...")
    return errors


CHECKS: list[Check] = [
    check_envelope, check_documents_fit_the_mapping, check_levels_and_messages, check_document_ids,
    check_index_template_matches_the_data_stream, check_roles, check_grafana, check_kibana_data_view,
    check_filebeat, check_alert_rules_and_exporters, check_smoke_test, check_retention,
    check_probes_announce_themselves, check_runbooks_query_real_indices, check_state_survives_restarts,
]


def run_all(paths: Paths, documents: Documents) -> list[str]:
    errors = []
    for check in CHECKS:
        try:
            errors += [f"{check.__name__}: {e}" for e in check(paths, documents)]
        except (KeyError, ValueError, AssertionError, StopIteration, TypeError, json.JSONDecodeError) as exc:
            errors.append(f"{check.__name__}: {type(exc).__name__}: {exc}")
    return errors
