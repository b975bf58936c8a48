"""`obsstack backup`/`restore` without a stack: the manifest (sizes, sha256 of every file), restore
refusing a changed, missing or unexpected file before it writes anything, and the `docker compose`
command lines of the compose target (Docker is not needed: its runner is recorded)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from obsstack import backup
from obsstack.backup import Api, BackupError, ComposeCommands, ComposeTarget, Skipped

BASE = ["docker", "compose", "--project-directory", "/srv/obs", "--env-file", "/srv/obs/.env"]


class Reply:
    def __init__(self, body: Any, status: int = 200) -> None:
        self.body, self.status_code = body, status
        self.headers = {"content-type": "application/json"}
        self.text = json.dumps(body)

    def json(self) -> Any:
        return self.body


class FakeApi:
    """Api's interface, answering from a table of (method, path) -> body."""

    def __init__(self, replies: dict[tuple[str, str], Any]) -> None:
        self.replies = replies

    def call(self, method: str, path: str, **_: Any) -> Reply:
        return Reply(self.replies[(method, path)])

    def json(self, method: str, path: str, **_: Any) -> Any:
        return self.replies[(method, path)]


class FakeTarget:
    """A stack whose parts write small files, and which records every restore it is asked for."""

    kind = "native"

    def __init__(self) -> None:
        self.prometheus = FakeApi({("GET", "/api/v1/status/buildinfo"): {"data": {"version": "3.5.3"}}})
        self.alertmanager = FakeApi({("GET", "/api/v2/status"): {"versionInfo": {"version": "0.33.1"}},
                                     ("GET", "/api/v2/silences"): [{"id": "s1", "status": {"state": "active"}}]})
        self.calls: list[str] = []
        self.fail_alertmanager = False

    def fetch_prometheus_data(self, dest: Path) -> None:
        (dest / "wal").mkdir(parents=True)
        (dest / "wal/00000001").write_bytes(b"wal")
        (dest / "lock").write_bytes(b"")
        block = dest / "01BLOCK"
        (block / "chunks").mkdir(parents=True)
        (block / "chunks/000001").write_bytes(b"\x01\x02chunks")
        (block / "index").write_bytes(b"index")
        (block / "meta.json").write_text(json.dumps({"minTime": 1_700_000_000_000, "maxTime": 1_700_000_060_000,
                                                     "stats": {"numSeries": 7}}))

    def fetch_alertmanager_state(self, dest: Path) -> None:
        if self.fail_alertmanager:
            raise BackupError("alertmanager did not stop")
        dest.mkdir(parents=True)
        (dest / "silences").write_bytes(b"silence-protobuf")
        (dest / "nflog").write_bytes(b"")

    def fetch_grafana(self, dest: Path) -> dict[str, Any]:
        raise Skipped(backup.NATIVE_ONLY)

    def fetch_elasticsearch(self, dest: Path, snapshot: str) -> dict[str, Any]:
        raise Skipped(backup.NATIVE_ONLY)

    def restore_prometheus(self, blocks: Path) -> None:
        self.calls.append("prometheus")

    def restore_alertmanager(self, storage: Path) -> None:
        self.calls.append("alertmanager")

    def restore_grafana(self, dest: Path) -> None:
        self.calls.append("grafana")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return backup.backup(FakeTarget(), tmp_path / "backups")


def test_backup_writes_one_timestamped_folder_with_a_complete_manifest(made, tmp_path):
    folder, manifest = made
    assert [p.name for p in (tmp_path / "backups").iterdir()] == [folder.name], "one folder, nothing partial left"
    assert folder.name.startswith("obsstack-backup-") and folder.name.endswith("Z")
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    on_disk = tree(folder)
    del on_disk["manifest.json"]
    assert set(manifest["files"]) == set(on_disk)
    assert "prometheus/data/wal/00000001" in manifest["files"] and "prometheus/data/lock" not in manifest["files"]
    for name, entry in manifest["files"].items():
        assert entry["size"] == len(on_disk[name])
        assert entry["sha256"] == backup.hashlib.sha256(on_disk[name]).hexdigest()
    assert manifest["total_bytes"] == sum(len(b) for b in on_disk.values())
    assert {"started", "finished", "duration_s", "obsstack_version", "stack"} <= set(manifest)
    parts = manifest["parts"]
    assert parts["prometheus"]["status"] == "saved" and parts["prometheus"]["version"] == "3.5.3"
    assert parts["prometheus"]["series"] == 7 and parts["prometheus"]["min_time"].startswith("2023-11-14T22:13:20")
    assert parts["alertmanager"]["silences"] == 1 and parts["alertmanager"]["version"] == "0.33.1"
    assert json.loads((folder / "alertmanager/silences.json").read_text())[0]["id"] == "s1"
    assert parts["grafana"] == {"status": "skipped", "detail": backup.NATIVE_ONLY, "seconds": parts["grafana"]["seconds"]}
    assert parts["elasticsearch"]["status"] == "skipped"


