"""The scale-out overlays, which cannot run here (no Docker engine; the cluster images are not
installed): docker-compose.vm-cluster.yml (on top of the base and HA files) and
docker-compose.es-cluster.yml, rendered by the real Compose CLI and held to the base file's rules,
their wiring checked end to end (every name and port one side uses is what the other side listens
on), compose-lint run over them, and the real vmauth and victoria-metrics binaries (1.145.0, the
images' release) run on what can be run: the router's config, and the flag names."""
from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest
import yaml
from conftest import PROFILES, ROOT, missing_tool, profile_sets, stop_process

from obsstack import compose

BASE = ROOT / "docker-compose.yml"
HA = ROOT / "docker-compose.ha.yml"
VM_CLUSTER = ROOT / "docker-compose.vm-cluster.yml"
ES_CLUSTER = ROOT / "docker-compose.es-cluster.yml"
GPU = ROOT / "docker-compose.gpu.yml"
VMAUTH_CONFIG = ROOT / "victoriametrics/vmauth-cluster.yml"
ES_CLUSTER_CONFIG = ROOT / "elasticsearch/cluster/elasticsearch.yml"
CERTS_SCRIPT = ROOT / "elasticsearch/cluster/transport-certs.sh"

VM_SERVICES = ("victoriametrics", "vminsert", "vmselect")
ES_NODE_CONFIG_PATH = "/usr/share/elasticsearch/config/elasticsearch.yml"
ES_CERTS_PATH = "/usr/share/elasticsearch/config/certs"
# Image name per role in the VictoriaMetrics family; the storage components carry the `-cluster`
# tag suffix, vmauth none (VictoriaMetrics@v1.145.0-cluster:Makefile, publish-final-images).
VM_IMAGES = {"vmauth": "victoriametrics/vmauth", "vminsert": "victoriametrics/vminsert",
             "vmselect": "victoriametrics/vmselect", "vmstorage": "victoriametrics/vmstorage"}
# Flags only the cluster binaries have, so the single-node binary here cannot vouch for them. Each
# is defined at VictoriaMetrics@v1.145.0-cluster: -storageNode (app/vminsert/main.go,
# app/vmselect/main.go), -replicationFactor (app/vminsert/netstorage/netstorage.go,
# app/vmselect/netstorage/netstorage.go), -vminsertAddr and -vmselectAddr (app/vmstorage/main.go).
CLUSTER_ONLY_FLAGS = {"storageNode", "replicationFactor", "vminsertAddr", "vmselectAddr"}
# What Grafana's Prometheus datasource and vmctl (docs/scaling.md) call on the long-term store.
QUERY_PATHS = ("/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
               "/api/v1/label/__name__/values", "/api/v1/metadata", "/api/v1/query_exemplars",
               "/api/v1/status/buildinfo", "/api/v1/export/native", "/federate")
WRITE_PATHS = ("/api/v1/write", "/api/v1/import", "/api/v1/import/native")
REFUSED_PATHS = ("/api/v1/admin/tsdb/delete_series", "/delete/0/prometheus/api/v1/admin/tsdb/delete_series",
                 "/insert/0/prometheus/api/v1/write", "/vmui/", "/internal/force_merge", "/snapshot/create")


# ------------------------------------------------------------------ rendering
def files_for(*overlays: Path) -> list[Path]:
    if HA in overlays or VM_CLUSTER in overlays:
        assert HA.exists(), "docker-compose.vm-cluster.yml goes on top of docker-compose.ha.yml, which is missing"
    return [BASE, *overlays]


@pytest.fixture(scope="module")
def render_with(compose_cmd, env_file) -> Callable[..., dict[str, Any]]:
    cache: dict[tuple, dict[str, Any]] = {}

    def run(*overlays: Path, profiles: tuple[str, ...] = PROFILES, env: Path | None = None) -> dict[str, Any]:
        key = (overlays, profiles, env)
        if key not in cache:
            cache[key] = compose.render(ROOT, env or env_file, list(profiles), files_for(*overlays), compose_cmd)
        return cache[key]

    return run


@pytest.fixture(scope="module")
def ha_project(render_with) -> dict[str, Any]:
    return render_with(HA)


@pytest.fixture(scope="module")
def vm(render_with) -> dict[str, Any]:
    return render_with(HA, VM_CLUSTER)


@pytest.fixture(scope="module")
def es(render_with) -> dict[str, Any]:
    return render_with(ES_CLUSTER)


@pytest.fixture(scope="module")
def everything(render_with) -> dict[str, Any]:
    return render_with(HA, VM_CLUSTER, ES_CLUSTER, GPU, profiles=(*PROFILES, "tls"))


