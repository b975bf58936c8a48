"""The stack on real binaries, natively on loopback: start, check, stop.

Every component runs from the test toolchain (.tools/bin) or this repository's Python packages,
with the project's own configs rendered by native_config. Processes run in their own sessions so
`up` can return while they keep running; their pids (with start times, so a recycled pid is never
signalled) are kept in STATE/pids.json for `status` and `down`.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import requests
import yaml

from . import alertmanager_config, native_config, paths
from .net import free_port
from .rules import rule_files
from .timescale import REAL, TimeScale

ROOT = paths.project_dir()
COMPONENTS = ("webhook_sink", "postgres", "redis", "node_exporter", "postgres_exporter", "redis_exporter",
              "blackbox_exporter", "gpu_exporter", "demo_app", "alertmanager", "prometheus")
# compose service:port -> the component that stands in for it natively
COMPOSE_ADDRESSES = {
    "localhost:9090": "prometheus", "prometheus:9090": "prometheus", "alertmanager:9093": "alertmanager", "node-exporter:9100": "node_exporter",
    "postgres-exporter:9187": "postgres_exporter", "redis-exporter:9121": "redis_exporter",
    "blackbox-exporter:9115": "blackbox_exporter", "gpu-exporter:9835": "gpu_exporter", "demo-app:8000": "demo_app",
}
UNPRIVILEGED_USER = "nobody"  # PostgreSQL refuses to run as root


class NativeStackError(RuntimeError):
    """A component failed to start or stop; the message names it and where its log is."""


@dataclass
class Component:
    """One process of the stack, as data: STATE/plan.json keeps it so `start NAME` can restart it."""

    name: str
    argv: list[str]
    url: str
    # {"http": URL, "contains": TEXT (optional), "auth": true (optional)} or {"tcp": PORT}
    ready: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    user: str | None = None
    cwd: str | None = None
    # PostgreSQL's SIGTERM waits for every client to leave; SIGINT is its fast shutdown.
    stop_signal: str = "SIGTERM"

    def is_ready(self) -> bool:
        if "tcp" in self.ready:
            try:
                with socket.create_connection(("127.0.0.1", self.ready["tcp"]), timeout=1):
                    return True
            except OSError:
                return False
        try:
            response = requests.get(self.ready["http"], auth=self.auth if self.ready.get("auth") else None, timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200 and self.ready.get("contains", "") in response.text


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/PID/stat), None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


class NativeStack:
    def __init__(self, state_dir: Path, tools_bin: Path, scale: TimeScale = REAL) -> None:
        self.state = state_dir.resolve()
        self.tools = tools_bin
        self.scale = scale
        self.pids_file = self.state / "pids.json"
        self.endpoints_file = self.state / "endpoints.json"

    # ------------------------------------------------------------------ planning
    def tool(self, name: str) -> str:
        path = self.tools / name
        if not path.exists():
            raise NativeStackError(f"{path} is missing: run `obsstack toolchain install` (or `make test`)")
        return str(path)

    def plan(self) -> tuple[list[Component], dict[str, Any]]:
        ports = {name: free_port() for name in COMPONENTS}
        passwords = {name: secrets.token_urlsafe(18) for name in ("prometheus", "alertmanager", "postgres", "redis")}
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        logs = self.state / "logs"
        for folder in (logs, self.state / "web", self.state / "rules", self.state / "prometheus", self.state / "alertmanager"):
            folder.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        pg_dsn = f"postgresql://postgres:{passwords['postgres']}@127.0.0.1:{ports['postgres']}/postgres?sslmode=disable"
        redis_url = f"redis://:{passwords['redis']}@127.0.0.1:{ports['redis']}/0"
        sink_url = url["webhook_sink"]
        skipped = self.render_configs(ports, passwords, sink_url)
        prom_auth = ("prometheus", passwords["prometheus"])
        am_auth = ("alertmanager", passwords["alertmanager"])
        pg_data = self.state / "postgres"
        as_root = os.geteuid() == 0
        components = [
            Component("webhook_sink", [python, "-m", "obsstack.webhook_sink", "--listen", f"127.0.0.1:{ports['webhook_sink']}",
                                       "--out", str(self.state / "notifications.jsonl")],
                      sink_url, {"http": f"{sink_url}/healthz"}),
            Component("postgres", [self.tool("postgres"), "-D", str(pg_data), "-h", "127.0.0.1", "-p", str(ports["postgres"]),
                                   "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "shared_buffers=32MB"],
                      f"postgresql://127.0.0.1:{ports['postgres']}/postgres", {"tcp": ports["postgres"]},
                      auth=("postgres", passwords["postgres"]), user=UNPRIVILEGED_USER if as_root else None,
                      stop_signal="SIGINT"),
            Component("redis", [self.tool("redis-server"), "--bind", "127.0.0.1", "--port", str(ports["redis"]),
                                "--requirepass", passwords["redis"], "--save", "", "--appendonly", "no",
                                "--dir", str(self.state)],
                      f"redis://127.0.0.1:{ports['redis']}", {"tcp": ports["redis"]}, auth=("default", passwords["redis"])),
            Component("node_exporter", [self.tool("node_exporter"), f"--web.listen-address=127.0.0.1:{ports['node_exporter']}"],
                      url["node_exporter"], {"http": f"{url['node_exporter']}/metrics", "contains": "node_cpu_seconds_total"}),
            Component("postgres_exporter", [self.tool("postgres_exporter"),
                                            f"--web.listen-address=127.0.0.1:{ports['postgres_exporter']}"],
                      url["postgres_exporter"], {"http": f"{url['postgres_exporter']}/metrics", "contains": "\npg_up 1"},
                      env={"DATA_SOURCE_NAME": pg_dsn}),
            Component("redis_exporter", [self.tool("redis_exporter"), f"-redis.addr=redis://127.0.0.1:{ports['redis']}",
                                         f"-web.listen-address=127.0.0.1:{ports['redis_exporter']}"],
                      url["redis_exporter"], {"http": f"{url['redis_exporter']}/metrics", "contains": "\nredis_up 1"},
                      env={"REDIS_PASSWORD": passwords["redis"]}),
            Component("blackbox_exporter", [self.tool("blackbox_exporter"), f"--config.file={ROOT / 'blackbox/blackbox.yml'}",
                                            f"--web.listen-address=127.0.0.1:{ports['blackbox_exporter']}"],
                      url["blackbox_exporter"], {"http": f"{url['blackbox_exporter']}/-/healthy"}),
            Component("gpu_exporter", [python, "-m", "gpu_exporter", "--listen", f"127.0.0.1:{ports['gpu_exporter']}",
                                       "--simulate", "3", "--simulate-mig", "3g.40gb,2g.20gb,1g.10gb"],
                      url["gpu_exporter"], {"http": f"{url['gpu_exporter']}/metrics", "contains": "gpu_exporter_up"}),
            Component("demo_app", [python, "-m", "demo_app", "--listen", f"127.0.0.1:{ports['demo_app']}",
                                   "--redis-url", redis_url, "--postgres-dsn", pg_dsn, "--load-rps", "10"],
                      url["demo_app"], {"http": f"{url['demo_app']}/healthz"},
                      env={"OTEL_EXPORTER_OTLP_ENDPOINT": ""}),
            Component("alertmanager", self.server_argv("alertmanager", "--storage.path", url["alertmanager"],
                                                        ports["alertmanager"]),
                      url["alertmanager"], {"http": f"{url['alertmanager']}/-/ready", "auth": True}, auth=am_auth),
            # Alerts already firing when Prometheus starts (the Watchdog) are first sent one resend
            # delay later (1m by default, measured on 3.5.3); --fast shortens it too.
            Component("prometheus", self.server_argv("prometheus", "--storage.tsdb.path", url["prometheus"],
                                                      ports["prometheus"],
                                                      {"--rules.alert.resend-delay": self.scale.alert_resend_delay}
                                                      if self.scale.alert_resend_delay else {}),
                      url["prometheus"], {"http": f"{url['prometheus']}/-/ready", "auth": True}, auth=prom_auth,
                      env={"STACK_CLUSTER": "native", "STACK_ENVIRONMENT": "test"}),
        ]
        self.init_postgres(pg_data, passwords["postgres"], as_root)
        return components, {"skipped": skipped}

    def server_argv(self, service: str, storage_flag: str, url: str, port: int,
                    extra: dict[str, str] | None = None) -> list[str]:
        """Prometheus' or Alertmanager's command line: docker-compose.yml's own flags, paths made native."""
        return [self.tool(service), *native_config.replace_flags(
            native_config.compose_command(ROOT / "docker-compose.yml", service), {
                "--config.file": str(self.state / service / f"{service}.yml"),
                storage_flag: str(self.state / service / "data"),
                "--web.config.file": str(self.state / "web" / f"{service}-web.yml"),
                "--web.external-url": url,
                "--web.listen-address": f"127.0.0.1:{port}",
                **(extra or {}),
            })]

    def render_configs(self, ports: dict[str, int], passwords: dict[str, str], sink_url: str) -> dict[str, str]:
        addresses = {compose: f"127.0.0.1:{ports[name]}" for compose, name in COMPOSE_ADDRESSES.items()}
        web = self.state / "web"
        for name in ("prometheus", "alertmanager"):
            hashed = bcrypt.hashpw(passwords[name].encode(), bcrypt.gensalt(rounds=8)).decode()
            write_yaml(web / f"{name}-web.yml", native_config.web_config(name, hashed))
            (web / f"{name}-password").write_text(passwords[name])
        prometheus, skipped = native_config.render_prometheus(
            yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text()), addresses, web_dir=web,
            rules_dir=self.state / "rules", targets_dir=ROOT / "prometheus/targets", scale=self.scale)
        write_yaml(self.state / "prometheus/prometheus.yml", prometheus)
        for rules in rule_files(ROOT):
            write_yaml(self.state / "rules" / rules.name,
                       native_config.render_rules(yaml.safe_load(rules.read_text()), self.scale, set(skipped)))
        links = self.state / "alertmanager/links.tmpl"
        links.write_text(alertmanager_config.links_template("http://localhost:3000"))
        shipped = alertmanager_config.render(yaml.safe_load((ROOT / "alertmanager/alertmanager.yml").read_text()), {},
                                             alertmanager_config.read_teams(ROOT / "alertmanager/teams.yml"))
        alertmanager = native_config.render_alertmanager(shipped, sink_url, templates_dir=ROOT / "alertmanager/templates",
                                                         links_template=links, scale=self.scale)
        write_yaml(self.state / "alertmanager/alertmanager.yml", alertmanager)
        return skipped

    def init_postgres(self, data: Path, password: str, as_root: bool) -> None:
        if (data / "PG_VERSION").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        pwfile = self.state / "postgres.pw"
        pwfile.write_text(password + "\n")
        user = UNPRIVILEGED_USER if as_root else None
        if as_root:
            for path in (data, pwfile):
                os.chown(path, _uid(UNPRIVILEGED_USER), -1)
            for parent in [self.state, *self.state.parents]:
                if not os.stat(parent).st_mode & 0o001:
                    raise NativeStackError(
                        f"{parent} is not searchable by {UNPRIVILEGED_USER}, which PostgreSQL must run as under root: "
                        "use a --state-dir (and checkout) under a world-searchable folder such as /tmp")
            probe = subprocess.run([self.tool("postgres"), "--version"], capture_output=True, text=True,
                                   user=UNPRIVILEGED_USER, check=False)
            if probe.returncode != 0:
                raise NativeStackError(
                    f"{UNPRIVILEGED_USER} cannot run {self.tool('postgres')} ({probe.stderr.strip()[:200]}): "
                    "under root, PostgreSQL runs as nobody, so the checkout must be in a world-searchable folder")
        proc = subprocess.run([self.tool("initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                               f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C"],
                              capture_output=True, text=True, user=user, check=False)
        pwfile.unlink()
        if proc.returncode != 0:
            raise NativeStackError(f"initdb failed: {proc.stderr.strip() or proc.stdout.strip()}")

    # ------------------------------------------------------------------ lifecycle
    def up(self, timeout: float = 120) -> dict[str, Any]:
        if self.pids_file.exists() and any(self.alive(entry) for entry in self.read_pids().values()):
            raise NativeStackError(f"a native stack already runs from {self.state}: run `down` first")
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        components, extra = self.plan()
        plan_file = self.state / "plan.json"  # holds the run's passwords: private
        plan_file.write_text(json.dumps([asdict(c) for c in components], indent=2))
        plan_file.chmod(0o600)
        started: dict[str, dict[str, Any]] = {}
        try:
            for component in components:
                started[component.name] = self.start(component)
                self.write_pids(started)
                self.wait_ready(component, started[component.name], timeout)
            self.wait_targets(components[-1], timeout)
        except BaseException:
            self.stop(started)
            raise
        endpoints = {
            "components": {c.name: {"url": c.url, "pid": started[c.name]["pid"], **({"auth": list(c.auth)} if c.auth else {})}
                           for c in components},
            "time_scale": {"name": self.scale.name, "divisor": self.scale.divisor},
            "state_dir": str(self.state),
            "skipped_jobs": extra["skipped"],
        }
        self.endpoints_file.write_text(json.dumps(endpoints, indent=2) + "\n")
        self.endpoints_file.chmod(0o600)
        return endpoints

    def start(self, component: Component) -> dict[str, Any]:
        log = (self.state / "logs" / f"{component.name}.log").open("ab")
        # The Python components (webhook sink, GPU exporter, demo app) are installed distributions.
        env = {**os.environ, **component.env}
        proc = subprocess.Popen(component.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=component.cwd or self.state, start_new_session=True, user=component.user)
        log.close()
        return {"pid": proc.pid, "start": process_start_time(proc.pid), "stop_signal": component.stop_signal}

    def wait_ready(self, component: Component, entry: dict[str, Any], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive(entry):
                raise NativeStackError(f"{component.name} exited during start; see {self.log_tail(component.name)}")
            if component.is_ready():
                return
            time.sleep(0.1)
        raise NativeStackError(f"{component.name} not ready within {timeout:.0f}s; see {self.log_tail(component.name)}")

    def wait_targets(self, prometheus: Component, timeout: float) -> None:
        """`up` returns once Prometheus has scraped every target successfully."""
        deadline = time.monotonic() + timeout
        down: list[str] = []
        while time.monotonic() < deadline:
            try:
                active = requests.get(f"{prometheus.url}/api/v1/targets?state=active", auth=prometheus.auth,
                                      timeout=2).json()["data"]["activeTargets"]
                down = [f"{t['labels']['job']}: {t['lastError'] or t['health']}" for t in active if t["health"] != "up"]
                if active and not down:
                    return
            except (requests.RequestException, KeyError, ValueError):
                pass
            time.sleep(0.2)
        raise NativeStackError(f"targets not up within {timeout:.0f}s: {'; '.join(down)}")

    def log_tail(self, name: str) -> str:
        path = self.state / "logs" / f"{name}.log"
        lines = path.read_text(errors="replace").splitlines()[-5:] if path.exists() else []
        return f"{path}:\n    " + "\n    ".join(lines)

    @staticmethod
    def alive(entry: dict[str, Any]) -> bool:
        return entry.get("start") is not None and process_start_time(entry["pid"]) == entry["start"]

    def read_pids(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.pids_file.read_text()) if self.pids_file.exists() else {}

    def write_pids(self, pids: dict[str, dict[str, Any]]) -> None:
        tmp = self.pids_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(pids, indent=2))
        tmp.replace(self.pids_file)

    def load_plan(self) -> dict[str, Component]:
        plan_file = self.state / "plan.json"
        if not plan_file.exists():
            raise NativeStackError(f"no native stack in {self.state}: run `up` first")
        return {c["name"]: Component(**{**c, "auth": tuple(c["auth"]) if c["auth"] else None})
                for c in json.loads(plan_file.read_text())}

    def stop_one(self, name: str) -> None:
        """Stop one component (to inject a fault); `start_one` brings it back as it was."""
        pids = self.read_pids()
        if name not in pids:
            raise NativeStackError(f"unknown component {name!r}; known: {', '.join(pids)}")
        if self.stop({name: pids[name]}):
            raise NativeStackError(f"{name} survived SIGKILL")

    def start_one(self, name: str, timeout: float = 60) -> None:
        plan, pids = self.load_plan(), self.read_pids()
        if name not in plan:
            raise NativeStackError(f"unknown component {name!r}; known: {', '.join(plan)}")
        if self.alive(pids.get(name, {})):
            raise NativeStackError(f"{name} is already running")
        pids[name] = self.start(plan[name])
        self.write_pids(pids)
        self.wait_ready(plan[name], pids[name], timeout)

    def status(self) -> dict[str, str]:
        return {name: ("running" if self.alive(entry) else "stopped") for name, entry in self.read_pids().items()}

    def down(self) -> list[str]:
        """Stop every process of this stack; returns the names of any that survived (should be none)."""
        survivors = self.stop(self.read_pids())
        if not survivors:
            self.pids_file.unlink(missing_ok=True)
        return survivors

    def stop(self, pids: dict[str, dict[str, Any]], grace: float = 15) -> list[str]:
        # Reverse start order: Prometheus first, so it does not alert on exporters going away.
        running = {name: entry for name, entry in reversed(list(pids.items())) if self.alive(entry)}
        for entry in running.values():
            signal_group(entry["pid"], signal.Signals[entry.get("stop_signal", "SIGTERM")])
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(self.alive(e) or group_alive(e["pid"]) for e in running.values()):
            time.sleep(0.1)
        for entry in running.values():
            signal_group(entry["pid"], signal.SIGKILL)
        time.sleep(0.2)
        return [name for name, entry in running.items() if self.alive(entry) or group_alive(entry["pid"])]


def signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Any live process left in the group (PostgreSQL's children, say)?"""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
