"""The compose files, rendered by the real Compose CLI, against the rules every service must meet."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PROFILES, ROOT, profile_sets

from obsstack import compose

ALL_COMBOS = profile_sets()
ONE_SHOT = "no"
EXACT_RELEASE_PARTS = {"postgres": 2}
# Host paths services may mount; everything else a service writes goes to a named volume.
# Each one is reasoned in .compose-lint.yml; /var/run/docker.sock is the socket proxy's alone.
HOST_MOUNTS_READ_ONLY = {"/", "/proc", "/sys", "/var/lib/docker/image", "/var/lib/docker/containers",
                         "/var/run/docker.sock"}


def services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return project["services"]


@pytest.mark.parametrize("gpu", [False, True], ids=["base", "gpu"])
@pytest.mark.parametrize("profiles", ALL_COMBOS, ids=lambda p: "+".join(p) or "core")
def test_config_renders_for_every_profile_combination(render, profiles, gpu):
    project = render(profiles, gpu)
    names = set(services(project))
    assert {"prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor", "postgres-exporter",
            "redis-exporter", "blackbox-exporter", "gpu-exporter"} <= names
    assert ("elasticsearch" in names) == bool({"logging", "tracing"} & set(profiles))
    assert ("kibana" in names) == ("logging" in profiles)
    assert ("jaeger" in names) == ("tracing" in profiles)
    assert ("demo-postgres" in names) == ("demo" in profiles)
    assert ("dcgm-exporter" in names) == gpu


def test_every_stack_service_is_wired(render):
    names = set(services(render(PROFILES, gpu=True)))
    expected = {"prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor", "postgres-exporter",
                "redis-exporter", "blackbox-exporter", "gpu-exporter", "elasticsearch", "elasticsearch-setup",
                "logstash", "kibana", "filebeat", "jaeger", "dcgm-exporter", "demo-postgres", "demo-redis", "demo-app",
                "elasticsearch-exporter", "logstash-exporter", "json-exporter", "elasticsearch-maintenance",
                    "docker-socket-proxy", "elasticsearch-backup-owner"}
    assert names == expected


def run_compose(compose_cmd: list[str], project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*compose_cmd, "--project-directory", str(project_dir), *args, "config", "-q"],
                          capture_output=True, text=True, cwd=project_dir, check=False)


def test_config_without_env_fails_naming_the_setup_command(compose_cmd, project_copy):
    assert not (project_copy / ".env").exists()
    proc = run_compose(compose_cmd, project_copy)
    assert proc.returncode != 0
    assert "required variable" in proc.stderr
    assert "make up" in proc.stderr and "scripts/setup.py" in proc.stderr


def test_config_with_blank_secret_fails(compose_cmd, project_copy, env_file):
    text = re.sub(r"(?m)^GRAFANA_ADMIN_PASSWORD=.*$", "GRAFANA_ADMIN_PASSWORD=", env_file.read_text())
    (project_copy / ".env").write_text(text)
    proc = run_compose(compose_cmd, project_copy)
    assert proc.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in proc.stderr


@pytest.fixture(scope="module")
def full(render) -> dict[str, Any]:
    return render(PROFILES, gpu=True)


def test_every_image_is_pinned_to_an_exact_release(full):
    for name, service in services(full).items():
        image = service.get("image", "")
        assert image, f"{name}: no image"
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and "@" not in repo, f"{name}: {image}"
        # an exact release, not a moving major or minor tag (PostgreSQL releases are MAJOR.MINOR)
        parts = tag.split("-")[0].lstrip("v").split(".")
        assert all(p.isdigit() for p in parts), f"{name}: {image}"
        assert len(parts) >= EXACT_RELEASE_PARTS.get(repo, 3), f"{name}: {image} is not an exact release"


# Images with nothing inside that could run a check (FROM scratch); Prometheus' TargetDown watches them.
NO_HEALTHCHECK_POSSIBLE = {"logstash-exporter"}


def test_every_long_running_service_has_a_healthcheck(full):
    for name, service in services(full).items():
        check = service.get("healthcheck", {})
        if service.get("restart") == ONE_SHOT or name in NO_HEALTHCHECK_POSSIBLE:
            assert name in NO_HEALTHCHECK_POSSIBLE or check.get("disable"), name
            continue
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        assert check.get("interval") and check.get("timeout") and check.get("retries"), f"{name}: healthcheck timing"


def test_every_service_has_limits_restart_logging_and_network(full):
    for name, service in services(full).items():
        limit = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert limit and compose.parse_bytes(limit) > 0, f"{name}: no memory limit"
        assert service.get("restart") in ("unless-stopped", "always", ONE_SHOT), f"{name}: restart policy"
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", f"{name}: log driver"
        assert logging.get("options", {}).get("max-size") and logging["options"].get("max-file"), f"{name}: rotation"
        assert "observability" in service.get("networks", {}), f"{name}: not on the observability network"
        assert "no-new-privileges:true" in service.get("security_opt", []), f"{name}: no-new-privileges"


def test_one_shot_jobs_are_adopted_in_every_profile_combination(render):
    """`up --wait` fails on a one-shot job that exited unless a running service depends on its completion."""
    for profiles in ALL_COMBOS:
        project_services = services(render(profiles))
        for name, service in project_services.items():
            if service.get("restart") != ONE_SHOT:
                continue
            adopters = [other for other, spec in project_services.items()
                        if spec.get("depends_on", {}).get(name, {}).get("condition") == "service_completed_successfully"]
            assert adopters, f"{name} has no service waiting for it with profiles {profiles}"


def test_dependencies_wait_for_health_or_completion(full):
    for name, service in services(full).items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert spec["condition"] in ("service_healthy", "service_completed_successfully"), (name, dependency)


def test_state_lives_in_named_volumes_and_host_mounts_are_read_only(full):
    for name, service in services(full).items():
        for volume in service.get("volumes", []):
            if volume["type"] == "volume":
                continue
            assert volume["type"] == "bind", (name, volume)
            source = volume["source"]
            inside_repo = source.startswith(str(ROOT))
            assert inside_repo or source in HOST_MOUNTS_READ_ONLY, f"{name}: unexpected host mount {source}"
            assert volume.get("read_only"), f"{name}: {source} is mounted writable; use a named volume"


def test_published_ports_bind_to_bind_address(full, render, tmp_path, env_file):
    ports = compose.published_ports(full)
    assert ports, "the UIs must be published"
    assert {p.host_ip for p in ports} == {"127.0.0.1"}
    opened = tmp_path / ".env"
    opened.write_text(env_file.read_text().replace("BIND_ADDRESS=127.0.0.1", "BIND_ADDRESS=0.0.0.0"))
    assert {p.host_ip for p in compose.published_ports(render(PROFILES, True, opened))} == {"0.0.0.0"}


def test_only_user_facing_endpoints_are_published(full):
    published = {(p.service, p.target) for p in compose.published_ports(full)}
    assert published == {("prometheus", 9090), ("alertmanager", 9093), ("grafana", 3000), ("kibana", 5601),
                         ("elasticsearch", 9200), ("jaeger", 16686), ("jaeger", 4317), ("jaeger", 4318),
                         # the other hosts' Filebeat (TLS, a client certificate each: tests/static/test_hosts_contract.py)
                         ("logstash", 5045)}


def test_exporters_watch_the_demo_databases_until_the_user_sets_theirs(render, env_file, tmp_path):
    default = services(render(PROFILES))
    assert default["postgres-exporter"]["environment"]["DATA_SOURCE_URI"].startswith("demo-postgres:5432/")
    assert default["redis-exporter"]["environment"]["REDIS_ADDR"] == "redis://demo-redis:6379"
    users = tmp_path / ".env"
    users.write_text(env_file.read_text()
                     .replace("MONITORED_POSTGRES_HOST=", "MONITORED_POSTGRES_HOST=db.internal")
                     .replace("MONITORED_REDIS_ADDR=", "MONITORED_REDIS_ADDR=rediss://cache.internal:6380")
                     .replace("MONITORED_REDIS_PASSWORD=", "MONITORED_REDIS_PASSWORD=theirs"))
    theirs_project = render(("logging",), env=users)
    theirs = services(theirs_project)
    assert theirs["postgres-exporter"]["environment"]["DATA_SOURCE_URI"].startswith("db.internal:5432/")
    assert theirs["redis-exporter"]["environment"]["REDIS_ADDR"] == "rediss://cache.internal:6380"
    # redis_exporter's password file is a JSON map keyed by the exact REDIS_ADDR: a key that does not
    # match means no password is sent, silently.
    passwords = json.loads(theirs_project["configs"]["monitored_redis_passwords"]["content"])
    assert passwords == {"rediss://cache.internal:6380": "theirs"}
    assert "REDIS_PASSWORD" not in theirs["redis-exporter"]["environment"]
    default_passwords = json.loads(render(PROFILES)["configs"]["monitored_redis_passwords"]["content"])
    assert list(default_passwords) == [default["redis-exporter"]["environment"]["REDIS_ADDR"]]


def test_only_the_socket_proxy_mounts_the_docker_socket(full):
    # Its clients' URLs: tests/static/test_proxies_and_backup_contracts.py.
    mounts = {name for name, service in services(full).items()
              for volume in service.get("volumes", []) if "docker.sock" in volume.get("source", "")}
    assert mounts == {"docker-socket-proxy"}


def test_profiles_and_gpu_overlay_come_from_env(compose_cmd, project_copy, env_file):
    """COMPOSE_PROFILES and COMPOSE_FILE in .env decide what a plain `docker compose up` starts."""
    env = env_file.read_text()
    (project_copy / ".env").write_text(env)
    default = compose.render(project_copy, command=compose_cmd)
    assert {"kibana", "jaeger", "demo-redis"} <= set(default["services"])
    (project_copy / ".env").write_text(env.replace("COMPOSE_PROFILES=logging,tracing,demo", "COMPOSE_PROFILES=")
                                       .replace("COMPOSE_FILE=docker-compose.yml",
                                                "COMPOSE_FILE=docker-compose.yml:docker-compose.gpu.yml"))
    trimmed = compose.render(project_copy, command=compose_cmd)
    assert "kibana" not in trimmed["services"] and "jaeger" not in trimmed["services"]
    assert "dcgm-exporter" in trimmed["services"]


def test_secrets_reach_containers_only_through_env_and_generated_configs(full, env_file):
    from obsstack.envfile import read_env, read_example

    secrets = {s.key for s in read_example(ROOT / ".env.example") if s.generate}
    values = read_env(env_file)
    # Prometheus' logins: rendered by setup into prometheus/generated/web.yml (tests/unit/test_hosts.py).
    assert "--web.config.file=/etc/prometheus/generated/web.yml" in full["services"]["prometheus"]["command"]
    grafana = full["services"]["grafana"]["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana, "from a file, not the environment"
    targets = {c["target"]: full["configs"][c["source"]]["content"] for c in full["services"]["grafana"]["configs"]}
    assert targets[grafana["GF_SECURITY_ADMIN_PASSWORD__FILE"]] == values["GRAFANA_ADMIN_PASSWORD"]
    assert targets[grafana["GF_SECURITY_SECRET_KEY__FILE"]] == values["GRAFANA_SECRET_KEY"]
    # Every $__file{...} the provisioned datasources read is mounted, holding the right password.
    datasources = (ROOT / "grafana/provisioning/datasources/datasources.yml").read_text()
    read = dict(zip(re.findall(r"\$__file\{([^}]+)\}", datasources), ("PROMETHEUS_WEB_PASSWORD", "ALERTMANAGER_WEB_PASSWORD",
                                                                       "GRAFANA_ES_PASSWORD")))
    assert len(read) == 3 and all(targets[path] == values[variable] for path, variable in read.items()), read
    jaeger = yaml.safe_load((ROOT / "jaeger/config.yaml").read_text())
    basic = jaeger["extensions"]["jaeger_storage"]["backends"]["elasticsearch"]["elasticsearch"]["auth"]["basic"]
    jaeger_files = {c["target"]: full["configs"][c["source"]]["content"] for c in full["services"]["jaeger"]["configs"]}
    assert "password" not in basic and jaeger_files[basic["password_file"]] == values["JAEGER_ES_PASSWORD"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert secrets >= {"GRAFANA_ADMIN_PASSWORD", "ELASTIC_PASSWORD", "KIBANA_ENCRYPTION_KEY", "PROMETHEUS_WEB_PASSWORD"}


def test_every_variable_compose_reads_is_documented_in_env_example():
    from obsstack.envfile import read_example

    documented = {s.key for s in read_example(ROOT / ".env.example")}
    used = set()
    for path in (ROOT / "docker-compose.yml", ROOT / "docker-compose.gpu.yml"):
        used |= set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", path.read_text()))
    assert used, "no variables found: the pattern is stale"
    assert used - documented == set(), f"undocumented in .env.example: {sorted(used - documented)}"


# Images whose own ENTRYPOINT starts tini (Elasticsearch: distribution/docker/src/docker/Dockerfile,
# Kibana: the docker generator's base Dockerfile, Filebeat: dev-tools/packaging/templates/docker/
# Dockerfile.tmpl). Docker's init on top only makes tini warn that it is not PID 1.
TINI_IMAGES = ("docker.elastic.co/elasticsearch/elasticsearch", "docker.elastic.co/kibana/kibana",
               "docker.elastic.co/beats/filebeat")


def test_no_second_init_where_the_image_runs_tini(render):
    for name, service in services(render(PROFILES, gpu=True)).items():
        runs_tini = service["image"].split(":")[0] in TINI_IMAGES and not service.get("entrypoint")
        if runs_tini:
            assert service.get("init") is not True, f"{name}: its image runs tini already"
        elif service["image"].split(":")[0] in TINI_IMAGES:
            # its entrypoint is replaced (a script): nothing reaps its children but Docker's init
            assert service.get("init") is True, f"{name}: entrypoint replaced, so it needs init: true"
