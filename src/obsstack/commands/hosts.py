"""Watch other hosts: add one with one command, list whether each one's data arrives, remove one.

Each host runs the agent bundle (agent/): its exporters, Prometheus in agent mode that pushes
metrics to the central Prometheus, and Filebeat that ships its containers' logs to the central
Logstash over TLS with a client certificate. The centre needs the `tls` profile (HTTPS for the
writes) and the `logging` profile (Logstash's hosts' intake, LOGSTASH_HOSTS_PORT).

  add NAME ADDRESS   make the host's credential and certificate, write the centre's side, build
                     hosts/NAME.tar.gz and print the one command that starts the agent on the host
  list               every host, where it writes, and the age of its newest sample at the centre
  remove NAME        revoke the host (Prometheus refuses its next write, Logstash its next TLS
                     handshake) and delete its bundle
  render-agent       write agent/ from docker-compose.yml and filebeat/filebeat.yml (--check: only check)

examples:
  obsstack hosts add gpu-node-1 10.0.4.21 --central-ca ./caddy-root.crt
  obsstack hosts add edge-2 edge-2.example.org --central-url https://obs.example.org:9443
  obsstack hosts list
  obsstack hosts remove gpu-node-1
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from .. import agent_bundle, envfile, hosts, rendered
from .common import add_project_arguments, resolve

HELP = "add, list and remove the other hosts the stack watches (agent bundles)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("hosts", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_project_arguments(parser)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a host: credential, certificate, bundle, and the command to run there")
    add.add_argument("name", help="the host's name: its `host` label and `host.name` field (a-z, 0-9, -)")
    add.add_argument("address", help="where you reach the host (for the printed ssh command)")
    add.add_argument("--central-url", action="append", dest="central_urls", metavar="URL",
                     help="where the agent writes (repeat for each Prometheus replica); default "
                          "https://TLS_HOSTNAME:PROMETHEUS_TLS_PORT from .env")
    add.add_argument("--central-ca", type=Path, metavar="PEM",
                     help="the CA that signed the centre's HTTPS certificate (TLS_MODE=internal: Caddy's root, "
                          "`docker compose cp tls-proxy:/data/caddy/pki/authorities/local/root.crt .`); "
                          "leave out when it is publicly trusted")
    add.set_defaults(run=run_add)
    listing = actions.add_parser("list", help="each host and whether its data arrives")
    listing.add_argument("--prometheus-url", help="the central Prometheus (default http://127.0.0.1:PROMETHEUS_PORT)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)
    remove = actions.add_parser("remove", help="revoke a host's credentials and delete its bundle")
    remove.add_argument("name")
    remove.set_defaults(run=run_remove)
    render = actions.add_parser("render-agent", help="write agent/ from the stack's own files")
    render.add_argument("--check", action="store_true", help="write nothing; fail if agent/ is not current")
    render.set_defaults(run=run_render)


def _env(env_path: Path) -> dict[str, str]:
    if not env_path.exists():
        raise hosts.HostsError(f"{env_path} does not exist: run `obsstack setup` first")
    return envfile.read_env(env_path)


def run_add(args: argparse.Namespace) -> int:
    project, env_path = resolve(args)
    try:
        env = _env(env_path)
        central_ca = args.central_ca.read_text() if args.central_ca else ""
        if args.central_ca and "BEGIN CERTIFICATE" not in central_ca:
            raise hosts.HostsError(f"{args.central_ca}: not a PEM certificate")
        if not central_ca and (env.get("TLS_MODE") or "internal") == "internal" and not args.central_urls:
            raise hosts.HostsError("TLS_MODE=internal: the agents must trust Caddy's local root; pass --central-ca with it "
                                   "(`docker compose cp tls-proxy:/data/caddy/pki/authorities/local/root.crt ./caddy-root.crt`)")
        added = hosts.add(project, env, args.name, args.address, args.central_urls, central_ca)
    except (hosts.HostsError, OSError) as error:
        print(f"hosts add: {error}", file=sys.stderr)
        return 2
    print(f"Added {added.name}: its bundle is {added.archive} (private: it holds the host's credentials).")
    print("The centre accepts its metrics and logs now; for its traces: docker compose kill -s SIGUSR1 tls-proxy")
    print("Start the agent on the host (Docker and the compose plugin needed there):\n")
    print(f"  {added.command}\n")
    print("Then `obsstack hosts list` shows when its data arrives.")
    return 0


def _latest_samples(url: str, login: str) -> dict[str, float]:
    """host -> timestamp of its newest `up` sample at the centre (within Prometheus' 5 min lookback)."""
    query = urllib.parse.urlencode({"query": 'max by (host) (timestamp(up{host!=""}))'})
    request = urllib.request.Request(f"{url.rstrip('/')}/api/v1/query?{query}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"prometheus:{login}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.load(response)["data"]["result"]
    return {item["metric"].get("host", ""): float(item["value"][1]) for item in result}


def run_list(args: argparse.Namespace) -> int:
    project, env_path = resolve(args)
    try:
        env = _env(env_path)
        registry = hosts.read_registry(project)
    except (hosts.HostsError, OSError) as error:
        print(f"hosts list: {error}", file=sys.stderr)
        return 2
    url = args.prometheus_url or f"http://127.0.0.1:{env.get('PROMETHEUS_PORT') or '9090'}"
    latest: dict[str, float] | None
    try:
        latest = _latest_samples(url, env.get("PROMETHEUS_WEB_PASSWORD", ""))
        problem = ""
    except (OSError, ValueError, KeyError) as error:
        latest, problem = None, f"the central Prometheus at {url} did not answer ({error})"
    now = time.time()
    rows = []
    for name, details in sorted(registry.items()):
        stamp = latest.get(name) if latest is not None else None
        age = None if stamp is None else max(0.0, now - stamp)
        state = "unknown" if latest is None else ("no data in 5 min" if age is None else "arriving" if age < 120 else "late")
        rows.append({"host": name, "address": details.get("address"), "added": details.get("added"),
                     "writes_to": details.get("writes_to"), "state": state, "last_sample_age_s": None if age is None else round(age, 1)})
    if args.json:
        print(json.dumps({"hosts": rows, "error": problem or None}, indent=2))
    else:
        if not rows:
            print("No hosts added yet: `obsstack hosts add NAME ADDRESS`.")
        for row in rows:
            age = "" if row["last_sample_age_s"] is None else f" (newest sample {row['last_sample_age_s']:.0f} s ago)"
            print(f"  {row['host']:<24} {row['address']:<28} {row['state']}{age}")
        if problem:
            print(problem, file=sys.stderr)
    # Unreachable centre or a silent host: a non-zero status for scripts.
    return 1 if problem or any(row["state"] != "arriving" for row in rows) else 0


def run_remove(args: argparse.Namespace) -> int:
    project, env_path = resolve(args)
    try:
        hosts.remove(project, _env(env_path), args.name)
    except (hosts.HostsError, OSError) as error:
        print(f"hosts remove: {error}", file=sys.stderr)
        return 2
    print(f"Removed {args.name}: the central Prometheus refuses its writes from now on, Logstash its next connection.")
    print("For its traces to be refused too: docker compose kill -s SIGUSR1 tls-proxy")
    return 0


def run_render(args: argparse.Namespace) -> int:
    project, _ = resolve(args)
    return rendered.write_or_check(agent_bundle.rendered_files(project), project, args.check, "obsstack hosts render-agent")