def test_a_failed_part_leaves_no_backup_folder(tmp_path):
    target = FakeTarget()
    target.fail_alertmanager = True
    with pytest.raises(BackupError, match="did not stop"):
        backup.backup(target, tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []


def test_an_intact_backup_restores_every_saved_part(made):
    folder, _ = made
    target = FakeTarget()
    parts = backup.restore(target, folder)
    assert target.calls == ["prometheus", "alertmanager"]
    assert [(p.name, p.status) for p in parts] == [("prometheus", "restored"), ("alertmanager", "restored"),
                                                   ("grafana", "skipped"), ("elasticsearch", "skipped")]


def changed_byte(folder: Path, name: str) -> None:
    path = folder / name
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("damage", "message"), [
    (lambda f: changed_byte(f, "prometheus/data/01BLOCK/chunks/000001"),
     "prometheus/data/01BLOCK/chunks/000001 does not match its sha256"),
    (lambda f: (f / "alertmanager/storage/silences").unlink(), "alertmanager/storage/silences is missing"),
    (lambda f: (f / "prometheus/data/01BLOCK/extra").write_text("x"), "prometheus/data/01BLOCK/extra is in"),
])
def test_restore_refuses_a_damaged_backup_naming_the_file_and_writes_nothing(made, damage, message):
    folder, _ = made
    damage(folder)
    before = tree(folder)
    target = FakeTarget()
    with pytest.raises(BackupError, match=f"refusing to restore: {message}"):
        backup.restore(target, folder)
    assert target.calls == [], "nothing restored"
    assert tree(folder) == before


def test_a_manifest_naming_a_file_outside_the_backup_is_refused(made):
    folder, manifest = made
    manifest["files"]["../outside"] = {"size": 1, "sha256": "0" * 64}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="outside the backup folder"):
        backup.verify(folder)


