"""Command line: gpu-exporter [--listen HOST:PORT] [--log-level LEVEL]."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

import pynvml
from prometheus_client import CollectorRegistry

from . import __version__
from .nvml_collector import NvmlCollector
from .server import serve
from .simulated import SimulatedNvml

LOG = logging.getLogger("gpu_exporter")


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r} (e.g. 0.0.0.0:9835)")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpu-exporter", description=__doc__)
    parser.add_argument(
        "--listen", type=parse_listen, default=os.environ.get("GPU_EXPORTER_LISTEN", "0.0.0.0:9835"),
        help="address to serve /metrics and /healthz on (env GPU_EXPORTER_LISTEN; default %(default)s)",
    )
    parser.add_argument(
        "--log-level", default=os.environ.get("GPU_EXPORTER_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="env GPU_EXPORTER_LOG_LEVEL",
    )
    parser.add_argument(
        "--simulate", type=int, default=int(os.environ.get("GPU_EXPORTER_SIMULATE", "0")), metavar="N",
        help="serve N simulated GPUs instead of NVML, for demos without GPUs (env GPU_EXPORTER_SIMULATE; default off)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    listen = args.listen if isinstance(args.listen, tuple) else parse_listen(args.listen)
    registry = CollectorRegistry(auto_describe=False)
    if args.simulate > 0:
        LOG.warning("SIMULATED GPUs: serving %d fake devices, not NVML", args.simulate)
        collector = NvmlCollector(SimulatedNvml(args.simulate), backend="simulated")
    else:
        collector = NvmlCollector(pynvml)
    registry.register(collector)
    server = serve(registry, *listen)
    LOG.info("gpu-exporter %s serving on %s:%d", __version__, *listen)

    def stop(signum: int, _frame: FrameType | None) -> None:
        LOG.info("signal %d: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        collector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