def env_with(env_file: Path, tmp_path: Path, **values: str) -> Path:
    text = env_file.read_text()
    for key, value in values.items():
        text = re.sub(rf"(?m)^{key}=.*$", "", text) + f"\n{key}={value}\n"
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def flags(service: dict[str, Any]) -> list[tuple[str, str]]:
    """A VictoriaMetrics command as (name, value) pairs, in order; repeated flags repeat."""
    pairs = []
    for arg in service["command"]:
        assert arg.startswith("-") and "=" in arg, f"{arg!r}: VictoriaMetrics flags are written -name=value here"
        name, value = arg.lstrip("-").split("=", 1)
        pairs.append((name, value))
    return pairs


def flag(service: dict[str, Any], name: str) -> str:
    values = [value for key, value in flags(service) if key == name]
    assert len(values) == 1, f"-{name} given {len(values)} times"
    return values[0]


def listen_port(service: dict[str, Any], name: str = "httpListenAddr") -> int:
    host, _, port = flag(service, name).rpartition(":")
    assert host in ("", "0.0.0.0"), f"-{name} must listen on the container's network, not {host}"
    return int(port)


def storage_nodes(project: dict[str, Any]) -> list[str]:
    return sorted(name for name, spec in project["services"].items()
                  if spec.get("image", "").startswith(VM_IMAGES["vmstorage"] + ":"))


def es_nodes(project: dict[str, Any]) -> list[str]:
    """The services running Elasticsearch itself: they mount the cluster's node config."""
    return sorted(name for name, spec in project["services"].items()
                  if any(v["target"] == ES_NODE_CONFIG_PATH for v in spec.get("volumes", [])))


def new_services(project: dict[str, Any], before: dict[str, Any]) -> list[str]:
    return sorted(set(project["services"]) - set(before["services"]))


# ------------------------------------------------------------------ vmauth's routing, as vmauth does it
@dataclass(frozen=True)
class Route:
    patterns: tuple[re.Pattern[str], ...]
    prefixes: tuple[str, ...]


def routes(config: dict[str, Any]) -> list[Route]:
    """url_map of unauthorized_user: src_paths are anchored as ^(?:...)$ and the first match wins
    (VictoriaMetrics@v1.145.0:app/vmauth/auth_config.go Regex.UnmarshalYAML, target_url.go)."""
    assert set(config) == {"unauthorized_user"}, "the login is vmauth's -httpAuth.*, not a users entry"
    user = config["unauthorized_user"]
    assert set(user) == {"url_map"}, "no default url_prefix/default_url: what is not listed is refused"
    result = []
    for entry in user["url_map"]:
        prefixes = entry["url_prefix"] if isinstance(entry["url_prefix"], list) else [entry["url_prefix"]]
        result.append(Route(tuple(re.compile(f"^(?:{p})$") for p in entry["src_paths"]), tuple(prefixes)))
    return result


def route(config: dict[str, Any], path: str) -> tuple[str, ...] | None:
    for entry in routes(config):
        if any(p.match(path) for p in entry.patterns):
            return entry.prefixes
    return None


@pytest.fixture(scope="module")
def vmauth_config() -> dict[str, Any]:
    return yaml.safe_load(VMAUTH_CONFIG.read_text())


def backend_role(prefix: str, project: dict[str, Any]) -> str:
    """The image role (vminsert, vmselect, ...) of the service a url_prefix points at."""
    host = urlsplit(prefix).hostname
    image = project["services"][host]["image"]
    return image.split("/")[1].split(":")[0]


# ------------------------------------------------------------------ rendering and images
@pytest.mark.parametrize("profiles", profile_sets(), ids=lambda p: "+".join(p) or "core")
def test_both_overlays_render_together_for_every_profile_combination(render_with, profiles):
    project = render_with(HA, VM_CLUSTER, ES_CLUSTER, profiles=profiles)
    names = set(project["services"])
    assert {"victoriametrics", "vminsert", "vmselect", "prometheus-b", "alertmanager-c"} <= names
    assert len(storage_nodes(project)) >= 2
    has_es = bool({"logging", "tracing"} & set(profiles))
    assert ({"elasticsearch", "elasticsearch-2", "elasticsearch-3", "elasticsearch-certs"} <= names) == has_es
    assert ({"elasticsearch-2", "elasticsearch-3"} & names == set()) == (not has_es)


def test_vm_family_is_pinned_to_the_single_nodes_release(vm, ha_project):
    single = ha_project["services"]["victoriametrics"]["image"]
    assert re.fullmatch(r"victoriametrics/victoria-metrics:v\d+\.\d+\.\d+", single), single
    release = single.rpartition(":")[2]
    seen = {}
    for name in (*VM_SERVICES, *storage_nodes(vm)):
        repo, _, tag = vm["services"][name]["image"].rpartition(":")
        role = repo.split("/")[1]
        assert repo == VM_IMAGES.get(role), f"{name}: {repo} is not a VictoriaMetrics image this overlay uses"
        # vmauth is built from the single-node tree, the rest from the cluster one (Makefile tags).
        assert tag == (release if role == "vmauth" else f"{release}-cluster"), f"{name}: {tag}, the single node is {release}"
        seen[role] = name
    assert set(seen) == set(VM_IMAGES), f"roles missing: {set(VM_IMAGES) - set(seen)}"
    assert vm["services"]["victoriametrics"]["image"].startswith(VM_IMAGES["vmauth"] + ":")


