"""The several-host network the multi-host tests build (tests/netns.py), checked on its own: the centre
reaches each host, hosts do not reach each other, a cut link stops traffic both ways and a restored
one carries it again, and nothing is left behind."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from netns import Network, ip, require_namespaces, until
from obsstack.net import free_port

FETCH = """
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read().decode())
except OSError as error:
    print(f"unreachable: {error}"); sys.exit(1)
"""


def fetch(net: Network, node: str, url: str, timeout: float = 2) -> subprocess.CompletedProcess[str]:
    return net.run(node, [sys.executable, "-c", FETCH, url, str(timeout)], timeout=timeout + 10)


@pytest.fixture
def net(tmp_path):
    require_namespaces()
    with Network(hosts=2) as network:
        yield network
    assert not [n for n in network.names.values() if n in ip("netns", "list")], "namespaces left behind"


def test_the_centre_reaches_each_host_and_a_cut_link_stops_it(net, tmp_path):
    (tmp_path / "index.html").write_text("host1 here")
    port = free_port()
    server = net.popen("host1", [sys.executable, "-m", "http.server", str(port), "--bind", net.address("host1"),
                                 "--directory", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://{net.address('host1')}:{port}/"
    try:
        until(lambda: fetch(net, "central", url).returncode == 0, "the centre never reached host1's server")
        assert fetch(net, "central", url).stdout.strip() == "host1 here"
        # host2 has no route to host1: hosts reach the centre only.
        assert fetch(net, "host2", url, timeout=1).returncode == 1
        net.cut("host1")
        cut = fetch(net, "central", url, timeout=1)
        assert cut.returncode == 1 and "unreachable" in cut.stdout
        net.restore("host1")
        until(lambda: fetch(net, "central", url).returncode == 0, "traffic did not come back with the link")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_host_reaches_the_centre_at_its_own_link_address(net, tmp_path):
    (tmp_path / "index.html").write_text("centre here")
    port = free_port()
    centre = net.central_address_for("host2")
    server = net.popen("central", [sys.executable, "-m", "http.server", str(port), "--bind", "0.0.0.0",
                                   "--directory", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until(lambda: fetch(net, "host2", f"http://{centre}:{port}/").returncode == 0, "host2 never reached the centre")
        assert fetch(net, "host1", f"http://{net.central_address_for('host1')}:{port}/").stdout.strip() == "centre here"
    finally:
        server.terminate()
        server.wait(timeout=10)
