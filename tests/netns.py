"""A small network of Linux network namespaces for tests that need several hosts (issue 14): one
central namespace and N host namespaces, each host joined to the centre by its own veth pair on a
/30 of its own. Hosts reach the centre and the centre reaches each host; hosts do not reach each
other. A host's link can be cut and restored, as a network outage would. Needs root (`ip netns`).

    with Network(hosts=2) as net:
        net.popen("host1", [...])           # a process inside host1's namespace
        net.address("host1")                 # 10.x.1.2: where the centre reaches host1
        net.central_address_for("host1")     # 10.x.1.1: where host1 reaches the centre
        net.cut("host1"); net.restore("host1")
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import IN_CI


class NetworkError(RuntimeError):
    """An `ip` command failed; the message has the command and its error."""


def require_namespaces() -> None:
    """Root and iproute2, or the test cannot run: it fails under CI=true and skips elsewhere."""
    problem = None
    if os.geteuid() != 0:
        problem = "network namespaces need root"
    elif not shutil.which("ip"):
        problem = "iproute2's `ip` is not installed"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true)")
        pytest.skip(problem)


def until(check: Callable[[], object], what: str, deadline_s: float = 60, every_s: float = 0.2) -> object:
    """check()'s first truthy result, or the test fails saying WHAT after DEADLINE_S."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, what
        time.sleep(every_s)


def ip(*args: str) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Network:
    hosts: int = 2
    # Second octet of the 10.x.0.0/16 the links use; tests running at once pick different ones.
    subnet: int = field(default_factory=lambda: 100 + os.getpid() % 100)
    tag: str = field(default_factory=lambda: f"o{os.getpid() % 100000}")

    def __post_init__(self) -> None:
        self.names = {"central": f"{self.tag}-central", **{f"host{i}": f"{self.tag}-host{i}" for i in range(1, self.hosts + 1)}}

    def namespace(self, node: str) -> str:
        return self.names[node]

    def address(self, host: str) -> str:
        """HOST's address (the centre reaches it there)."""
        return f"10.{self.subnet}.{int(host.removeprefix('host'))}.2"

    def central_address_for(self, host: str) -> str:
        """The centre's address as HOST reaches it (the centre's end of HOST's link)."""
        return f"10.{self.subnet}.{int(host.removeprefix('host'))}.1"

    def link(self, host: str) -> str:
        """The centre's end of HOST's link (interface names are at most 15 characters)."""
        return f"{self.tag}c{host.removeprefix('host')}"

    def __enter__(self) -> Network:
        try:
            for name in self.names.values():
                ip("netns", "add", name)
                ip("-n", name, "link", "set", "lo", "up")
            central = self.names["central"]
            for i in range(1, self.hosts + 1):
                host = f"host{i}"
                inner = f"{self.tag}h{i}"
                ip("link", "add", self.link(host), "netns", central, "type", "veth", "peer", "name", inner,
                   "netns", self.names[host])
                ip("-n", central, "addr", "add", f"{self.central_address_for(host)}/30", "dev", self.link(host))
                ip("-n", self.names[host], "addr", "add", f"{self.address(host)}/30", "dev", inner)
                ip("-n", central, "link", "set", self.link(host), "up")
                ip("-n", self.names[host], "link", "set", inner, "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: Any) -> None:
        for name in self.names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)

    def command(self, node: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.names[node], *argv]

    def run(self, node: str, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(node, argv), capture_output=True, text=True, check=False, **kwargs)

    def popen(self, node: str, argv: list[str], **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(self.command(node, argv), **kwargs)

    def cut(self, host: str) -> None:
        """HOST's link goes down at the centre's end: nothing passes either way."""
        ip("-n", self.names["central"], "link", "set", self.link(host), "down")

    def restore(self, host: str) -> None:
        ip("-n", self.names["central"], "link", "set", self.link(host), "up")