def test_elasticsearch_nodes_and_the_certificate_job_run_the_base_image(es, render_with):
    base = render_with()["services"]["elasticsearch"]["image"]
    for name in (*es_nodes(es), "elasticsearch-certs"):
        spec = es["services"][name]
        assert spec["image"] == base, name
        # The image's entrypoint is tini: a second init only where a script replaces it
        # (tests/static/test_compose.py holds the base file to the same rule).
        assert spec.get("init") is bool(spec.get("entrypoint")), f"{name}: init {spec.get('init')}"
    assert es_nodes(es) == ["elasticsearch", "elasticsearch-2", "elasticsearch-3"]


# ------------------------------------------------------------------ ports and hardening
def test_nothing_new_is_published_and_what_is_follows_bind_address(everything, render_with, env_file, tmp_path):
    published = {(p.service, p.target) for p in compose.published_ports(everything)}
    before = {(p.service, p.target) for p in compose.published_ports(render_with(HA, GPU, profiles=(*PROFILES, "tls")))}
    # The router publishes where the single node did (HA overlay, VM_PORT); nothing else is new.
    assert published == before, f"new published ports: {published - before}, gone: {before - published}"
    changed = [p for p in compose.published_ports(everything) if p.service in ("victoriametrics", "elasticsearch")]
    assert {(p.service, p.target) for p in changed} == {("victoriametrics", 8428), ("elasticsearch", 9200)}
    opened = env_with(env_file, tmp_path, BIND_ADDRESS="10.9.8.7", TLS_BIND_ADDRESS="10.9.8.6")
    moved = render_with(HA, VM_CLUSTER, ES_CLUSTER, env=opened)
    hosts = {p.service: p.host_ip for p in compose.published_ports(moved) if p.service in ("victoriametrics", "elasticsearch")}
    assert hosts == {"victoriametrics": "10.9.8.7", "elasticsearch": "10.9.8.7"}


def suppressed(rule: str) -> set[str]:
    config = yaml.safe_load((ROOT / ".compose-lint.yml").read_text())["rules"]
    return set(config.get(rule, {}).get("exclude_services", {}))


@pytest.mark.parametrize("which", ["vm", "es"])
def test_new_and_changed_services_are_hardened_like_the_base_file(which, vm, es, ha_project, render_with):
    project, before = (vm, ha_project) if which == "vm" else (es, render_with())
    names = new_services(project, before) + (["victoriametrics"] if which == "vm" else ["elasticsearch"])
    assert len(names) >= (6 if which == "vm" else 4), names
    for name in names:
        spec = project["services"][name]
        assert spec.get("cap_drop") == ["ALL"] and not spec.get("cap_add"), f"{name}: capabilities"
        assert "no-new-privileges:true" in spec.get("security_opt", []), f"{name}: no-new-privileges"
        assert not spec.get("privileged") and not spec.get("pid") and spec.get("network_mode") is None, name
        limits = spec.get("deploy", {}).get("resources", {}).get("limits", {})
        assert compose.parse_bytes(limits.get("memory", "0")) > 0 and float(limits.get("cpus", 0)) > 0, f"{name}: limits"
        logging = spec.get("logging", {})
        assert logging.get("driver") == "json-file" and logging.get("options", {}).get("max-size"), f"{name}: logging"
        assert "observability" in spec.get("networks", {}), f"{name}: network"
        one_shot = spec.get("restart") == "no"
        assert one_shot or spec.get("restart") == "unless-stopped", f"{name}: restart"
        check = spec.get("healthcheck", {})
        if one_shot:
            assert check.get("disable") is True, name
            adopters = [o for o, s in project["services"].items()
                        if s.get("depends_on", {}).get(name, {}).get("condition") == "service_completed_successfully"]
            assert adopters, f"{name}: `up --wait` fails on a one-shot no running service waits for"
        else:
            assert check.get("test") and check.get("interval") and check.get("retries"), f"{name}: healthcheck"
        for dependency, condition in spec.get("depends_on", {}).items():
            assert condition["condition"] in ("service_healthy", "service_completed_successfully"), (name, dependency)
        # Root only where .compose-lint.yml says why (CL-0018); everything else a non-root user.
        user = str(spec.get("user", "")).split(":")[0]
        if user in ("0", "root"):
            assert name in suppressed("CL-0018"), f"{name} runs as root without a reason in .compose-lint.yml"
        elif which == "vm":
            assert user and user != "0", f"{name}: the VictoriaMetrics images default to root: set a user"
        for volume in spec.get("volumes", []):
            if volume["type"] == "bind":
                assert volume["source"].startswith(str(ROOT)) and volume.get("read_only"), f"{name}: {volume['source']}"
    if which == "vm":
        for name in names:
            assert project["services"][name].get("read_only") is True, f"{name}: stateless Go program or its own volume only"


