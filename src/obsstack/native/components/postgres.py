"""PostgreSQL (Debian's build from the toolchain), a fresh cluster in STATE/postgres. Under root it
runs as `nobody`: PostgreSQL refuses to run as root."""
from __future__ import annotations

import os
import pwd
import subprocess

from ..process import Component, NativeStackError
from ..registry import Context, component

UNPRIVILEGED_USER = "nobody"


def dsn(ctx: Context) -> str:
    return f"postgresql://postgres:{ctx.passwords['postgres']}@127.0.0.1:{ctx.ports['postgres']}/postgres?sslmode=disable"


def as_root() -> bool:
    return os.geteuid() == 0


def init_cluster(ctx: Context) -> None:
    data = ctx.state / "postgres"
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    pwfile = ctx.state / "postgres.pw"
    pwfile.write_text(ctx.passwords["postgres"] + "\n")
    user = UNPRIVILEGED_USER if as_root() else None
    if as_root():
        for path in (data, pwfile):
            os.chown(path, pwd.getpwnam(UNPRIVILEGED_USER).pw_uid, -1)
        for parent in [ctx.state, *ctx.state.parents]:
            if not os.stat(parent).st_mode & 0o001:
                raise NativeStackError(
                    f"{parent} is not searchable by {UNPRIVILEGED_USER}, which PostgreSQL must run as under root: "
                    "use a --state-dir (and checkout) under a world-searchable folder such as /tmp")
        probe = subprocess.run([ctx.tool("postgres"), "--version"], capture_output=True, text=True,
                               user=UNPRIVILEGED_USER, check=False)
        if probe.returncode != 0:
            raise NativeStackError(
                f"{UNPRIVILEGED_USER} cannot run {ctx.tool('postgres')} ({probe.stderr.strip()[:200]}): "
                "under root, PostgreSQL runs as nobody, so the checkout must be in a world-searchable folder")
    proc = subprocess.run([ctx.tool("initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                           f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C"],
                          capture_output=True, text=True, user=user, check=False)
    pwfile.unlink()
    if proc.returncode != 0:
        raise NativeStackError(f"initdb failed: {proc.stderr.strip() or proc.stdout.strip()}")


@component("postgres", login=True, prepare=init_cluster)
def build(ctx: Context) -> Component:
    port = ctx.ports["postgres"]
    return Component("postgres", [ctx.tool("postgres"), "-D", str(ctx.state / "postgres"), "-h", "127.0.0.1", "-p", str(port),
                                  "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "shared_buffers=32MB"],
                     f"postgresql://127.0.0.1:{port}/postgres", {"tcp": port},
                     auth=("postgres", ctx.passwords["postgres"]), user=UNPRIVILEGED_USER if as_root() else None,
                     stop_signal="SIGINT")
