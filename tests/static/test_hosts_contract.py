"""The other hosts' paths to the centre, held together where the programs cannot run here (Logstash,
Filebeat): every port, path and option name one side writes is the one the other side reads.
Option names: logstash-input-beats 7.0.x as bundled with Logstash 9.5.1 (lib/logstash/inputs/beats.rb),
Filebeat 9.5.1's output.logstash ssl.* (elastic-agent-libs tlscommon), logstash-core 9.5's
ssl.reload.automatic."""
from __future__ import annotations

import re

import yaml

from conftest import ROOT
from obsstack import agent_bundle, hosts

PIPELINE = ROOT / "logstash/pipeline/logstash.conf"
LOGSTASH_GENERATED = "/usr/share/logstash/generated"


def hosts_input() -> str:
    match = re.search(r'beats \{\s*id => "hosts_beats"(.*?)\n  \}', PIPELINE.read_text(), re.S)
    assert match, "logstash.conf has no beats input with id hosts_beats"
    return match[1]


def option(block: str, name: str) -> str:
    found = re.search(rf"^\s*{name} => (.+)$", block, re.M)
    assert found, f"hosts_beats has no {name}"
    return found[1].strip()


def test_the_hosts_input_requires_a_client_certificate_and_exposes_its_subject():
    block = hosts_input()
    assert option(block, "port") == str(hosts.LOGSTASH_HOSTS_PORT)
    assert option(block, "ssl_enabled") == "true"
    assert option(block, "ssl_client_authentication") == '"required"'
    assert "ssl_peer_metadata" in option(block, "enrich")
    # The obsolete names stop logstash-input-beats 7 from starting.
    assert not re.search(r"ssl_verify_mode|ssl =>|ssl_peer_metadata =>", block)
    # The subject the input writes is the one the filter reads (ECS v8, Logstash 9's default).
    assert "[@metadata][input][beats][tls][client][subject]" in PIPELINE.read_text().split("filter {", 1)[1]


def test_the_hosts_input_reads_the_files_obsstack_writes(project_copy):
    from obsstack import envfile

    block = hosts_input()
    paths = [option(block, name).strip('[]"') for name in ("ssl_certificate", "ssl_key", "ssl_certificate_authorities")]
    envfile.ensure_env(project_copy / ".env.example", project_copy / ".env")
    written = hosts.render_central(project_copy, envfile.read_env(project_copy / ".env"))
    for path in paths:
        assert path.startswith(LOGSTASH_GENERATED + "/"), path
        assert project_copy / "logstash/generated" / path.removeprefix(LOGSTASH_GENERATED + "/") in written, path
    key = (project_copy / hosts.LOGSTASH_TLS / "server.key").read_text()
    assert key.startswith("-----BEGIN PRIVATE KEY-----"), "the beats input needs a PKCS#8 key"


def test_compose_mounts_and_publishes_the_hosts_intake(render):
    logstash = render(("logging",))["services"]["logstash"]
    mounts = {v["target"]: v["source"] for v in logstash["volumes"]}
    assert mounts[LOGSTASH_GENERATED].endswith("logstash/generated")
    assert any(p["target"] == hosts.LOGSTASH_HOSTS_PORT and p["published"] == str(hosts.LOGSTASH_HOSTS_PORT)
               for p in logstash["ports"]), logstash["ports"]
    settings = yaml.safe_load((ROOT / "logstash/config/logstash.yml").read_text())
    assert settings["config.reload.automatic"] is True and settings["ssl.reload.automatic"] is True, \
        "without both, a removed host's certificate stays trusted until Logstash restarts"


def test_the_agents_filebeat_presents_its_certificate_to_that_port():
    filebeat = agent_bundle.render_filebeat(ROOT)
    compose = agent_bundle.render_compose(ROOT)["services"]["filebeat"]
    mounted = {c["target"] for c in compose["configs"]}
    output = filebeat["output.logstash"]
    for key in ("ssl.certificate", "ssl.key"):
        assert output[key] in mounted, key
    assert set(output["ssl.certificate_authorities"]) <= mounted
    assert output["ssl.verification_mode"] == "full" and output["hosts"] == ["${LOGSTASH_HOSTS}"]
    assert filebeat["processors"] == [{"add_fields": {"target": "host", "fields": {"name": "${HOST_NAME}"}}}]
    assert "HOST_NAME" in compose["environment"] and "LOGSTASH_HOSTS" in compose["environment"]


def test_env_example_documents_the_port():
    assert re.search(rf"^LOGSTASH_HOSTS_PORT={hosts.LOGSTASH_HOSTS_PORT}$", (ROOT / ".env.example").read_text(), re.M)
