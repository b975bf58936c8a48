"""The HA overlay (docker-compose.ha.yml, src/obsstack/ha.py): its configs are rendered from the base
ones and current, accepted by the real promtool, and the overlay renders with the real Compose CLI
with the same hardening and commands as the base services it extends."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obsstack import compose, ha, rendered
from obsstack.durations import parse_duration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(compose_cmd, env_file):
    return compose.render(ROOT, env_file, None, [ROOT / "docker-compose.yml", ROOT / "docker-compose.ha.yml"], compose_cmd)


def test_rendered_configs_are_current():
    assert rendered.stale(ha.rendered_files(ROOT)) == [], "run `obsstack ha render`"


def test_ha_prometheus_config_is_valid_and_drops_the_replica_label_where_it_must(tool, tmp_path):
    config = yaml.safe_load((ROOT / ha.PROMETHEUS_OUT).read_text())
    assert config["global"]["external_labels"]["replica"] == "${PROMETHEUS_REPLICA}"
    drop = [{"action": "labeldrop", "regex": "replica"}]
    # Alerts: the same alert from both replicas, so the cluster deduplicates it.
    assert config["alerting"]["alert_relabel_configs"] == drop
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [f"{n}:9093" for n in ha.ALERTMANAGERS]
    # The long-term store: one series for both replicas, deduplicated there.
    (write,) = config["remote_write"]
    assert write["write_relabel_configs"] == drop and write["url"] == "http://victoriametrics:8428/api/v1/write"
    # promtool resolves the relative paths from the file's folder: check it where compose mounts it.
    copy = tmp_path / "prometheus"
    subprocess.run(["cp", "-r", str(ROOT / "prometheus"), str(copy)], check=True)
    (copy / "prometheus.yml").write_text((ROOT / ha.PROMETHEUS_OUT).read_text())
    for job in config["scrape_configs"] + config["remote_write"] + config["alerting"]["alertmanagers"]:
        auth = job.get("basic_auth")
        if auth:
            auth["password_file"] = str(copy / "prometheus.yml")
    (copy / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([str(tool("promtool")), "check", "config", "--syntax-only", str(copy / "prometheus.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_victoriametrics_deduplicates_at_the_scrape_interval(project):
    scrape = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())["global"]["scrape_interval"]
    flags = dict(arg.split("=", 1) for arg in project["services"]["victoriametrics"]["command"])
    assert parse_duration(flags["-dedup.minScrapeInterval"]) == parse_duration(scrape)
    assert flags["-httpAuth.password"].startswith("file://"), "the password from a file, never the command line"


def test_overlay_renders_with_replicas_a_cluster_and_the_same_hardening(project):
    services = project["services"]
    assert services["prometheus"]["environment"]["PROMETHEUS_REPLICA"] == "a"
    assert services["prometheus-b"]["environment"]["PROMETHEUS_REPLICA"] == "b"
    assert services["prometheus-b"]["command"] == services["prometheus"]["command"]
    for name in ("prometheus", "prometheus-b"):
        volumes = {v["target"]: v["source"] for v in services[name]["volumes"]}
        assert volumes["/etc/prometheus/prometheus.yml"].endswith("prometheus/ha/prometheus.yml")
    assert {v["target"]: v["source"] for v in services["prometheus-b"]["volumes"]}["/prometheus"] == "prometheus-b-data"
    peers = set()
    for name in ha.ALERTMANAGERS:
        command = services[name]["command"]
        assert "--cluster.listen-address=0.0.0.0:9094" in command
        peers |= {arg.split("=", 1)[1] for arg in command if arg.startswith("--cluster.peer=")}
        assert not any(p.get("target") == 9094 for p in services[name].get("ports", [])), "gossip stays on the stack's network"
    assert peers == {f"{name}:9094" for name in ha.ALERTMANAGERS}
    for name in ("prometheus-b", *ha.ALERTMANAGERS, "victoriametrics"):
        service = services[name]
        assert service["cap_drop"] == ["ALL"] and service["read_only"] is True, name
        assert "no-new-privileges:true" in service["security_opt"], name
        limits = service["deploy"]["resources"]["limits"]
        assert limits["memory"] and limits["cpus"], name
        assert all(p["host_ip"] == "127.0.0.1" for p in service.get("ports", [])), name
        assert service.get("healthcheck"), name
    datasources = {v["target"] for v in services["grafana"]["volumes"]}
    assert "/etc/grafana/provisioning/datasources" in datasources


def test_alertmanager_ha_command_is_the_base_command_with_gossip_on(compose_cmd, env_file, project):
    base = compose.render(ROOT, env_file, None, [ROOT / "docker-compose.yml"], compose_cmd)["services"]["alertmanager"]["command"]
    ha_command = project["services"]["alertmanager"]["command"]
    strip = lambda command: [arg for arg in command if not arg.startswith("--cluster.")]
    assert strip(ha_command) == strip(base), "docker-compose.ha.yml's Alertmanager flags drifted from the base file's"


def test_grafana_reads_victoriametrics_with_the_stacks_login():
    sources = {s["uid"]: s for s in yaml.safe_load((ROOT / ha.DATASOURCES_OUT).read_text())["datasources"]}
    assert sources["victoriametrics"]["url"] == "http://victoriametrics:8428"
    assert sources["victoriametrics"]["basicAuthUser"] == sources["prometheus"]["basicAuthUser"]
    assert sources["prometheus"]["isDefault"] is True and sources["victoriametrics"]["isDefault"] is False


def test_the_cluster_overlays_components_are_scraped_where_they_listen(compose_cmd, env_file):
    """With docker-compose.vm-cluster.yml, `victoriametrics` is vmauth (no storage metrics): the job
    also finds vminsert, vmselect and each vmstorage by DNS, at the ports their commands listen on."""
    files = [ROOT / name for name in ("docker-compose.yml", "docker-compose.ha.yml", "docker-compose.vm-cluster.yml")]
    services = compose.render(ROOT, env_file, None, files, compose_cmd)["services"]
    job = next(j for j in yaml.safe_load((ROOT / ha.PROMETHEUS_OUT).read_text())["scrape_configs"] if j["job_name"] == "victoriametrics")
    found = {(d["names"][0], d["port"]) for d in job["dns_sd_configs"]}
    expected = set()
    for name, service in services.items():
        if service["image"].startswith(("victoriametrics/vminsert", "victoriametrics/vmselect", "victoriametrics/vmstorage")):
            listen = next(arg for arg in service["command"] if arg.startswith("-httpListenAddr="))
            expected.add((name, int(listen.rsplit(":", 1)[1])))
    assert expected and found == expected


def test_the_tls_proxy_serves_the_second_replica_where_agents_write(compose_cmd, env_file):
    files = [ROOT / "docker-compose.yml", ROOT / "docker-compose.ha.yml"]
    proxy = compose.render(ROOT, env_file, ["tls"], files, compose_cmd)["services"]["tls-proxy"]
    extra = proxy["environment"]["TLS_EXTRA_SITES"]
    assert extra.startswith("/etc/caddy/") and (ROOT / "tls-proxy" / extra.removeprefix("/etc/caddy/")).is_file()
    port = int(proxy["environment"]["PROMETHEUS_B_TLS_PORT"])
    assert any(int(p["target"]) == port and p["host_ip"] == "127.0.0.1" for p in proxy["ports"])
    assert "prometheus-b:9090" in (ROOT / "tls-proxy/ha.caddy").read_text()
