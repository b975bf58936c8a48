"""Configs of the components that cannot run here (Grafana, Elastic stack, Jaeger, dcgm-exporter),
checked statically against the rendered compose project: every variable a config reads is set in
its container, every file it mounts exists, every reference resolves."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import PROFILES, ROOT
from obsstack.rules import load_rules

# config file (repo path) -> (compose service that mounts it, variable syntax it expands)
ENV_REFERENCES = {
    "kibana/kibana.yml": ("kibana", r"\$\{([A-Z0-9_]+)\}"),
    "logstash/pipeline/logstash.conf": ("logstash", r"\$\{([A-Z0-9_]+)\}"),
    "jaeger/config.yaml": ("jaeger", r"\$\{env:([A-Z0-9_]+)(?::-[^}]*)?\}"),
    # grafana/provisioning/datasources/datasources.yml reads files ($__file{...}) instead:
    # test_compose.py checks each is mounted with the right password.
    "elasticsearch/setup/entrypoint.sh": ("elasticsearch-setup elasticsearch-maintenance",
                                          r"\$\{([A-Z][A-Z0-9_]+)(?::[?-][^}]*)?\}"),
}


@pytest.fixture(scope="module")
def project(render):
    return render(PROFILES, gpu=True)


@pytest.mark.parametrize("path", ENV_REFERENCES)
def test_every_variable_a_config_reads_is_set_in_its_container(project, path):
    service, pattern = ENV_REFERENCES[path]
    text = (ROOT / path).read_text()
    names = set(re.findall(pattern, text))
    if path.endswith(".sh"):  # the script also reads passwords by indirection: [user]="roles VARIABLE"
        names |= set(re.findall(r'\]="\S+ ([A-Z][A-Z0-9_]+)"', text))
    assert names, f"{path}: no variables found; the pattern is stale"
    # A script run by several services in different modes: each variable set in one of them, at least.
    environment: dict[str, str] = {}
    for name in service.split():
        container = project["services"][name]
        environment.update(container.get("environment", {}))
        # entrypoint.sh also reads VARIABLE_FILES_DIR/<VARIABLE>: a config mounted there sets VARIABLE.
        secrets_dir = container.get("environment", {}).get("VARIABLE_FILES_DIR")
        for config in container.get("configs", []):
            if secrets_dir and config["target"].startswith(secrets_dir + "/"):
                content = project["configs"][config["source"]].get("content", "")
                environment.setdefault(config["target"].rsplit("/", 1)[1], content)
    optional = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", text))
    missing = sorted(name for name in names - optional if not environment.get(name))
    assert not missing, f"{path} reads {missing}, which the {service} container does not get"


def test_every_mounted_file_exists(project):
    for name, service in project["services"].items():
        for volume in service.get("volumes", []):
            source = volume.get("source", "")
            if volume["type"] == "bind" and source.startswith(str(ROOT)):
                assert Path(source).exists(), f"{name} mounts {source}, which is missing"


def test_grafana_datasources_have_fixed_unique_uids_and_links_resolve():
    config = yaml.safe_load((ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())
    sources = config["datasources"]
    uids = [d["uid"] for d in sources]
    assert len(uids) == len(set(uids)) and all(uids)
    assert [d["name"] for d in sources if d.get("isDefault")] == ["Prometheus"]
    referenced = set()
    for source in sources:
        data = source.get("jsonData", {})
        referenced |= {link["datasourceUid"] for link in data.get("exemplarTraceIdDestinations", [])}
        referenced |= {link["datasourceUid"] for link in data.get("dataLinks", [])}
        if "tracesToLogsV2" in data:
            referenced.add(data["tracesToLogsV2"]["datasourceUid"])
        assert source["url"].split("//")[1].split(":")[0] in {"prometheus", "alertmanager", "elasticsearch", "jaeger"}
    assert referenced and referenced <= set(uids)


def test_jaeger_pipeline_references_resolve():
    config = yaml.safe_load((ROOT / "jaeger/config.yaml").read_text())
    service = config["service"]
    for extension in service["extensions"]:
        assert extension in config["extensions"], extension
    for pipeline in service["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{kind}.{component} is not defined"
    backends = config["extensions"]["jaeger_storage"]["backends"]
    assert config["exporters"]["jaeger_storage_exporter"]["trace_storage"] in backends
    assert config["extensions"]["jaeger_query"]["storage"]["traces"] in backends
    # listeners must not default to localhost inside the container, or nothing can reach them
    for protocol in config["receivers"]["otlp"]["protocols"].values():
        assert protocol["endpoint"].startswith("0.0.0.0:")
    for backend in backends.values():
        for index in backend["elasticsearch"]["indices"].values():
            assert index["replicas"] == 0, "a single Elasticsearch node cannot hold replicas"


def test_filebeat_ships_to_the_logstash_beats_input(project):
    config = yaml.safe_load((ROOT / "filebeat/filebeat.yml").read_text())
    assert config["output.logstash"]["hosts"] == ["logstash:5044"]
    assert "port => 5044" in (ROOT / "logstash/pipeline/logstash.conf").read_text()
    inputs = config["filebeat.inputs"]
    assert [i.get("id") for i in inputs] == ["docker-stdout", "docker-stderr"]
    assert all(i["type"] == "filestream" for i in inputs), "Filebeat 9 needs filestream inputs with ids"
    mounts = {v["target"] for v in project["services"]["filebeat"]["volumes"]}
    assert "/var/lib/docker/containers" in mounts
    assert config["http"]["port"] == 5066 and "5066" in str(project["services"]["filebeat"]["healthcheck"]["test"])


def test_logstash_pipeline_braces_balance():
    text = re.sub(r'"[^"]*"|=~\s*/[^/]*/|#.*', "", (ROOT / "logstash/pipeline/logstash.conf").read_text())
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert re.search(r"^input\s*\{", text, re.M) and re.search(r"^output\s*\{", text, re.M)


def test_elasticsearch_setup_roles_exist_for_every_user():
    script = (ROOT / "elasticsearch/setup/entrypoint.sh").read_text()
    roles_on_disk = {p.stem for p in (ROOT / "elasticsearch/setup/roles").glob("*.json")}
    builtin = {"remote_monitoring_collector"}
    for user, roles in re.findall(r'\[(\w+)\]="(\S+) [A-Z_]+"', script):
        if roles == "-":
            continue
        for role in roles.split(","):
            assert role in roles_on_disk | builtin, f"user {user} needs role {role}"


def test_elasticsearch_security_is_on():
    config = yaml.safe_load((ROOT / "elasticsearch/elasticsearch.yml").read_text())
    assert config["xpack.security.enabled"] is True
    assert config["discovery.type"] == "single-node"


def test_kibana_uses_the_service_account_not_the_superuser():
    config = yaml.safe_load((ROOT / "kibana/kibana.yml").read_text())
    assert config["elasticsearch.username"] == "kibana_system"
    for key in ("xpack.security.encryptionKey", "xpack.encryptedSavedObjects.encryptionKey", "xpack.reporting.encryptionKey"):
        assert config[key].startswith("${"), key


@pytest.mark.parametrize("name", ["counters.csv", "counters-profiling.csv"])
def test_dcgm_counters_csv_is_well_formed(name):
    rows = [line for line in (ROOT / "dcgm" / name).read_text().splitlines() if line and not line.startswith("#")]
    assert rows
    for row in rows:
        field, kind, help_text = (part.strip() for part in row.split(",", 2))
        assert field.startswith(("DCGM_FI_", "DCGM_EXP_")) and kind in ("gauge", "counter") and help_text, row
        if name == "counters.csv":
            assert not field.startswith("DCGM_FI_PROF_"), "profiling fields need CAP_SYS_ADMIN"


def test_dcgm_collects_what_the_gpu_rules_read():
    fields = {line.split(",")[0].strip() for line in (ROOT / "dcgm/counters.csv").read_text().splitlines()
              if line and not line.startswith("#")}
    exprs = " ".join(str(rule["expr"]) for group in yaml.safe_load((ROOT / "prometheus/rules/gpu.yml").read_text())["groups"]
                     for rule in group["rules"])
    used = set(re.findall(r"DCGM_(?:FI|EXP)_[A-Z_]+", exprs))
    assert used and used <= fields, f"rules read fields dcgm does not collect: {sorted(used - fields)}"


def test_grafana_knows_which_prometheus_it_queries(project):
    prometheus = next(s for s in yaml.safe_load((ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())
                      ["datasources"] if s["uid"] == "prometheus")
    data = prometheus["jsonData"]
    image_tag = project["services"]["prometheus"]["image"].rpartition(":v")[2]
    assert data["prometheusType"] == "Prometheus" and data["prometheusVersion"] == image_tag
    assert data["manageAlerts"] is False, "alert rules live in prometheus/rules/, not in Grafana"


def test_traces_link_to_the_red_metrics_and_the_node_graph_is_on():
    jaeger = next(s for s in yaml.safe_load((ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())
                  ["datasources"] if s["uid"] == "jaeger")
    to_metrics = jaeger["jsonData"]["tracesToMetrics"]
    assert to_metrics["datasourceUid"] == "prometheus" and jaeger["jsonData"]["nodeGraph"]["enabled"] is True
    records = {rule.record for rule in load_rules(ROOT) if rule.record}
    for query in to_metrics["queries"]:
        names = set(re.findall(r"\b[a-z_]+:[a-z_:0-9]+\b", query["query"]))
        assert names and names <= records, f"{query['name']}: {names - records} are not recording rules"
