"""Back up the stack's state into one timestamped folder, and restore it.

`backup` writes DEST/obsstack-backup-<UTC time>/ with manifest.json (every part saved or skipped with
the reason, versions, start and end time, duration, and the size and sha256 of every file) and:

  prometheus/data/           the TSDB (blocks, the head's chunks and the WAL), copied while Prometheus
                             is stopped (a few seconds: a gap of one or two scrapes, no evaluation
                             meanwhile), so the copy is consistent; on restore the WAL is replayed
  alertmanager/storage/      `silences` and `nflog` from Alertmanager's --storage.path. Alertmanager
                             writes them only every --data.maintenance-interval (15m) and when it stops,
                             so it is stopped for the copy and started again (about a second; Prometheus
                             re-sends firing alerts). The downtime is in the manifest.
  alertmanager/silences.json GET /api/v2/silences: the same silences, readable by a person
  grafana/grafana.db         Grafana's SQLite database (compose: from the grafana-data volume, Grafana
                             stopped for the copy so no write is caught halfway; checked with
                             `PRAGMA integrity_check`). Natively there is no Grafana: skipped, saying so.
  elasticsearch/repository/  compose with the logging or tracing profile: the snapshot repository
                             `obsstack` (type fs, at /usr/share/elasticsearch/backup in the container)
                             after PUT _snapshot/obsstack/<name>?wait_for_completion=true. Elasticsearch
                             must list that folder in `path.repo`. Natively skipped, saying so.

`restore` checks every file against the manifest first and refuses, naming the file, if any is
missing, changed or unexpected; it then writes nothing. Otherwise it stages the data beside the
running service, stops Prometheus, puts the saved TSDB folder in place of its own and starts
it; the same for Alertmanager's `silences` and `nflog` (and, in compose, Grafana's database).
Elasticsearch is not restored automatically: restoring indices over live ones needs a decision
(which to close or delete); the command to run is printed.

Why no admin API. POST /api/v1/admin/tsdb/snapshot would copy without a stop, but it needs
--web.enable-admin-api, which also lets anyone holding the Prometheus login delete series. Grafana
holds that login for its datasource and forwards any method to any path of the datasource through
its resource API (/api/datasources/uid/<uid>/resources/..., `datasources:query`, which every Viewer
has): the admin API would be open to every Grafana user. Prometheus' basic auth has no per-path
permissions to narrow it. So the stack never turns the admin API on; the backup stops Prometheus.

Two ways to reach the stack: NativeTarget (`obsstack native up`'s state folder; the processes are
stopped and started through it) and ComposeTarget (`docker compose exec`/`run` with tar streams,
`stop`/`start`, and the published ports with the logins from .env).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import requests

from . import __version__, paths
from .folders import replace_dir

LOG = logging.getLogger("backup")

FORMAT = 1
PREFIX = "obsstack-backup-"
MANIFEST = "manifest.json"
TIMEOUT_S = 30
# What a TSDB folder holds that is not data: the lock, the active-query log, old snapshots.
PROMETHEUS_SKIPPED = ("lock", "queries.active", "snapshots")
# Elasticsearch's snapshot repository: its name and folder inside the container (on a volume).
ES_REPOSITORY = "obsstack"
ES_LOCATION = "/usr/share/elasticsearch/backup"
# Container folders of the compose services' volumes (docker-compose.yml).
PROMETHEUS_DATA = "/prometheus"
ALERTMANAGER_DATA = "/alertmanager"
GRAFANA_DATA = "/var/lib/grafana"
ALERTMANAGER_FILES = ("silences", "nflog")
NATIVE_ONLY = "not part of the native stack (it runs only in compose)"


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says what and how to fix it."""


class Skipped(Exception):
    """This part is not deployed here; the message says why."""


@dataclass(frozen=True)
class Api:
    """One HTTP endpoint of the stack and its basic-auth login."""

    url: str
    auth: tuple[str, str] | None = None

    def call(self, method: str, path: str, timeout: float = TIMEOUT_S, **kwargs: Any) -> requests.Response:
        try:
            return requests.request(method, f"{self.url}{path}", auth=self.auth, timeout=timeout, **kwargs)
        except requests.RequestException as exc:
            raise BackupError(f"{method} {self.url}{path}: {exc}") from exc

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code >= 300:
            raise BackupError(f"{method} {self.url}{path}: HTTP {response.status_code}: {response.text[:300]}")
        return response.json()


