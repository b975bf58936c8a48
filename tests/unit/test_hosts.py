"""`obsstack hosts` (src/obsstack/hosts.py, agent_bundle.py): one command adds a host, with the
centre's side rendered from the registry; the bundle it builds is checked by the real Compose CLI
and the real promtool; removing a host revokes it in every file the centre reads."""
from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import bcrypt
import pytest
import yaml
from cryptography import x509

from obsstack import agent_bundle, compose, envfile, hosts, rendered
from obsstack.cli import main

ROOT = Path(__file__).resolve().parents[2]
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def centre(project_copy: Path) -> tuple[Path, Path]:
    env = project_copy / ".env"
    envfile.ensure_env(project_copy / ".env.example", env)
    return project_copy, env


def trusted(project: Path) -> set[str]:
    """The common names of the certificates Logstash's hosts' intake trusts."""
    bundle = (project / hosts.LOGSTASH_TLS / "hosts-trust.pem").read_bytes()
    return {cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
            for cert in x509.load_pem_x509_certificates(bundle)}


def add(project: Path, env: Path, name: str, *extra: str) -> int:
    ca = project / "caddy-root.crt"
    ca.write_text(CA_PEM)
    return main(["hosts", "--project-dir", str(project), "--env-file", str(env), "add", name, f"{name}.example", "--central-ca", str(ca), *extra])


def test_agent_folder_is_rendered_from_the_stacks_own_files():
    assert rendered.stale(agent_bundle.rendered_files(ROOT)) == [], "run `obsstack hosts render-agent`"
    services = agent_bundle.render_compose(ROOT)["services"]
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in agent_bundle.SHARED_SERVICES:
        assert services[name]["image"] == base[name]["image"]
        assert services[name]["command"] == base[name]["command"]
    assert services["prometheus-agent"]["image"] == base["prometheus"]["image"]
    # Profile gpu: the GPU overlay's dcgm-exporter and our exporter with its GPU access, as docker-compose.gpu.yml has them.
    overlay = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())["services"]
    assert services["dcgm-exporter"]["image"] == overlay["dcgm-exporter"]["image"]
    assert services["dcgm-exporter"]["profiles"] == ["gpu"] == services["gpu-exporter"]["profiles"]
    assert services["gpu-exporter"]["deploy"]["resources"]["reservations"] == overlay["gpu-exporter"]["deploy"]["resources"]["reservations"]
    assert services["filebeat"]["image"] == base["filebeat"]["image"]


