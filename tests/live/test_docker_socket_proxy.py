"""docker-socket-proxy/Caddyfile on the real Caddy (the image's version, from the toolchain), in front
of a stand-in Docker socket: the calls cAdvisor and Filebeat make pass, everything else is refused
before it reaches the socket."""
from __future__ import annotations

import os
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from conftest import ROOT
from obsstack.net import free_port, reply_json

pytestmark = pytest.mark.toolchain
CADDYFILE = ROOT / "docker-socket-proxy/Caddyfile"


class DockerStandIn(BaseHTTPRequestHandler):
    """Records what reaches the socket; answers like the Engine API does for a read."""

    seen: list[tuple[str, str]] = []

    def log_message(self, *_args) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def _handle(self) -> None:
        self.seen.append((self.command, self.path))
        if self.command == "HEAD":
            self.send_response(200)
            self.send_header("Api-Version", "1.51")
            self.end_headers()
            return
        reply_json(self, 200, {"ApiVersion": "1.51", "Id": "abc"})

    do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = _handle


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def proxy(tool, tmp_path_factory) -> Iterator[str]:
    caddy = tool("caddy")
    work = tmp_path_factory.mktemp("socket-proxy")
    socket_path = work / "docker.sock"
    server = UnixHTTPServer(str(socket_path), DockerStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    env = {**os.environ, "DOCKER_PROXY_PORT": str(port), "DOCKER_SOCKET": f"unix/{socket_path}",
           "HOME": str(work), "XDG_DATA_HOME": str(work / "data"), "XDG_CONFIG_HOME": str(work / "config")}
    log = (work / "caddy.log").open("w")
    proc = subprocess.Popen([str(caddy), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"{url}/_ping", timeout=1)
            break
        except requests.ConnectionError:
            assert proc.poll() is None, (work / "caddy.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Caddy did not listen within 20 s"
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    server.shutdown()


@pytest.mark.parametrize("method, path", [
    ("HEAD", "/_ping"), ("GET", "/_ping"), ("GET", "/v1.51/info"), ("GET", "/v1.51/version"),
    ("GET", "/v1.51/containers/4f1c2e9a77b0/json"), ("GET", '/v1.51/containers/json?filters={"id":["4f1c"]}'),
    ("GET", '/v1.51/events?filters={"type":["container"]}'),
])
def test_the_calls_cadvisor_and_filebeat_make_pass(proxy, method, path):
    DockerStandIn.seen.clear()
    response = requests.request(method, proxy + path, timeout=5)
    assert response.status_code == 200, response.text
    assert [(m, p.split("?")[0]) for m, p in DockerStandIn.seen] == [(method, path.split("?")[0])], "forwarded once, unchanged"


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1.51/containers/create"), ("POST", "/v1.51/containers/4f1c/exec"), ("POST", "/v1.51/exec/1/start"),
    ("DELETE", "/v1.51/containers/4f1c"), ("POST", "/v1.51/containers/4f1c/kill"), ("PUT", "/v1.51/containers/4f1c/archive"),
    ("GET", "/v1.51/containers/4f1c/archive?path=/etc"), ("GET", "/v1.51/containers/4f1c/export"),
    ("GET", "/v1.51/containers/4f1c/logs"), ("GET", "/v1.51/images/json"), ("GET", "/v1.51/secrets"),
    ("GET", "/v1.51/volumes"), ("GET", "/v1.51/swarm"), ("POST", "/v1.51/info"), ("DELETE", "/_ping"),
    ("GET", "/v1.51/containers/4f1c/json/../../../images/json"), ("GET", "/v1.51/containers/../images/json"),
    ("GET", "/v1.51/containers/4f1c%2Farchive/json"),
])
def test_everything_else_is_refused_before_the_socket(proxy, method, path):
    DockerStandIn.seen.clear()
    response = requests.request(method, proxy + path, timeout=5)
    assert response.status_code == 403, (response.status_code, response.text)
    assert DockerStandIn.seen == [], "a refused call must never reach the Docker socket"
