"""HTTP serving: /metrics from a registry, /healthz independent of NVML."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer

from .exposition import metrics_app

StartResponse = Callable[..., object]


class _QuietHandler(WSGIRequestHandler):
    # A client that sends half a request is dropped after this long instead of holding a thread.
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Scrapes every few seconds would flood the log."""


def make_app(registry: CollectorRegistry) -> Callable[[dict, StartResponse], Iterable[bytes]]:
    metrics = metrics_app(registry)

    def app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            # The process serves HTTP: healthy. GPU state is reported by gpu_exporter_up instead,
            # so a host without a driver does not restart the container in a loop.
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return metrics(environ, start_response)

    return app


def serve(registry: CollectorRegistry, host: str, port: int) -> ThreadingWSGIServer:
    """Bind now (so a port clash fails at start); the caller runs serve_forever()."""
    return make_server(host, port, make_app(registry), ThreadingWSGIServer, handler_class=_QuietHandler)
