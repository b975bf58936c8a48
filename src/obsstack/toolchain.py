"""Install the real Prometheus-family tools, PostgreSQL and Redis into an ignored local folder.

The live and static tests run the project's own configs on real binaries. Debian ships them as
packages; we fetch them with ``apt-get download`` through a private apt configuration (its own
sources list, lists and cache under ``.tools/apt``; the system's apt state is never touched) and
unpack them with ``dpkg -x``. One step writes outside the folder: Debian's alertmanager reads its
default notification templates from /usr/share/prometheus/alertmanager/, so they are copied there
(as root; otherwise the error gives the one sudo command). Re-running reuses what is installed.

Versions are pinned by upstream major.minor (Debian revisions come and go in unstable); the exact
versions installed are recorded in ``.tools/versions.json``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import paths

LOG = logging.getLogger("toolchain")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


@dataclass(frozen=True)
class Package:
    """A Debian package to unpack, and the binaries of it the tests call."""

    name: str
    suite: str
    # Upstream version prefix the project is pinned to ("" = any), for a package no image pins.
    minor: str = ""
    # tool name -> path inside the unpacked package
    binaries: tuple[tuple[str, str], ...] = ()
    # environment the wrappers set: variable -> paths inside the unpacked tree (joined with ':')
    env: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The compose image of the same program: its tag's major.minor is the pin (written once, there).
    image: str = ""


def pinned_minor(package: Package, project: Path) -> str:
    """The version prefix a package must have: its compose image's major.minor, or its own `minor`."""
    if not package.image:
        return package.minor
    services = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]
    tags = {service["image"].rpartition(":")[2] for service in services.values()
            if str(service.get("image", "")).rpartition(":")[0] == package.image}
    if len(tags) != 1:
        raise ToolchainError(f"docker-compose.yml has {len(tags)} tags of {package.image}; the pin of {package.name} needs one")
    return major_minor(tags.pop()) + "."


# The Prometheus family is pinned by the image tags in docker-compose.yml (pinned_minor).
PACKAGES: tuple[Package, ...] = (
    Package("prometheus", "unstable", binaries=(("prometheus", "usr/bin/prometheus"),), image="prom/prometheus"),
    Package("promtool", "unstable", binaries=(("promtool", "usr/bin/promtool"),), image="prom/prometheus"),
    Package("prometheus-alertmanager", "unstable", image="prom/alertmanager",
            binaries=(("alertmanager", "usr/bin/prometheus-alertmanager"), ("amtool", "usr/bin/amtool"))),
    Package("prometheus-node-exporter", "unstable", image="prom/node-exporter",
            binaries=(("node_exporter", "usr/bin/prometheus-node-exporter"),)),
    Package("prometheus-postgres-exporter", "unstable", image="prometheuscommunity/postgres-exporter",
            binaries=(("postgres_exporter", "usr/bin/prometheus-postgres-exporter"),)),
    Package("prometheus-redis-exporter", "unstable", image="oliver006/redis_exporter",
            binaries=(("redis_exporter", "usr/bin/prometheus-redis-exporter"),)),
    Package("prometheus-blackbox-exporter", "unstable", image="prom/blackbox-exporter",
            binaries=(("blackbox_exporter", "usr/bin/prometheus-blackbox-exporter"),)),
    Package("prometheus-pushgateway", "unstable", "1.11.", (("pushgateway", "usr/bin/prometheus-pushgateway"),)),
    # vmauth (the cluster overlay's router) and vmctl (docs/scaling.md's migrations) come in the same package.
    Package("victoria-metrics", "unstable", "", (("victoria-metrics", "usr/bin/victoria-metrics"), ("vmauth", "usr/bin/vmauth"),
                                                 ("vmctl", "usr/bin/vmctl"))),
    # The Docker socket proxy and the TLS reverse proxy (profile tls): the tests run their Caddyfiles.
    Package("caddy", "unstable", binaries=(("caddy", "usr/bin/caddy"),), image="caddy"),
    # Servers for the live tests: Debian 12's own builds, which link against this machine's libc.
    Package(
        "postgresql-15",
        "bookworm",
        "15.",
        (
            ("postgres", "usr/lib/postgresql/15/bin/postgres"),
            ("initdb", "usr/lib/postgresql/15/bin/initdb"),
            ("pg_ctl", "usr/lib/postgresql/15/bin/pg_ctl"),
        ),
    ),
    Package("postgresql-client-15", "bookworm", "15.", (("psql", "usr/lib/postgresql/15/bin/psql"),)),
    Package(
        "redis-server",
        "bookworm",
        "",
        (("redis-server", "usr/bin/redis-server"),),
    ),
    Package("redis-tools", "bookworm", "", (("redis-cli", "usr/bin/redis-cli"),)),
    # Libraries redis links against that a minimal Debian image may lack.
    Package("libjemalloc2", "bookworm", ""),
    Package("liblzf1", "bookworm", ""),
    # Ruby 3.1, the language level of the JRuby 9.4 inside Logstash 9: the contract tests run the
    # pipeline's own ruby filter script (logstash/scripts/ecs.rb) with it.
    Package(
        "ruby3.1",
        "bookworm",
        "3.1.",
        (("ruby", "usr/bin/ruby3.1"),),
        (("RUBYLIB", ("usr/lib/ruby/3.1.0", "usr/lib/x86_64-linux-gnu/ruby/3.1.0")),),
    ),
    Package("libruby3.1", "bookworm", "3.1."),
)

