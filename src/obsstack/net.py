"""Loopback helpers shared by the native stack, its tests and the benchmarks."""
from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reply_json(handler: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    """Answer a request with `payload` as JSON (the webhook sink, and the test fakes of JSON APIs)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