def test_every_variable_the_overlays_read_is_one_the_stack_already_knows():
    from obsstack.envfile import read_example

    known = {s.key for s in read_example(ROOT / ".env.example")}
    for path in (BASE, HA, GPU):
        known |= set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", path.read_text()))
    for path in (VM_CLUSTER, ES_CLUSTER):
        without_comments = re.sub(r"(?m)(^|\s)#.*$", "", path.read_text())
        used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", without_comments))
        if path == VM_CLUSTER:
            assert "VM_RETENTION_PERIOD" in used, f"{path.name}: no variable found, the pattern is stale"
        assert used - known == set(), f"{path.name} reads {sorted(used - known)}: document them in .env.example"


# ------------------------------------------------------------------ the VictoriaMetrics cluster's wiring
def test_vmauth_sends_every_route_to_a_service_listening_there(vm, vmauth_config):
    services = vm["services"]
    router = services["victoriametrics"]
    assert flag(router, "auth.config") in {v["target"] for v in router["volumes"]}
    mounted = next(v for v in router["volumes"] if v["target"] == flag(router, "auth.config"))
    assert Path(mounted["source"]) == VMAUTH_CONFIG and mounted.get("read_only")
    targets = set()
    for entry in routes(vmauth_config):
        for prefix in entry.prefixes:
            url = urlsplit(prefix)
            assert url.scheme == "http" and url.hostname in services, f"{prefix}: no such service"
            backend = services[url.hostname]
            assert url.port == listen_port(backend), f"{prefix}: {url.hostname} listens on {listen_port(backend)}"
            assert f":{url.port}/health" in " ".join(backend["healthcheck"]["test"]), f"{url.hostname}: healthcheck elsewhere"
            assert router["depends_on"].get(url.hostname, {}).get("condition") == "service_healthy", url.hostname
            targets.add(backend_role(prefix, vm))
    assert targets == {"vminsert", "vmselect"}


def test_prometheus_and_grafana_reach_the_cluster_through_unchanged_urls(vm, vmauth_config):
    router = vm["services"]["victoriametrics"]
    port = listen_port(router)
    assert {(p["target"]) for p in router["ports"]} == {port}
    prometheus = yaml.safe_load((ROOT / "prometheus/ha/prometheus.yml").read_text())
    writes = [w["url"] for w in prometheus["remote_write"] if urlsplit(w["url"]).hostname == "victoriametrics"]
    assert writes, "the HA Prometheus config no longer writes to victoriametrics"
    for url in writes:
        assert urlsplit(url).port == port
        (prefix,) = route(vmauth_config, urlsplit(url).path)
        assert backend_role(prefix, vm) == "vminsert", url
    datasources = yaml.safe_load((ROOT / "grafana/ha/datasources/datasources.yml").read_text())["datasources"]
    (long_term,) = [d for d in datasources if d["uid"] == "victoriametrics"]
    assert urlsplit(long_term["url"]).hostname == "victoriametrics" and urlsplit(long_term["url"]).port == port
    for path in QUERY_PATHS:
        prefixes = route(vmauth_config, path)
        assert prefixes and backend_role(prefixes[0], vm) == "vmselect", path
    for path in WRITE_PATHS:
        prefixes = route(vmauth_config, path)
        assert prefixes and backend_role(prefixes[0], vm) == "vminsert", path
    for path in REFUSED_PATHS:
        assert route(vmauth_config, path) is None, f"{path} must not be reachable through vmauth"
    # The login the single node had: the same user and password file, never on the command line.
    assert flag(router, "httpAuth.username") == "prometheus"
    password = flag(router, "httpAuth.password")
    assert password.startswith("file://") and password[len("file://"):] in {c["target"] for c in router["configs"]}