@dataclass
class Part:
    """What one part of a backup or restore did."""

    name: str
    status: str  # "saved", "restored", "skipped" or "manual"
    detail: str
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


class Target(Protocol):
    """A running stack that can be backed up and restored (native or compose)."""

    kind: str
    prometheus: Api
    alertmanager: Api

    def fetch_prometheus_data(self, dest: Path) -> None: ...
    def fetch_alertmanager_state(self, dest: Path) -> None: ...
    def fetch_grafana(self, dest: Path) -> dict[str, Any]: ...
    def fetch_elasticsearch(self, dest: Path, snapshot: str) -> dict[str, Any]: ...
    def restore_prometheus(self, blocks: Path) -> None: ...
    def restore_alertmanager(self, storage: Path) -> None: ...
    def restore_grafana(self, dest: Path) -> None: ...


# ------------------------------------------------------------------------------------------ files

def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inventory(root: Path) -> dict[str, dict[str, Any]]:
    """Every file under root (but the manifest) -> its size and sha256, by its path relative to root."""
    return {path.relative_to(root).as_posix(): {"size": path.stat().st_size, "sha256": sha256(path)}
            for path in sorted(root.rglob("*")) if path.is_file() and path.relative_to(root).as_posix() != MANIFEST}


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} not found: not a backup folder written by `obsstack backup`")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise BackupError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{path}: not a format-{FORMAT} obsstack backup manifest")
    return manifest


def verify(backup_dir: Path) -> dict[str, Any]:
    """The manifest, once every file it lists is present with its size and sha256 and no other file
    is there; BackupError naming the first file that is not."""
    manifest = read_manifest(backup_dir)
    root = backup_dir.resolve()
    for name, expected in manifest["files"].items():
        path = (root / name).resolve()
        if Path(name).is_absolute() or root not in path.parents:
            raise BackupError(f"refusing to restore: manifest lists {name!r}, outside the backup folder")
        if not path.is_file():
            raise BackupError(f"refusing to restore: {name} is missing from {backup_dir}")
        if path.stat().st_size != expected["size"] or sha256(path) != expected["sha256"]:
            raise BackupError(f"refusing to restore: {name} does not match its sha256 in {MANIFEST} (changed or damaged)")
    extra = sorted(set(inventory(root)) - set(manifest["files"]))
    if extra:
        raise BackupError(f"refusing to restore: {extra[0]} is in {backup_dir} but not in {MANIFEST}")
    return manifest


def now() -> datetime:
    return datetime.now(timezone.utc)