def test_add_two_hosts_writes_bundles_and_the_centres_side(centre, compose_cmd, tool, capsys):
    project, env = centre
    assert add(project, env, "gpu-node-1") == 0
    out = capsys.readouterr().out
    assert "ssh gpu-node-1.example 'mkdir -p obsstack-agent && tar -xzf - -C obsstack-agent" in out
    assert add(project, env, "gpu-node-2", "--central-url", "https://a.example:9443", "--central-url", "https://b.example:9444") == 0

    values = envfile.read_env(env)
    web = yaml.safe_load((project / hosts.CENTRAL_WEB).read_text())["basic_auth_users"]
    assert set(web) == {"prometheus", "gpu-node-1", "gpu-node-2"}
    assert web["prometheus"] == values["PROMETHEUS_WEB_PASSWORD_HASH"]
    for name in ("gpu-node-1", "gpu-node-2"):
        bundle = project / "hosts" / name
        assert oct((bundle / ".env").stat().st_mode & 0o777) == "0o600"
        assert oct((project / "hosts" / f"{name}.tar.gz").stat().st_mode & 0o777) == "0o600"
        # The real Compose CLI renders the bundle with its own .env, every secret as a config.
        project_json = compose.render(bundle, bundle / ".env", [], [bundle / "docker-compose.yml"], compose_cmd)
        assert set(project_json["services"]) == {"node-exporter", "cadvisor", "docker-socket-proxy", "prometheus-agent", "filebeat"}
        password = project_json["configs"]["agent_password"]["content"]
        assert len(password) >= 32 and bcrypt.checkpw(password.encode(), web[name].encode()), "the bundle's password is the centre's hash"
        client = x509.load_pem_x509_certificate(project_json["configs"]["filebeat_cert"]["content"].encode())
        assert client.subject.rfc4514_string() == f"CN={name}"
        assert all(not service.get("ports") for service in project_json["services"].values()), "an agent publishes nothing"
        # The real promtool accepts its agent config; every series will carry its host label.
        config = yaml.safe_load((bundle / "prometheus.yml").read_text())
        assert config["global"]["external_labels"] == {"host": name}
        for write in config["remote_write"]:
            write["basic_auth"]["password_file"] = str(bundle / ".env")
            write.get("tls_config", {})["ca_file"] = str(bundle / ".env")
        checked = bundle / "checked.yml"
        checked.write_text(yaml.safe_dump(config))
        proc = subprocess.run([str(tool("promtool")), "check", "config", "--agent", str(checked)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        with tarfile.open(project / "hosts" / f"{name}.tar.gz") as tar:
            assert {"./docker-compose.yml", "./filebeat.yml", "./prometheus.yml", "./.env"} <= set(tar.getnames())
    two = yaml.safe_load((project / "hosts/gpu-node-2/prometheus.yml").read_text())["remote_write"]
    assert [w["url"] for w in two] == ["https://a.example:9443/api/v1/write", "https://b.example:9444/api/v1/write"]

    # The centre's other files: the expected hosts, Logstash's accepted names, the OTLP logins.
    rules = yaml.safe_load((project / hosts.EXPECTED_RULES).read_text())
    assert sorted(r["labels"]["host"] for r in rules["groups"][0]["rules"]) == ["gpu-node-1", "gpu-node-2"]
    proc = subprocess.run([str(tool("promtool")), "check", "rules", str(project / hosts.EXPECTED_RULES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert trusted(project) == {"gpu-node-1", "gpu-node-2", "obsstack placeholder (no key exists)"}, "only the hosts' own certificates"
    assert [line.split()[0] for line in (project / hosts.OTLP_USERS).read_text().splitlines()] == ["gpu-node-1", "gpu-node-2"]
    server = x509.load_pem_x509_certificate((project / hosts.LOGSTASH_TLS / "server.crt").read_bytes())
    assert "localhost" in str(server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    assert oct((project / "hosts/ca/ca.key").stat().st_mode & 0o777) == "0o600"

    # Removing revokes it everywhere the centre looks, and deletes its bundle.
    assert main(["hosts", "--project-dir", str(project), "--env-file", str(env), "remove", "gpu-node-1"]) == 0
    assert set(yaml.safe_load((project / hosts.CENTRAL_WEB).read_text())["basic_auth_users"]) == {"prometheus", "gpu-node-2"}
    assert "gpu-node-1" not in (project / hosts.OTLP_USERS).read_text()
    assert trusted(project) == {"gpu-node-2", "obsstack placeholder (no key exists)"}
    assert not (project / "hosts/gpu-node-1").exists() and not (project / "hosts/gpu-node-1.tar.gz").exists()


@pytest.mark.parametrize("name, message", [("prometheus", "stack's own users"), ("Bad_Name", "lower-case"), ("edge-", "lower-case")])
def test_bad_names_are_refused_and_nothing_is_written(centre, name, message, capsys):
    project, env = centre
    assert add(project, env, name) == 2
    assert message in capsys.readouterr().err
    assert not (project / "hosts").exists() or not any((project / "hosts").glob("*.tar.gz"))


def test_adding_twice_or_removing_an_unknown_host_says_so(centre, capsys):
    project, env = centre
    assert add(project, env, "edge-1") == 0
    assert add(project, env, "edge-1") == 2
    assert "already added" in capsys.readouterr().err
    assert main(["hosts", "--project-dir", str(project), "--env-file", str(env), "remove", "nope"]) == 2
    assert "no host 'nope' (added: edge-1)" in capsys.readouterr().err


def test_internal_tls_without_the_centres_ca_is_refused(centre, capsys):
    project, env = centre
    assert main(["hosts", "--project-dir", str(project), "--env-file", str(env), "add", "edge-1", "10.0.0.5"]) == 2
    assert "--central-ca" in capsys.readouterr().err
    assert not (project / "hosts" / "edge-1").exists()


def test_with_the_ha_overlay_agents_write_to_both_replicas():
    env = {"TLS_HOSTNAME": "obs.example", "PROMETHEUS_TLS_PORT": "9443", "PROMETHEUS_B_TLS_PORT": "9444"}
    assert hosts.central_urls(env) == ["https://obs.example:9443"]
    assert hosts.central_urls({**env, "COMPOSE_FILE": "docker-compose.yml:docker-compose.ha.yml"}) == [
        "https://obs.example:9443", "https://obs.example:9444"]
