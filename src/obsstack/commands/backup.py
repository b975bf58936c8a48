"""Back up the stack's state into one timestamped folder, with a manifest of every file's sha256.

Saves Prometheus' TSDB (Prometheus is stopped for the copy, a second or so, so it is consistent; the
admin API stays off), Alertmanager's silences and notification log (Alertmanager is
stopped for about a second so its files are current; the silences also as readable JSON), Grafana's
database and an Elasticsearch snapshot (compose only; natively they are skipped, saying so). The
folder DEST/obsstack-backup-<UTC time>/ appears only once every part is saved. Keep it private: it
holds Grafana's users and datasource settings.

Without --native-state it backs up the compose stack of PROJECT_DIR with its .env.

examples:
  obsstack backup --dest /var/backups/obsstack
  obsstack backup --native-state /tmp/obs --dest /tmp/obs-backups --json
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .. import backup
from ..report import Result, Status, print_results
from .common import add_project_arguments, resolve

HELP = "save Prometheus, Alertmanager, Grafana and Elasticsearch data into one timestamped folder"
RESTORE_HELP = "check a backup's checksums, then put its Prometheus and Alertmanager data back"
RESTORE_DOC = """Restore a folder written by `obsstack backup` into the running stack.

Every file is first checked against manifest.json (size and sha256); if one is missing, changed or
unexpected, restore names it and writes nothing. Then it replaces Prometheus' TSDB with the saved one
(its WAL replayed at start) and Alertmanager's silences and notification log (each stopped, its data put in place, started
again), and in compose Grafana's database. The data written since the backup is replaced. The
Elasticsearch snapshot is not restored automatically: the command to run is printed.

Without --native-state it restores into the compose stack of PROJECT_DIR with its .env.

examples:
  obsstack restore /var/backups/obsstack/obsstack-backup-20261204T070000Z
  obsstack restore /tmp/obs-backups/obsstack-backup-20261204T070000Z --native-state /tmp/obs
"""
STATUS = {"saved": Status.PASS, "restored": Status.PASS, "skipped": Status.SKIP, "manual": Status.WARN}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("backup", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, default=None, help="where the backup folder is made (default: PROJECT_DIR/backups)")
    add_common(parser)
    parser.set_defaults(run=run_backup)

    restore = subparsers.add_parser("restore", help=RESTORE_HELP, description=RESTORE_DOC,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    restore.add_argument("backup_dir", type=Path, metavar="BACKUP_DIR", help="a folder written by `obsstack backup`")
    add_common(restore)
    restore.set_defaults(run=run_restore)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--native-state", type=Path, default=None, metavar="DIR",
                        help="the native stack's state folder (`obsstack native up --state-dir DIR`); default: the compose stack")
    add_project_arguments(parser)
    parser.add_argument("--timeout", type=float, default=120, help="seconds a restarted service may take to be ready")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")


def target(args: argparse.Namespace) -> backup.Target:
    if args.native_state:
        return backup.NativeTarget(args.native_state, timeout=args.timeout)
    project, env_file = resolve(args)
    if not env_file.exists():
        raise backup.BackupError(f"{env_file} not found: run `make up` first, or pass --native-state")
    return backup.ComposeTarget.from_project(project, env_file)


def results(parts: list[backup.Part]) -> list[Result]:
    return [Result(p.name, STATUS[p.status], f"{p.detail} ({p.seconds:.2f}s)", seconds=p.seconds) for p in parts]


def run_backup(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="backup: %(message)s")
    try:
        folder, manifest = backup.backup(target(args), (args.dest or resolve(args)[0] / "backups").resolve())
    except backup.BackupError as exc:
        print(f"backup: FAILED, nothing was kept: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"ok": True, "folder": str(folder), **{k: v for k, v in manifest.items() if k != "files"}}, indent=2))
        return 0
    parts = [backup.Part(name, p["status"], p["detail"], p["seconds"]) for name, p in manifest["parts"].items()]
    return print_results(results(parts), False, "backup",
                         f"{folder} ({len(manifest['files'])} files, {manifest['total_bytes'] / 1e6:.1f} MB, "
                         f"{manifest['duration_s']:.1f}s)")


def run_restore(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="restore: %(message)s")
    try:
        manifest = backup.verify(args.backup_dir)  # first: a bad backup never touches the stack
        parts = backup.restore(target(args), args.backup_dir, manifest)
    except backup.BackupError as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 1
    return print_results(results(parts), args.json, "restore", f"{args.backup_dir} restored")