def debian_mirror(sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The Debian archive this machine's own apt configuration uses (DEBIAN_MIRROR overrides it)."""
    override = os.environ.get("DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    files: list[Path] = []
    for source in sources:
        files += sorted(source.glob("*.list")) + sorted(source.glob("*.sources")) if source.is_dir() else [source]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        # one-line format: deb [options] URI suite components; deb822: URIs: / Suites: / Components:
        uris = re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+.*\bmain\b", text, flags=re.M)
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^Types:.*\bdeb\b", stanza, flags=re.M) and re.search(r"^Components:.*\bmain\b", stanza, flags=re.M):
                uris += re.findall(r"^URIs:\s*(\S+)", stanza, flags=re.M)
        for uri in uris:
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise ToolchainError("no Debian archive in this machine's apt sources (/etc/apt/sources.list*): "
                         "set DEBIAN_MIRROR to one, e.g. DEBIAN_MIRROR=http://<your mirror>/debian")


VERSION_RE = re.compile(r"^(?:\d+:)?(?P<upstream>[^-+~]+)")


class ToolchainError(RuntimeError):
    """A step failed; the message says which and how to fix it."""


class PrivateApt:
    """apt-get/apt-cache bound to a private configuration under ``state``."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.sources = state / "sources.list"
        self.options = [
            "-o", f"Dir::Etc::SourceList={self.sources}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={state / 'lists'}",
            "-o", f"Dir::Cache={state / 'cache'}",
            "-o", f"Dir::State::status={state / 'status'}",
            # Downloads land in a folder the _apt sandbox user cannot write to.
            "-o", "APT::Sandbox::User=root",
            "-o", "Debug::NoLocking=1",
        ]

    def prepare(self) -> None:
        if not Path(KEYRING).exists():
            raise ToolchainError(f"{KEYRING} missing: `sudo apt-get install debian-archive-keyring` (Ubuntu too)")
        for sub in ("lists/partial", "cache/archives/partial"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        (self.state / "status").touch()
        suites = sorted({p.suite for p in PACKAGES})
        mirror = debian_mirror()
        self.sources.write_text(
            "".join(f"deb [signed-by={KEYRING}] {mirror} {suite} main\n" for suite in suites)
        )

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        if shutil.which(tool) is None:
            raise ToolchainError(f"{tool} not found: this installer needs a Debian or Ubuntu machine (apt, dpkg)")
        proc = subprocess.run(
            [tool, "-q", *self.options, *args], cwd=cwd, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise ToolchainError(f"`{tool} {' '.join(args)}` failed:\n{proc.stderr.strip()}")
        return proc.stdout

    def update(self) -> None:
        LOG.info("updating the private package lists (%s)", self.sources)
        self.run("apt-get", "update")

    def candidates(self, packages: list[Package]) -> dict[str, str]:
        """Package name -> candidate version in its suite, in one apt-cache call."""
        out = self.run("apt-cache", "show", *(f"{p.name}/{p.suite}" for p in packages))
        found: dict[str, str] = {}
        for stanza in out.split("\n\n"):
            name = re.search(r"^Package: (\S+)$", stanza, flags=re.M)
            version = re.search(r"^Version: (\S+)$", stanza, flags=re.M)
            if name and version:
                found.setdefault(name[1], version[1])
        absent = [p.name for p in packages if p.name not in found]
        if absent:
            raise ToolchainError(f"not in Debian: {', '.join(absent)}")
        return found


def upstream_version(debian_version: str) -> str:
    match = VERSION_RE.match(debian_version)
    return match.group("upstream") if match else debian_version


def major_minor(version: str) -> str:
    """'3.5.3+ds1-6' (Debian), '5:7.0.15-1~deb12u7' (with an epoch), 'v3.5.3' (an image tag) -> '3.5'."""
    return ".".join(upstream_version(version.lstrip("v")).split(".")[:2])


def install(tools_dir: Path, refresh: bool = False, project: Path | None = None) -> dict[str, str]:
    """Install every package not yet installed at a matching version; return tool -> version."""
    project = project or paths.project_dir()
    apt = PrivateApt(tools_dir / "apt")
    apt.prepare()
    root = tools_dir / "root"
    bindir = tools_dir / "bin"
    debs = tools_dir / "debs"
    for folder in (root, bindir, debs):
        folder.mkdir(parents=True, exist_ok=True)
    versions_file = tools_dir / "versions.json"
    installed: dict[str, str] = json.loads(versions_file.read_text()) if versions_file.exists() else {}

    missing = [
        p for p in PACKAGES
        if refresh or p.name not in installed
        or not all((root / path).exists() for _, path in p.binaries)
    ]
    if missing:
        apt.update()
        versions = apt.candidates(missing)
        for pkg in missing:
            pin = pinned_minor(pkg, project)
            if not upstream_version(versions[pkg.name]).startswith(pin):
                where = f"the {pkg.image} tag in docker-compose.yml" if pkg.image else "its pin in obsstack/toolchain.py"
                raise ToolchainError(
                    f"Debian {pkg.suite} now carries {pkg.name} {versions[pkg.name]}, not {pin}x as pinned by {where}."
                )
            for old in debs.glob(f"{pkg.name}_*.deb"):
                old.unlink()
        LOG.info("downloading %s", ", ".join(f"{p.name} {versions[p.name]}" for p in missing))
        apt.run("apt-get", "download", *(f"{p.name}={versions[p.name]}" for p in missing), cwd=debs)
        for pkg in missing:
            (deb,) = debs.glob(f"{pkg.name}_*.deb")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            installed[pkg.name] = versions[pkg.name]

    libdir = root / "usr/lib/x86_64-linux-gnu"
    for pkg in PACKAGES:
        env = {name: ":".join(str(root / path) for path in paths) for name, paths in pkg.env}
        for tool, path in pkg.binaries:
            write_wrapper(bindir / tool, root / path, libdir, env)
    check_libraries(bindir, libdir)
    install_alertmanager_templates(root)
    # Write last, atomically: a half-finished install is re-done next time.
    tmp = versions_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(installed, indent=2, sort_keys=True) + "\n")
    tmp.replace(versions_file)
    return installed


# Debian's Alertmanager reads its notification templates from this fixed folder (upstream embeds
# them); no flag moves it. The only place this installer writes outside the tools folder.
ALERTMANAGER_TEMPLATES = Path("/usr/share/prometheus/alertmanager")


def install_alertmanager_templates(root: Path, target: Path = ALERTMANAGER_TEMPLATES) -> None:
    source_dir = root / str(target).lstrip("/")
    for source in sorted(source_dir.glob("*.tmpl")):
        destination = target / source.name
        if destination.exists() and destination.read_bytes() == source.read_bytes():
            continue
        try:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
        except PermissionError as exc:
            raise ToolchainError(
                f"Debian's alertmanager needs {destination}: `sudo install -D -m 0644 {source} {destination}`, then re-run"
            ) from exc


def write_wrapper(wrapper: Path, target: Path, libdir: Path, env: dict[str, str] | None = None) -> None:
    """A tiny launcher so unpacked binaries find the libraries (and, for Ruby, the stdlib) beside them."""
    if not target.exists():
        raise ToolchainError(f"{target} missing after unpacking; delete {wrapper.parent.parent} and re-run")
    exports = "".join(f'{name}="{value}" ' for name, value in sorted((env or {}).items()))
    wrapper.write_text(
        "#!/bin/sh\n"
        f'{exports}LD_LIBRARY_PATH="{libdir}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" exec "{target}" "$@"\n'
    )
    wrapper.chmod(0o755)


def check_libraries(bindir: Path, libdir: Path) -> None:
    """Fail with the missing library's name rather than at first use in a test."""
    env = dict(os.environ, LD_LIBRARY_PATH=str(libdir))
    for wrapper in sorted(bindir.iterdir()):
        target = wrapper.read_text().split('exec "')[1].split('"')[0]
        ldd = subprocess.run(["ldd", target], capture_output=True, text=True, env=env, check=False)
        missing = [line.split()[0] for line in ldd.stdout.splitlines() if "not found" in line]
        if missing:
            raise ToolchainError(
                f"{wrapper.name} needs libraries this machine lacks: {', '.join(missing)}; "
                "install them with apt-get (e.g. `apt-get install libicu72 libxml2`) and re-run"
            )
