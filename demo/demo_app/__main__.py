"""Command line: demo-app [--listen HOST:PORT] [--redis-url URL] [--postgres-dsn DSN] [--otlp-endpoint URL]."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.exposition import ThreadingWSGIServer

from . import __version__
from .faults import Faults, FaultSettings
from .jobs import MemoryQueue, RedisQueue, ResultStore, Worker
from .loadgen import LoadGenerator
from .telemetry import SERVICE_NAME, Metrics, setup_logging, setup_tracing
from .web import DemoApp

LOG = logging.getLogger("demo_app")


class QuietHandler(WSGIRequestHandler):
    # A client that sends half a request is dropped after this long instead of holding a thread.
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """The app writes its own ECS JSON access log."""


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_secret(name: str) -> str | None:
    """NAME's value, or the content of the file NAME_FILE names (a Compose secret or config): a
    secret read from a file shows in neither `docker inspect` nor any process's command line."""
    path = os.environ.get(f"{name}_FILE")
    if not path:
        return os.environ.get(name)
    try:
        with open(path, encoding="utf-8") as secret:
            return secret.read().strip()
    except OSError as error:
        raise SystemExit(f"demo-app: {name}_FILE={path}: {error.strerror}; mount the secret there or unset {name}_FILE")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo-app", description=__doc__)
    parser.add_argument("--listen", default=os.environ.get("DEMO_LISTEN", "0.0.0.0:8000"), help="env DEMO_LISTEN")
    parser.add_argument("--redis-url", default=env_secret("DEMO_REDIS_URL"),
                        help="job queue; env DEMO_REDIS_URL or DEMO_REDIS_URL_FILE (default: in memory)")
    parser.add_argument("--postgres-dsn", default=env_secret("DEMO_POSTGRES_DSN"),
                        help="job results; env DEMO_POSTGRES_DSN or DEMO_POSTGRES_DSN_FILE")
    parser.add_argument("--otlp-endpoint", default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
                        help="OTLP/HTTP base URL, e.g. http://jaeger:4318; env OTEL_EXPORTER_OTLP_ENDPOINT")
    parser.add_argument("--load-rps", type=float, default=env_float("DEMO_LOAD_RPS", 5.0),
                        help="built-in load, requests per second (0 = off); env DEMO_LOAD_RPS")
    parser.add_argument("--error-ratio", type=float, default=env_float("DEMO_ERROR_RATIO", 0.0), help="env DEMO_ERROR_RATIO")
    parser.add_argument("--extra-latency", type=float, default=env_float("DEMO_EXTRA_LATENCY_SECONDS", 0.0),
                        help="seconds added to each request; env DEMO_EXTRA_LATENCY_SECONDS")
    parser.add_argument("--log-level", default=os.environ.get("DEMO_LOG_LEVEL", "INFO"))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, SERVICE_NAME)
    host, _, port = args.listen.rpartition(":")
    faults = Faults(FaultSettings(error_ratio=args.error_ratio, extra_latency_seconds=args.extra_latency))
    metrics = Metrics()
    tracer = setup_tracing(SERVICE_NAME, args.otlp_endpoint)
    jobs = RedisQueue(args.redis_url) if args.redis_url else MemoryQueue()
    store = ResultStore(args.postgres_dsn) if args.postgres_dsn else None
    stop = threading.Event()
    server = make_server(host or "0.0.0.0", int(port), DemoApp(metrics, faults, jobs, tracer), ThreadingWSGIServer,
                         handler_class=QuietHandler)
    bound_port = server.server_address[1]
    Worker(jobs, store, metrics, faults, tracer, stop).start()
    if args.load_rps > 0:
        LoadGenerator(f"http://127.0.0.1:{bound_port}", args.load_rps, stop).start()
    LOG.info("demo-app %s serving on %s:%d (queue: %s, results: %s, traces: %s)", __version__, host, bound_port,
             "redis" if args.redis_url else "memory", "postgres" if store else "none", args.otlp_endpoint or "not exported")

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        LOG.info("signal %d: shutting down", signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