def test_insert_and_select_use_every_storage_node_on_the_ports_it_listens_on(vm):
    services = vm["services"]
    nodes = storage_nodes(vm)
    assert len(nodes) >= 2
    for client, port_flag in (("vminsert", "vminsertAddr"), ("vmselect", "vmselectAddr")):
        wanted = sorted(f"{n}:{listen_port(services[n], port_flag)}" for n in nodes)
        given = sorted(value for key, value in flags(services[client]) if key == "storageNode")
        assert given == wanted, f"{client}: -storageNode {given}, the storage nodes listen on {wanted}"
        for node in nodes:
            assert services[client]["depends_on"][node]["condition"] == "service_healthy", (client, node)
    replication = int(flag(services["vminsert"], "replicationFactor"))
    assert int(flag(services["vmselect"], "replicationFactor")) == replication
    # N copies survive N-1 lost nodes; 2N-1 nodes keep N copies of new samples meanwhile
    # (Cluster-VictoriaMetrics.md at v1.145.0-cluster, "Replication and data safety").
    assert replication >= 2 and len(nodes) >= 2 * replication - 1
    volumes = [tuple(v["source"] for v in services[n]["volumes"] if v["target"] == flag(services[n], "storageDataPath"))
               for n in nodes]
    assert all(len(v) == 1 for v in volumes) and len(set(volumes)) == len(nodes), f"one volume per node: {volumes}"


def test_deduplication_and_retention_match_the_single_node(vm, ha_project, render_with, env_file, tmp_path):
    single = ha_project["services"]["victoriametrics"]
    services = vm["services"]
    # VictoriaMetrics asks for the same -dedup.minScrapeInterval on vmselect and vmstorage.
    for name in ("vmselect", *storage_nodes(vm)):
        assert flag(services[name], "dedup.minScrapeInterval") == flag(single, "dedup.minScrapeInterval"), name
    for name in storage_nodes(vm):
        assert flag(services[name], "retentionPeriod") == flag(single, "retentionPeriod"), name
    longer = render_with(HA, VM_CLUSTER, env=env_with(env_file, tmp_path, VM_RETENTION_PERIOD="400d"))
    assert {flag(longer["services"][n], "retentionPeriod") for n in storage_nodes(longer)} == {"400d"}
    assert flag(longer["services"]["vmselect"], "dedup.minScrapeInterval") == flag(single, "dedup.minScrapeInterval")


def test_the_single_nodes_volume_is_no_longer_mounted(vm):
    mounted = {v["source"] for spec in vm["services"].values() for v in spec.get("volumes", []) if v["type"] == "volume"}
    assert "victoriametrics-data" not in mounted
    assert not vm["services"]["victoriametrics"].get("volumes", [])[1:], "vmauth mounts its config only"


@pytest.fixture(scope="session")
def vm_binary(tools_dir) -> Callable[[str], Path]:
    """tools_dir/bin/<name>, else the unpacked Debian package (victoria-metrics 1.145.0 ships vmauth
    too; scripts/toolchain.py wraps only victoria-metrics so far). Go binaries: no library path needed."""
    def find(name: str) -> Path:
        for path in (tools_dir / "bin" / name, tools_dir / "root/usr/bin" / name):
            if path.exists():
                return path
        missing_tool(f"{name} not installed in {tools_dir} (Debian package victoria-metrics)")
        raise AssertionError  # unreachable: missing_tool fails or skips

    return find


def help_flags(binary: Path, *args: str) -> set[str]:
    proc = subprocess.run([str(binary), *args, "-help"], capture_output=True, text=True, timeout=30, check=False)
    found = set(re.findall(r"(?m)^\s+-([A-Za-z][\w.]*)", proc.stdout + proc.stderr))
    assert len(found) > 30, f"{binary} -help printed no flag list: {proc.stdout[:300]}{proc.stderr[:300]}"
    return found


def test_every_flag_is_one_the_real_binaries_know(vm, vm_binary):
    single = help_flags(vm_binary("victoria-metrics"))
    router = help_flags(vm_binary("vmauth"))
    assert not CLUSTER_ONLY_FLAGS & single, "a flag listed as cluster-only exists in the single node: check it there"
    for name in (*storage_nodes(vm), "vminsert", "vmselect"):
        for key, _ in flags(vm["services"][name]):
            assert key in single or key in CLUSTER_ONLY_FLAGS, f"{name}: -{key} is neither a VictoriaMetrics flag nor a traced cluster one"
    for key, _ in flags(vm["services"]["victoriametrics"]):
        assert key in router, f"vmauth: -{key} is not a vmauth 1.145 flag"


# ------------------------------------------------------------------ the real vmauth on the real config
class Recorder(BaseHTTPRequestHandler):
    """A stand-in backend: answers 200 and records what vmauth forwarded."""

    seen: list[tuple[str, str, str | None]]

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        body = b'{"status":"success","data":{}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = handle_any

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[dict[str, tuple[int, list]]]:
    servers = {}
    for role in ("vminsert", "vmselect"):
        seen: list = []
        handler = type(f"{role}Recorder", (Recorder,), {"seen": seen})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[role] = (server, seen)
    yield {role: (server.server_address[1], seen) for role, (server, seen) in servers.items()}
    for server, _ in servers.values():
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(port: int, path: str, login: tuple[str, str] | None = None, data: bytes | None = None) -> int:
    request = Request(f"http://127.0.0.1:{port}{path}", data=data)
    if login:
        import base64
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(login).encode()).decode())
    try:
        with urlopen(request, timeout=5) as response:
            return response.status
    except HTTPError as error:
        return error.code


