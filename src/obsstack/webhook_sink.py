"""A webhook receiver that records every Alertmanager notification it gets.

POST /<anything>: the JSON body is appended, with the path and arrival time, to --out (JSON lines).
GET /notifications: everything received so far, as a JSON list. GET /healthz: ok.
The native stack points every Alertmanager receiver here; tests and the smoke test read it back.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .net import reply_json

LOG = logging.getLogger("webhook_sink")


class Sink:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.received: list[dict] = []

    def record(self, path: str, body: object) -> None:
        entry = {"received_at": time.time(), "path": path, "body": body}
        with self.lock:
            self.received.append(entry)
            with self.out.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")


# Alertmanager's largest payloads (many alerts in one group) stay far below this.
MAX_BODY_BYTES = 16 * 1024 * 1024


def make_handler(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # A client that sends half a request is dropped after this long instead of holding a thread.
        timeout = 30
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            LOG.debug(format, *args)

        def reply(self, status: int, payload: object) -> None:
            reply_json(self, status, payload)

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/healthz":
                self.reply(200, {"status": "ok"})
            elif self.path == "/notifications":
                with sink.lock:
                    self.reply(200, list(sink.received))
            else:
                self.reply(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            declared = self.headers.get("Content-Length") or "0"
            if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
                self.reply(400, {"error": f"Content-Length must be 0..{MAX_BODY_BYTES}, got {declared[:20]!r}"})
                return
            raw = self.rfile.read(int(declared))
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.reply(400, {"error": "body is not JSON"})
                return
            alerts = body.get("alerts", []) if isinstance(body, dict) else None
            if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
                self.reply(400, {"error": "not an Alertmanager webhook payload: `alerts` must be a list of objects"})
                return
            sink.record(self.path, body)
            self.reply(200, {"status": "recorded"})
            LOG.info("%s: %s %s", self.path, body.get("status"),
                     ", ".join(sorted({str((a.get("labels") or {}).get("alertname", "?")) for a in alerts})))

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (default: a free loopback port)")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to append notifications to")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(Sink(args.out)))
    LOG.info("recording notifications on %s:%d to %s", host, server.server_address[1], args.out)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
