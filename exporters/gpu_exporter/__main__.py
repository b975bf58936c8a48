"""Prometheus exporter for NVIDIA GPUs (NVML) and the processes using them.

Every flag also reads an environment variable (GPU_EXPORTER_<FLAG>)."""
from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import signal
import sys
import threading
from types import FrameType

import pynvml
from prometheus_client import CollectorRegistry

from . import __version__
from .exporter import Config, Exporter
from .server import serve
from .simulated import SimulatedNvml

LOG = logging.getLogger("gpu_exporter")


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r} (e.g. 0.0.0.0:9835)")
    return host.strip("[]") or "0.0.0.0", int(port)


def parse_mig_profiles(value: str) -> list[str]:
    profiles = [p.strip() for p in value.split(",") if p.strip()]
    for profile in profiles:
        if not re.fullmatch(r"[1-7]g\.\d+gb", profile):
            raise argparse.ArgumentTypeError(f"MIG profile {profile!r} is not like 3g.40gb (slices g . memory gb)")
    return profiles


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GPU_EXPORTER_{name}", default)


def _flag(name: str, default: bool) -> bool:
    value = _env(name, "")
    return default if not value else value.lower() in ("1", "true", "yes", "on")


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
    parser.add_argument(
        "--simulate-mig", type=parse_mig_profiles, default=os.environ.get("GPU_EXPORTER_SIMULATE_MIG", ""),
        metavar="PROFILES",
        help="with --simulate: put the last simulated GPU in MIG mode with these GPU instances, e.g. "
             "3g.40gb,1g.10gb (env GPU_EXPORTER_SIMULATE_MIG)",
    )
    parser.add_argument(
        "--interval", type=float, default=float(_env("INTERVAL", "0")), metavar="SECONDS",
        help="collect every SECONDS in the background; 0 collects on scrape (env GPU_EXPORTER_INTERVAL; default %(default)s)",
    )
    parser.add_argument(
        "--deadline", type=float, default=float(_env("DEADLINE", "5")), metavar="SECONDS",
        help="answer a scrape with gpu_exporter_up 0 (reason Timeout) when NVML takes longer (env GPU_EXPORTER_DEADLINE; default %(default)s)",
    )
    parser.add_argument(
        "--processes", action=argparse.BooleanOptionalAction, default=_flag("PROCESSES", True),
        help="per-process GPU memory and utilisation (env GPU_EXPORTER_PROCESSES; default on)",
    )
    parser.add_argument(
        "--max-processes", type=int, default=int(_env("MAX_PROCESSES", "100")), metavar="N",
        help="at most N process series per scrape, the largest by memory (env GPU_EXPORTER_MAX_PROCESSES; default %(default)s)",
    )
    parser.add_argument(
        "--pcie-throughput", action=argparse.BooleanOptionalAction, default=_flag("PCIE_THROUGHPUT", False),
        help="PCIe tx/rx throughput; NVML blocks ~20 ms per direction and GPU (env GPU_EXPORTER_PCIE_THROUGHPUT; default off)",
    )
    parser.add_argument(
        "--xid", action=argparse.BooleanOptionalAction, default=_flag("XID", False),
        help="count Xid errors from an NVML event thread (env GPU_EXPORTER_XID; default off)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    listen = args.listen if isinstance(args.listen, tuple) else parse_listen(args.listen)
    registry = CollectorRegistry(auto_describe=False)
    config = Config(interval=args.interval, deadline=args.deadline, processes=args.processes,
                    max_processes=args.max_processes, pcie_throughput=args.pcie_throughput, xid=args.xid)
    if args.simulate > 0:
        LOG.warning("SIMULATED GPUs: serving %d fake devices, not NVML", args.simulate)
        sim = SimulatedNvml(args.simulate, mig={args.simulate - 1: args.simulate_mig} if args.simulate_mig else None)
        exporter = Exporter(sim, backend="simulated", config=config, resolve=sim.process_info)
    else:
        exporter = Exporter(pynvml, config=config)
    exporter.register(registry)
    exporter.start()
    server = serve(registry, *listen)
    # Startup objects (pynvml, prometheus_client, argparse) are long-lived: moving them out of the
    # collector's reach makes each garbage collection during a scrape shorter (lower p99).
    gc.freeze()
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
        exporter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