def test_the_real_vmauth_routes_the_stacks_calls_and_requires_the_login(vm, vmauth_config, vm_binary, backends, tmp_path):
    router = vm["services"]["victoriametrics"]
    config = json.loads(json.dumps(vmauth_config))
    for entry in config["unauthorized_user"]["url_map"]:
        url = urlsplit(entry["url_prefix"])
        port, _ = backends[backend_role(entry["url_prefix"], vm)]
        entry["url_prefix"] = url._replace(netloc=f"127.0.0.1:{port}").geturl()
    (tmp_path / "vmauth.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "password").write_text("s3cret-from-a-file")
    port = free_port()
    args = [f"-{k}={v}" for k, v in flags(router) if k not in ("auth.config", "httpListenAddr", "httpAuth.password")]
    log = (tmp_path / "vmauth.log").open("w")
    proc = subprocess.Popen([str(vm_binary("vmauth")), f"-auth.config={tmp_path / 'vmauth.yml'}",
                             f"-httpListenAddr=127.0.0.1:{port}", f"-httpAuth.password=file://{tmp_path / 'password'}", *args],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if call(port, "/health") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, f"vmauth exited: {(tmp_path / 'vmauth.log').read_text()[-2000:]}"
            assert time.monotonic() < deadline, "vmauth did not answer /health within 15 s"
            time.sleep(0.1)
        login = (flag(router, "httpAuth.username"), "s3cret-from-a-file")
        inserted, selected = backends["vminsert"][1], backends["vmselect"][1]
        # Without the login (or with a wrong one) nothing reaches a backend.
        assert call(port, "/api/v1/write", data=b"x") == 401
        assert call(port, "/api/v1/query?query=up", ("prometheus", "wrong")) == 401
        assert call(port, "/metrics") == 401
        assert inserted == [] and selected == []
        assert call(port, "/api/v1/write", login, data=b"x") == 200
        assert call(port, "/api/v1/query?query=up", login) == 200
        assert call(port, "/api/v1/label/__name__/values", login) == 200
        assert call(port, "/api/v1/import/native", login, data=b"x") == 200
        assert [(m, p) for m, p, _ in inserted] == [("POST", "/insert/0/prometheus/api/v1/write"),
                                                    ("POST", "/insert/0/prometheus/api/v1/import/native")]
        assert [(m, p) for m, p, _ in selected] == [("GET", "/select/0/prometheus/api/v1/query?query=up"),
                                                    ("GET", "/select/0/prometheus/api/v1/label/__name__/values")]
        assert all(auth and auth.startswith("Basic ") for _, _, auth in inserted + selected), "the login is passed on"
        # What is not listed is refused, with the login too.
        for path in REFUSED_PATHS:
            assert call(port, path, login) >= 400, path
        assert len(inserted) == 2 and len(selected) == 2, "a refused path reached a backend"
        assert call(port, "/metrics", login) == 200
    finally:
        stop_process(proc)
        log.close()


def test_the_real_vmauth_refuses_a_broken_config(vm_binary, tmp_path):
    """The dry run the test above relies on is a real check: a bad regex is an error."""
    good = subprocess.run([str(vm_binary("vmauth")), "-dryRun", f"-auth.config={VMAUTH_CONFIG}"],
                          capture_output=True, text=True, timeout=30)
    assert good.returncode == 0, good.stdout + good.stderr
    text = VMAUTH_CONFIG.read_text()
    assert "- /api/v1/write\n" in text
    (tmp_path / "bad.yml").write_text(text.replace("- /api/v1/write\n", "- /api/v1/(write\n", 1))
    bad = subprocess.run([str(vm_binary("vmauth")), "-dryRun", f"-auth.config={tmp_path / 'bad.yml'}"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "regexp" in (bad.stdout + bad.stderr)


# ------------------------------------------------------------------ the Elasticsearch cluster's wiring
@pytest.fixture(scope="module")
def cluster_config() -> dict[str, Any]:
    return yaml.safe_load(ES_CLUSTER_CONFIG.read_text())


def node_settings(spec: dict[str, Any]) -> dict[str, str]:
    """Settings given as environment variables (the image passes `a.b=c` ones to Elasticsearch)."""
    return {k: v for k, v in spec.get("environment", {}).items() if re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", k)}


def test_the_cluster_config_keeps_every_setting_of_the_single_node_but_single_node_discovery(cluster_config):
    single = yaml.safe_load((ROOT / "elasticsearch/elasticsearch.yml").read_text())
    assert single["discovery.type"] == "single-node"
    for key, value in single.items():
        if key in ("discovery.type", "node.name"):
            assert key not in cluster_config, f"{key} must not be in the cluster config"
        else:
            assert cluster_config.get(key) == value, f"{key}: {cluster_config.get(key)!r}, one node has {value!r}"


def test_seed_hosts_and_bootstrap_name_the_node_services(es, cluster_config):
    services = es["services"]
    nodes = es_nodes(es)
    assert cluster_config["discovery.seed_hosts"] == nodes
    for name in nodes:
        settings = node_settings(services[name])
        assert settings.get("node.name") == name, f"{name}: node.name {settings.get('node.name')}"
        mounted = next(v for v in services[name]["volumes"] if v["target"] == ES_NODE_CONFIG_PATH)
        assert Path(mounted["source"]) == ES_CLUSTER_CONFIG and mounted.get("read_only"), name
    bootstrapping = {name: node_settings(services[name]).get("cluster.initial_master_nodes") for name in nodes}
    # Only the first node bootstraps, naming itself: new nodes can join it but never start a second cluster.
    assert bootstrapping == {"elasticsearch": "elasticsearch", **{n: None for n in nodes if n != "elasticsearch"}}
    assert "cluster.initial_master_nodes" not in cluster_config
    # The nodes start together: after a full stop the first one needs a second to elect a master.
    for name in nodes:
        assert not set(services[name].get("depends_on", {})) & set(nodes), f"{name} waits for another node"


def test_transport_tls_keystore_is_made_once_and_mounted_read_only_everywhere(es, cluster_config):
    services = es["services"]
    assert cluster_config["xpack.security.enabled"] is True
    assert cluster_config["xpack.security.transport.ssl.enabled"] is True
    assert cluster_config["xpack.security.transport.ssl.verification_mode"] in ("certificate", "full")
    assert cluster_config["xpack.security.transport.ssl.client_authentication"] == "required"
    keystore = cluster_config["xpack.security.transport.ssl.keystore.path"]
    assert keystore == cluster_config["xpack.security.transport.ssl.truststore.path"]
    # Relative paths resolve against the config folder, where the volume is mounted.
    assert keystore.startswith("certs/")
    job = services["elasticsearch-certs"]
    (certs_volume,) = [v for v in job["volumes"] if v["target"] == ES_CERTS_PATH]
    assert certs_volume["type"] == "volume" and not certs_volume.get("read_only")
    script = CERTS_SCRIPT.read_text()
    assert f'certs={ES_CERTS_PATH}' in script and f'keystore="${{certs}}/{keystore.split("/", 1)[1]}"' in script
    assert job["entrypoint"][-1] in {v["target"] for v in job["volumes"]}
    for name in es_nodes(es):
        (mount,) = [v for v in services[name]["volumes"] if v["target"] == ES_CERTS_PATH]
        assert mount["source"] == certs_volume["source"] and mount.get("read_only"), name
        assert services[name]["depends_on"]["elasticsearch-certs"]["condition"] == "service_completed_successfully"
    # Every other service leaves the keystore alone.
    users = {n for n, s in services.items() for v in s.get("volumes", []) if v.get("source") == certs_volume["source"]}
    assert users == {"elasticsearch-certs", *es_nodes(es)}
    proc = subprocess.run(["bash", "-n", str(CERTS_SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_certificate_script_keeps_no_ca_and_never_overwrites(tmp_path):
    """Run the script with a stand-in certutil: it writes the keystore once, 0640, and no CA."""
    home = tmp_path / "es"
    (home / "bin").mkdir(parents=True)
    calls = tmp_path / "calls"
    (home / "bin/elasticsearch-certutil").write_text(
        "#!/bin/bash\n" f'printf "%q " "$@" >> {calls}; echo >> {calls}\n'
        'out=""; while [[ $# -gt 0 ]]; do [[ $1 == --out ]] && out=$2; shift; done\n'
        'echo fake > "$out"\n')
    (home / "bin/elasticsearch-certutil").chmod(0o755)
    certs = tmp_path / "certs"
    certs.mkdir()
    script = CERTS_SCRIPT.read_text().replace("/usr/share/elasticsearch/config/certs", str(certs)) \
                                     .replace("cd /usr/share/elasticsearch", f"cd {home}")
    (tmp_path / "run.sh").write_text(script)
    for _ in range(2):
        proc = subprocess.run(["bash", str(tmp_path / "run.sh")], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in certs.iterdir()) == ["transport.p12"]
    assert (certs / "transport.p12").stat().st_mode & 0o777 == 0o640
    made = calls.read_text().splitlines()
    assert len(made) == 2, f"the second run must keep the keystore: {made}"
    ca, cert = (shlex.split(line) for line in made)
    assert ca[0] == "ca" and cert[0] == "cert" and cert[cert.index("--ca") + 1] == ca[ca.index("--out") + 1]
    assert "--pass" in cert and cert[cert.index("--pass") + 1] == ""


def test_nodes_keep_their_own_data_share_the_snapshot_repository_and_base_limits(es, cluster_config, render_with):
    services = es["services"]
    base = render_with()["services"]["elasticsearch"]
    (repo,) = cluster_config["path.repo"]
    data = set()
    for name in es_nodes(es):
        spec = services[name]
        mounts = {v["target"]: v for v in spec["volumes"]}
        data.add(mounts["/usr/share/elasticsearch/data"]["source"])
        assert mounts[repo]["source"] == "elasticsearch-backup", f"{name}: the snapshot repository must be shared"
        assert spec["depends_on"]["elasticsearch-backup-owner"]["condition"] == "service_completed_successfully"
        assert spec["environment"]["ES_JAVA_OPTS"] == base["environment"]["ES_JAVA_OPTS"]
        assert spec["deploy"]["resources"]["limits"] == base["deploy"]["resources"]["limits"]
        heap = re.search(r"-Xmx(\S+)", spec["environment"]["ES_JAVA_OPTS"])[1]
        assert f"-Xms{heap}" in spec["environment"]["ES_JAVA_OPTS"], "heap min = max (a bootstrap check)"
        assert compose.parse_bytes(heap) * 2 <= compose.parse_bytes(spec["deploy"]["resources"]["limits"]["memory"])
        assert spec["ulimits"]["nofile"]["soft"] >= 65535, "the file descriptor bootstrap check"
        assert spec["healthcheck"] == base["healthcheck"], name
        assert {c["target"] for c in spec["configs"]} == {c["target"] for c in base["configs"]}, f"{name}: file realm"
        assert (name == "elasticsearch") == bool(spec.get("ports")), f"{name}: only the first node publishes"
    assert len(data) == len(es_nodes(es))


def test_clients_take_every_node_where_their_setting_takes_a_list(es):
    services = es["services"]
    urls = [f"http://{n}:9200" for n in es_nodes(es)]
    pipeline = (ROOT / "logstash/pipeline/logstash.conf").read_text()
    assert re.search(r'hosts\s*=>\s*\["\$\{ELASTICSEARCH_URL\}"\]', pipeline), "the pipeline's output no longer reads ELASTICSEARCH_URL"
    # A URI-list option: an environment value is split on spaces (Logstash 9.5 environment-variables.md).
    assert services["logstash"]["environment"]["ELASTICSEARCH_URL"].split(" ") == urls
    assert json.loads(services["kibana"]["environment"]["ELASTICSEARCH_HOSTS"]) == urls
    exporter = services["elasticsearch-exporter"]["command"]
    assert "--es.all" in exporter
    alias = urlsplit(next(a.split("=", 1)[1] for a in exporter if a.startswith("--es.uri="))).hostname
    for name in ("jaeger", "elasticsearch-setup", "elasticsearch-maintenance"):
        assert urlsplit(services[name]["environment"]["ELASTICSEARCH_URL"]).hostname == alias, name
    carriers = {n for n, s in services.items() for net in (s.get("networks") or {}).values() if alias in ((net or {}).get("aliases") or [])}
    assert carriers == set(es_nodes(es)), f"{alias} must name every node and nothing else: {carriers}"
    # `elasticsearch` stays the first node alone (the stack's blackbox probe finds it by DNS).
    for name in es_nodes(es):
        assert "elasticsearch" not in ((services[name].get("networks", {}).get("observability") or {}).get("aliases") or [])
    # Nothing else lost a flag of the base exporter.
    base_flags = {"--es.indices", "--collector.clustersettings", "--es.timeout=10s"}
    assert base_flags <= set(exporter)


# ------------------------------------------------------------------ compose-lint
def test_compose_lint_finds_nothing_unreasoned_in_the_overlays(vm, es, everything, tmp_path):
    from test_compose_lint import findings, lint, open_findings

    for name, project in (("vm-cluster", vm), ("es-cluster", es), ("all", everything)):
        (tmp_path / name).mkdir()
        rc, report, stderr = lint(project, tmp_path / name)
        assert findings(report), f"{name}: compose-lint reported nothing at all"
        assert not open_findings(report), (name, open_findings(report))
        assert rc == 0, stderr[-2000:]


@pytest.mark.parametrize("break_it, rule", [
    (lambda p: p["services"]["vmstorage-1"].__setitem__("privileged", True), "CL-0002"),
    (lambda p: p["services"]["vminsert"].__setitem__("user", "0"), "CL-0018"),
    (lambda p: p["services"]["elasticsearch-2"].__setitem__("cap_drop", []), "CL-0006"),
])
def test_a_regression_in_an_overlay_fails_the_lint(everything, tmp_path, break_it, rule):
    from test_compose_lint import lint, open_findings

    both = json.loads(json.dumps(everything))
    break_it(both)
    rc, report, _ = lint(both, tmp_path)
    assert rc != 0 and any(rule in line for line in open_findings(report)), open_findings(report)