def test_the_restore_command_refuses_before_it_looks_at_the_stack(made, tmp_path):
    folder, _ = made
    changed_byte(folder, "alertmanager/storage/silences")
    state = tmp_path / "no-stack-here"
    proc = subprocess.run([sys.executable, "-m", "obsstack", "restore", str(folder), "--native-state", str(state)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "refusing to restore: alertmanager/storage/silences does not match its sha256" in proc.stderr
    assert not state.exists(), "nothing written"


# ------------------------------------------------------------------------------------ compose

class Recorder:
    """The compose target's runner: records each command (and the tar it was fed), answers tar
    streams with the given files."""

    def __init__(self, outputs: dict[str, bytes] | None = None, fail: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.fed: list[list[str]] = []
        self.outputs = outputs or {}
        self.fail = fail

    def __call__(self, argv: list[str], stdin: Path | None, stdout: Path | None) -> None:
        self.commands.append(argv)
        if stdin:
            with tarfile.open(stdin) as tar:
                self.fed.append(sorted(tar.getnames()))
        if self.fail and self.fail in argv:
            raise BackupError(f"{self.fail} failed")
        if stdout:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for name, data in self.outputs.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            stdout.write_bytes(buffer.getvalue())

    def tails(self) -> list[list[str]]:
        return [c[len(BASE):] for c in self.commands]


def compose_target(recorder: Recorder, services: tuple[str, ...] = ("prometheus", "alertmanager", "grafana")) -> ComposeTarget:
    endpoints = {"prometheus": Api("http://127.0.0.1:9090", ("prometheus", "p")),
                 "alertmanager": Api("http://127.0.0.1:9093", ("alertmanager", "a"))}
    return ComposeTarget(ComposeCommands(BASE), endpoints, set(services), runner=recorder)


def test_compose_command_lines():
    commands = ComposeCommands(BASE)
    assert commands.stop("alertmanager") == [*BASE, "stop", "alertmanager"]
    assert commands.start("alertmanager") == [*BASE, "start", "alertmanager"]
    assert commands.exec_tar_out("elasticsearch", "/usr/share/elasticsearch/backup", (".",)) == [
        *BASE, "exec", "-T", "elasticsearch", "tar", "-C", "/usr/share/elasticsearch/backup", "-cf", "-", "."]
    assert commands.run_tar_out("grafana", "/var/lib/grafana", ("grafana.db",)) == [
        *BASE, "run", "--rm", "--no-deps", "-T", "--entrypoint", "tar", "grafana", "-C", "/var/lib/grafana", "-cf", "-",
        "grafana.db"]
    assert commands.run_tar_in("prometheus", "/prometheus", clear=True) == [
        *BASE, "run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", "prometheus", "-c",
        "cd /prometheus && rm -rf -- ./* && tar -xf - -C /prometheus"]
    assert commands.run_tar_in("alertmanager", "/alertmanager")[-1] == "tar -xf - -C /alertmanager"


def test_compose_prometheus_is_stopped_copied_and_started(tmp_path):
    recorder = Recorder({"01BLOCK/meta.json": b"{}", "01BLOCK/index": b"i", "wal/00000001": b"w"})
    compose_target(recorder).fetch_prometheus_data(tmp_path / "prometheus/data")
    assert recorder.tails() == [["stop", "prometheus"],
                                ["run", "--rm", "--no-deps", "-T", "--entrypoint", "tar", "prometheus", "-C",
                                 "/prometheus", "-cf", "-", "."],
                                ["start", "prometheus"]]
    assert tree(tmp_path / "prometheus/data") == {"01BLOCK/index": b"i", "01BLOCK/meta.json": b"{}", "wal/00000001": b"w"}


def test_compose_alertmanager_is_stopped_copied_and_started(tmp_path):
    recorder = Recorder({"silences": b"s", "nflog": b"n"})
    compose_target(recorder).fetch_alertmanager_state(tmp_path / "storage")
    assert recorder.tails() == [["stop", "alertmanager"],
                                ["run", "--rm", "--no-deps", "-T", "--entrypoint", "tar", "alertmanager", "-C",
                                 "/alertmanager", "-cf", "-", "silences", "nflog"],
                                ["start", "alertmanager"]]
    assert tree(tmp_path / "storage") == {"silences": b"s", "nflog": b"n"}


def test_compose_service_is_started_again_when_the_copy_fails(tmp_path):
    recorder = Recorder(fail="run")
    with pytest.raises(BackupError):
        compose_target(recorder).fetch_alertmanager_state(tmp_path / "storage")
    assert recorder.tails()[-1] == ["start", "alertmanager"]


def test_compose_restore_stages_a_tar_then_stops_unpacks_and_starts(tmp_path):
    blocks = tmp_path / "snapshot"
    (blocks / "01A/chunks").mkdir(parents=True)
    (blocks / "01A/chunks/000001").write_bytes(b"c")
    (blocks / "01B").mkdir()
    (blocks / "01B/meta.json").write_text("{}")
    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / "silences").write_bytes(b"s")
    (storage / "nflog").write_bytes(b"")
    recorder = Recorder()
    target = compose_target(recorder)
    target.restore_prometheus(blocks)
    target.restore_alertmanager(storage)
    assert recorder.tails() == [
        ["stop", "prometheus"],
        ["run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", "prometheus", "-c",
         "cd /prometheus && rm -rf -- ./* && tar -xf - -C /prometheus"],
        ["start", "prometheus"],
        ["stop", "alertmanager"],
        ["run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", "alertmanager", "-c", "tar -xf - -C /alertmanager"],
        ["start", "alertmanager"],
    ]
    assert recorder.fed == [["01A", "01A/chunks", "01A/chunks/000001", "01B", "01B/meta.json"], ["nflog", "silences"]]


def test_compose_grafana_database_is_copied_with_grafana_stopped_and_checked(tmp_path):
    import sqlite3

    db = tmp_path / "source.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table dashboard (id integer)")
    conn.close()
    recorder = Recorder({"grafana.db": db.read_bytes()})
    info = compose_target(recorder).fetch_grafana(tmp_path / "grafana")
    assert info["integrity"] == "integrity_check ok"
    assert [t[:2] for t in recorder.tails()] == [["stop", "grafana"], ["run", "--rm"], ["start", "grafana"]]
    assert recorder.commands[1][-4:] == ["/var/lib/grafana", "-cf", "-", "grafana.db"]


def test_compose_without_the_logging_profiles_skips_elasticsearch(tmp_path):
    with pytest.raises(Skipped, match="COMPOSE_PROFILES"):
        compose_target(Recorder()).fetch_elasticsearch(tmp_path / "es", "snap")
