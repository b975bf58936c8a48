"""PostgreSQL (Debian's build from the toolchain), a fresh cluster in STATE/postgres. Under root it
runs as `nobody`: PostgreSQL refuses to run as root.

As `nobody` it keeps one capability, CAP_DAC_READ_SEARCH (ambient, through util-linux's setpriv): a
checkout under a private folder (0700, as /root is) must stay readable to it, and the capability
reads and traverses without granting any write. Its data directory is its own (chowned to it)."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess

from ..process import Component, NativeStackError
from ..registry import Context, component
from ...envfile import write_private

UNPRIVILEGED_USER = "nobody"


def dsn(ctx: Context) -> str:
    return f"postgresql://postgres:{ctx.passwords['postgres']}@127.0.0.1:{ctx.ports['postgres']}/postgres?sslmode=disable"


def as_root() -> bool:
    return os.geteuid() == 0


def unprivileged(argv: list[str]) -> list[str]:
    """ARGV run as `nobody` that may still read the toolchain wherever the checkout is; ARGV unchanged
    when not root."""
    if not as_root():
        return argv
    if shutil.which("setpriv") is None:
        raise NativeStackError("under root, PostgreSQL runs as nobody through util-linux's setpriv, which is missing: "
                               "install util-linux (Debian: apt-get install util-linux)")
    account = pwd.getpwnam(UNPRIVILEGED_USER)
    return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--", *argv]


def init_cluster(ctx: Context) -> None:
    data = ctx.state / "postgres"
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    pwfile = ctx.state / "postgres.pw"
    write_private(pwfile, ctx.passwords["postgres"] + "\n")
    if as_root():
        for path in (data, pwfile):
            os.chown(path, pwd.getpwnam(UNPRIVILEGED_USER).pw_uid, -1)
    proc = subprocess.run(unprivileged([ctx.tool("initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                                        f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C"]),
                          capture_output=True, text=True, check=False)
    pwfile.unlink()
    if proc.returncode != 0:
        raise NativeStackError(f"initdb failed: {proc.stderr.strip() or proc.stdout.strip()}")


@component("postgres", login=True, prepare=init_cluster)
def build(ctx: Context) -> Component:
    port = ctx.ports["postgres"]
    return Component("postgres", unprivileged([ctx.tool("postgres"), "-D", str(ctx.state / "postgres"), "-h", "127.0.0.1",
                                               "-p", str(port), "-c", "unix_socket_directories=", "-c", "fsync=off",
                                               "-c", "shared_buffers=32MB"]),
                     f"postgresql://127.0.0.1:{port}/postgres", {"tcp": port},
                     auth=("postgres", ctx.passwords["postgres"]),
                     stop_signal="SIGINT")