def isoformat(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timed(name: str, action: Callable[[], Part]) -> Part:
    start = time.monotonic()
    try:
        part = action()
    except Skipped as why:
        part = Part(name, "skipped", str(why))
    part.seconds = round(time.monotonic() - start, 3)
    LOG.info("%s: %s %s (%.2fs)", name, part.status, part.detail, part.seconds)
    return part


# ----------------------------------------------------------------------------------------- backup

def backup_prometheus(target: Target, dest: Path) -> Part:
    version = target.prometheus.json("GET", "/api/v1/status/buildinfo")["data"]["version"]
    data = dest / "prometheus/data"
    stopped_at = time.monotonic()
    target.fetch_prometheus_data(data)
    stopped_for = round(time.monotonic() - stopped_at, 2)
    for leftover in PROMETHEUS_SKIPPED:  # a stopped Prometheus leaves none; an old snapshot folder may be there
        path = data / leftover
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    blocks = [json.loads(meta.read_text()) for meta in sorted(data.glob("*/meta.json"))]
    wal = sorted((data / "wal").glob("[0-9]*")) if (data / "wal").is_dir() else []
    info: dict[str, Any] = {"version": version, "path": "prometheus/data", "blocks": len(blocks),
                            "wal_segments": len(wal), "stopped_seconds": stopped_for}
    if blocks:
        info["min_time"] = isoformat(datetime.fromtimestamp(min(b["minTime"] for b in blocks) / 1000, timezone.utc))
        info["max_time"] = isoformat(datetime.fromtimestamp(max(b["maxTime"] for b in blocks) / 1000, timezone.utc))
        info["series"] = sum(b.get("stats", {}).get("numSeries", 0) for b in blocks)
    span = f", blocks {info['min_time']} to {info['max_time']}" if blocks else ""
    return Part("prometheus", "saved", f"TSDB: {len(blocks)} block(s){span}, {len(wal)} WAL segment(s) "
                f"(the recent samples); Prometheus stopped {stopped_for} s", info=info)


def backup_alertmanager(target: Target, dest: Path) -> Part:
    version = target.alertmanager.json("GET", "/api/v2/status").get("versionInfo", {}).get("version", "")
    silences = target.alertmanager.json("GET", "/api/v2/silences")
    readable = dest / "alertmanager/silences.json"
    readable.parent.mkdir(parents=True, exist_ok=True)
    readable.write_text(json.dumps(sorted(silences, key=lambda s: s.get("id", "")), indent=2) + "\n")
    stopped = time.monotonic()
    target.fetch_alertmanager_state(dest / "alertmanager/storage")
    downtime = round(time.monotonic() - stopped, 3)
    active = sum(s.get("status", {}).get("state") == "active" for s in silences)
    return Part("alertmanager", "saved", f"silences and nflog ({len(silences)} silences, {active} active); "
                f"stopped for {downtime:.1f}s for a consistent copy",
                info={"version": version, "path": "alertmanager/storage", "silences": len(silences),
                      "active_silences": active, "silences_json": "alertmanager/silences.json", "downtime_s": downtime})


def backup_grafana(target: Target, dest: Path) -> Part:
    info = target.fetch_grafana(dest / "grafana")
    return Part("grafana", "saved", f"grafana.db ({info.get('integrity', '')})", info={"path": "grafana/grafana.db", **info})


def backup_elasticsearch(target: Target, dest: Path, snapshot: str) -> Part:
    info = target.fetch_elasticsearch(dest / "elasticsearch/repository", snapshot)
    return Part("elasticsearch", "saved", f"snapshot {snapshot} in repository {ES_REPOSITORY} "
                f"({info.get('indices', 0)} indices)", info={"path": "elasticsearch/repository", **info})


def backup(target: Target, dest_root: Path) -> tuple[Path, dict[str, Any]]:
    """One timestamped backup folder under dest_root, complete with its manifest; nothing is left
    there when any part fails (the parts are written to a hidden folder renamed at the end)."""
    started, clock = now(), time.monotonic()
    name = PREFIX + started.strftime("%Y%m%dT%H%M%SZ")
    final = dest_root / name
    if final.exists():
        raise BackupError(f"{final} already exists: wait a second and run it again")
    dest_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=dest_root))  # mode 0700
    try:
        snapshot_name = name.removeprefix(PREFIX).lower()
        parts = [
            timed("prometheus", lambda: backup_prometheus(target, work)),
            timed("alertmanager", lambda: backup_alertmanager(target, work)),
            timed("grafana", lambda: backup_grafana(target, work)),
            timed("elasticsearch", lambda: backup_elasticsearch(target, work, snapshot_name)),
        ]
        files = inventory(work)
        finished = now()
        manifest = {
            "format": FORMAT,
            "name": name,
            "obsstack_version": __version__,
            "stack": target.kind,
            "started": isoformat(started),
            "finished": isoformat(finished),
            "duration_s": round(time.monotonic() - clock, 3),
            "parts": {p.name: {"status": p.status, "detail": p.detail, "seconds": p.seconds, **p.info} for p in parts},
            "total_bytes": sum(f["size"] for f in files.values()),
            "files": files,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final, manifest


# ---------------------------------------------------------------------------------------- restore

def restore(target: Target, backup_dir: Path, manifest: dict[str, Any] | None = None) -> list[Part]:
    """Verify every file first (BackupError, nothing written, when one differs) unless the caller
    just did (its manifest), then restore each saved part into the running stack."""
    manifest = manifest or verify(backup_dir)
    saved = {name for name, part in manifest["parts"].items() if part.get("status") == "saved"}
    missing = {"prometheus", "alertmanager"} - saved
    if missing:
        raise BackupError(f"refusing to restore: the backup holds no {' or '.join(sorted(missing))}")

    def skipped(name: str, why: str) -> Callable[[], Part]:
        return lambda: Part(name, "skipped", why)

    def prometheus() -> Part:
        target.restore_prometheus(backup_dir / "prometheus/data")
        part = manifest["parts"]["prometheus"]
        return Part("prometheus", "restored", f"TSDB replaced: {part.get('blocks', 0)} block(s), "
                    f"{part.get('wal_segments', 0)} WAL segment(s) replayed; Prometheus restarted")

    def alertmanager() -> Part:
        target.restore_alertmanager(backup_dir / "alertmanager/storage")
        return Part("alertmanager", "restored", f"silences and nflog ({manifest['parts']['alertmanager']['silences']} "
                    "silences); Alertmanager restarted")

    def grafana() -> Part:
        target.restore_grafana(backup_dir / "grafana/grafana.db")
        return Part("grafana", "restored", "grafana.db replaced; Grafana restarted")

    def elasticsearch() -> Part:
        snapshot = manifest["parts"]["elasticsearch"]["snapshot"]
        return Part("elasticsearch", "manual", f"not restored automatically: copy {backup_dir}/elasticsearch/repository/ "
                    f"into the elasticsearch-backup volume if it was lost, close or delete the indices to replace, then "
                    f"POST _snapshot/{ES_REPOSITORY}/{snapshot}/_restore")

    return [
        timed("prometheus", prometheus),
        timed("alertmanager", alertmanager),
        timed("grafana", grafana if "grafana" in saved else skipped("grafana", "not in this backup")),
        timed("elasticsearch", elasticsearch if "elasticsearch" in saved else skipped("elasticsearch", "not in this backup")),
    ]


# ----------------------------------------------------------------------------------------- native

def flag_value(argv: list[str], flag: str) -> str:
    for arg in argv:
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    raise BackupError(f"{flag} not on the command line {argv[:1]}")


class NativeTarget:
    """The native stack of a state folder (`obsstack native up --state-dir DIR`)."""

    kind = "native"

    def __init__(self, state: Path, timeout: float = 120) -> None:
        from .native import NativeStack, NativeStackError  # the native stack pulls in every component

        self.error = NativeStackError
        self.stack = NativeStack(state, paths.tools_bin())
        self.timeout = timeout
        try:
            plan = self.stack.load_plan()
        except NativeStackError as exc:
            raise BackupError(str(exc)) from exc
        prometheus, alertmanager = plan["prometheus"], plan["alertmanager"]
        self.prometheus = Api(prometheus.url, prometheus.auth)
        self.alertmanager = Api(alertmanager.url, alertmanager.auth)
        self.tsdb = Path(flag_value(prometheus.argv, "--storage.tsdb.path"))
        self.am_storage = Path(flag_value(alertmanager.argv, "--storage.path"))

    @contextmanager
    def stopped(self, name: str) -> Iterator[None]:
        try:
            self.stack.stop_one(name)
        except self.error as exc:
            raise BackupError(str(exc)) from exc
        try:
            yield
        finally:
            try:
                self.stack.start_one(name, timeout=self.timeout)
            except self.error as exc:
                raise BackupError(str(exc)) from exc

    def fetch_prometheus_data(self, dest: Path) -> None:
        with self.stopped("prometheus"):
            shutil.copytree(self.tsdb, dest, ignore=shutil.ignore_patterns(*PROMETHEUS_SKIPPED))

    def fetch_alertmanager_state(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        with self.stopped("alertmanager"):
            for name in ALERTMANAGER_FILES:
                if (self.am_storage / name).exists():
                    shutil.copy2(self.am_storage / name, dest / name)

    def fetch_grafana(self, dest: Path) -> dict[str, Any]:
        raise Skipped(NATIVE_ONLY)

    def fetch_elasticsearch(self, dest: Path, snapshot: str) -> dict[str, Any]:
        raise Skipped(NATIVE_ONLY)

    def restore_prometheus(self, blocks: Path) -> None:
        staged = self.tsdb.with_name(f".{self.tsdb.name}.restoring")
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(blocks, staged)
        with self.stopped("prometheus"):
            replace_dir(staged, self.tsdb)

    def restore_alertmanager(self, storage: Path) -> None:
        staged = [(storage / name, self.am_storage / f".{name}.restoring", self.am_storage / name)
                  for name in ALERTMANAGER_FILES if (storage / name).exists()]
        for source, temporary, _ in staged:
            shutil.copy2(source, temporary)
        with self.stopped("alertmanager"):
            for _, temporary, live in staged:
                os.replace(temporary, live)

    def restore_grafana(self, dest: Path) -> None:
        raise Skipped(NATIVE_ONLY)


# ---------------------------------------------------------------------------------------- compose

Runner = Callable[[list[str], Path | None, Path | None], None]


def run_command(argv: list[str], stdin: Path | None = None, stdout: Path | None = None) -> None:
    """Run one command; stdin/stdout from/to files (tar streams); BackupError with its stderr if it fails."""
    with (stdin.open("rb") if stdin else open(os.devnull, "rb")) as source, \
            (stdout.open("wb") if stdout else open(os.devnull, "wb")) as sink:
        proc = subprocess.run(argv, stdin=source, stdout=sink, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise BackupError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()[-500:]}")


@dataclass(frozen=True)
class ComposeCommands:
    """The `docker compose` command lines the compose target runs (pure: unit-tested)."""

    base: list[str]  # e.g. ["docker", "compose", "--project-directory", P, "--env-file", E]

    def stop(self, service: str) -> list[str]:
        return [*self.base, "stop", service]

    def start(self, service: str) -> list[str]:
        return [*self.base, "start", service]

    def exec_tar_out(self, service: str, folder: str, names: tuple[str, ...]) -> list[str]:
        """A tar of folder/names on stdout, from the running container."""
        return [*self.base, "exec", "-T", service, "tar", "-C", folder, "-cf", "-", *names]

    def run_tar_out(self, service: str, folder: str, names: tuple[str, ...]) -> list[str]:
        """A tar of folder/names on stdout from a one-off container on the service's volumes (works
        while the service is stopped), as the image's own user."""
        return [*self.base, "run", "--rm", "--no-deps", "-T", "--entrypoint", "tar", service, "-C", folder, "-cf", "-", *names]

    def run_tar_in(self, service: str, folder: str, clear: bool = False) -> list[str]:
        """Unpack a tar from stdin into folder (emptied first when clear), in a one-off container
        as the image's own user, so the files belong to the user the service runs as."""
        script = (f"cd {folder} && rm -rf -- ./* && " if clear else "") + f"tar -xf - -C {folder}"
        return [*self.base, "run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", service, "-c", script]


def tar_folder(source: Path, archive: Path, names: list[str] | None = None) -> None:
    """source's entries (or just names) at the archive's root; owner and group left to the extractor."""

    def anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(archive, "w") as tar:
        for name in names if names is not None else sorted(p.name for p in source.iterdir()):
            tar.add(source / name, arcname=name, filter=anonymous)


def untar(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")  # no absolute paths, links out or device files


class ComposeTarget:
    """The compose stack: files through `docker compose exec`/`run` tar streams, services stopped and
    started with `docker compose stop`/`start`, the APIs on their published ports."""

    kind = "compose"

    def __init__(self, commands: ComposeCommands, endpoints: dict[str, Api], services: set[str],
                 runner: Runner = run_command) -> None:
        self.commands = commands
        self.endpoints = endpoints
        self.services = services
        self.runner = runner
        for name in ("prometheus", "alertmanager"):
            if name not in endpoints:
                raise BackupError(f"{name} has no published port in this compose project")
        self.prometheus = endpoints["prometheus"]
        self.alertmanager = endpoints["alertmanager"]

    @classmethod
    def from_project(cls, project_dir: Path, env_file: Path) -> ComposeTarget:
        from . import compose
        from .smoke.stack import SmokeError, Stack

        try:
            stack = Stack.from_env(env_file, project_dir)
            base = [*compose.find_compose(), "--project-directory", str(project_dir), "--env-file", str(env_file)]
        except (SmokeError, compose.ComposeError) as exc:
            raise BackupError(str(exc)) from exc
        services = {"prometheus", "alertmanager", "grafana"} | (set() if "elasticsearch" in stack.not_deployed
                                                                   else {"elasticsearch"})
        return cls(ComposeCommands(base), {name: Api(e.url, e.auth) for name, e in stack.endpoints.items()}, services)

    def run(self, argv: list[str], stdin: Path | None = None, stdout: Path | None = None) -> None:
        LOG.debug("running %s", " ".join(argv))
        self.runner(argv, stdin, stdout)

    @contextmanager
    def stopped(self, service: str) -> Iterator[None]:
        self.run(self.commands.stop(service))
        try:
            yield
        finally:
            self.run(self.commands.start(service))

    def tar_out(self, argv: list[str], dest: Path) -> None:
        with tempfile.TemporaryDirectory(dir=dest.parent if dest.parent.exists() else None) as tmp:
            archive = Path(tmp) / "stream.tar"
            self.run(argv, stdout=archive)
            untar(archive, dest)

    def fetch_prometheus_data(self, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.stopped("prometheus"):
            self.tar_out(self.commands.run_tar_out("prometheus", PROMETHEUS_DATA, (".",)), dest)

    def fetch_alertmanager_state(self, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.stopped("alertmanager"):
            self.tar_out(self.commands.run_tar_out("alertmanager", ALERTMANAGER_DATA, ALERTMANAGER_FILES), dest)

    def fetch_grafana(self, dest: Path) -> dict[str, Any]:
        if "grafana" not in self.services:
            raise Skipped("service grafana is not in this stack")
        version = ""
        if "grafana" in self.endpoints:
            version = self.endpoints["grafana"].json("GET", "/api/health").get("version", "")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.stopped("grafana"):
            self.tar_out(self.commands.run_tar_out("grafana", GRAFANA_DATA, ("grafana.db",)), dest)
        return {"version": version, "integrity": sqlite_integrity(dest / "grafana.db")}

    def fetch_elasticsearch(self, dest: Path, snapshot: str) -> dict[str, Any]:
        if "elasticsearch" not in self.services or "elasticsearch" not in self.endpoints:
            raise Skipped("service elasticsearch is not in this stack (COMPOSE_PROFILES has neither logging nor tracing)")
        es = self.endpoints["elasticsearch"]
        version = es.json("GET", "/").get("version", {}).get("number", "")
        response = es.call("PUT", f"/_snapshot/{ES_REPOSITORY}",
                           json={"type": "fs", "settings": {"location": ES_LOCATION}})
        if response.status_code >= 300:
            raise BackupError(f"Elasticsearch refused the snapshot repository {ES_LOCATION} (HTTP {response.status_code}): "
                              f"{response.text[:300]}; elasticsearch.yml needs `path.repo: [{ES_LOCATION}]` and a volume there")
        result = es.json("PUT", f"/_snapshot/{ES_REPOSITORY}/{snapshot}", params={"wait_for_completion": "true"},
                         json={"include_global_state": True}, timeout=3600)["snapshot"]
        if result.get("state") != "SUCCESS":
            raise BackupError(f"Elasticsearch snapshot {snapshot} ended {result.get('state')}: {result.get('failures')}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.tar_out(self.commands.exec_tar_out("elasticsearch", ES_LOCATION, (".",)), dest)
        return {"version": version, "snapshot": snapshot, "repository": ES_REPOSITORY,
                "indices": len(result.get("indices", []))}

    def put_folder(self, service: str, folder: str, source: Path, names: list[str] | None, clear: bool) -> None:
        """Stage a tar of source before stopping the service, then stop it, unpack, start it."""
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "stream.tar"
            tar_folder(source, archive, names)
            with self.stopped(service):
                self.run(self.commands.run_tar_in(service, folder, clear=clear), stdin=archive)

    def restore_prometheus(self, blocks: Path) -> None:
        self.put_folder("prometheus", PROMETHEUS_DATA, blocks, None, clear=True)

    def restore_alertmanager(self, storage: Path) -> None:
        self.put_folder("alertmanager", ALERTMANAGER_DATA, storage,
                        [name for name in ALERTMANAGER_FILES if (storage / name).exists()], clear=False)

    def restore_grafana(self, dest: Path) -> None:
        self.put_folder("grafana", GRAFANA_DATA, dest.parent, [dest.name], clear=False)


def sqlite_integrity(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path}: SQLite integrity_check says {result}")
    return "integrity_check ok"
