"""The toolchain installer's version handling (the install itself runs in `make test`)."""
from __future__ import annotations

import pytest

from obsstack import toolchain


@pytest.mark.parametrize("debian, upstream", [
    ("3.5.3+ds1-6", "3.5.3"), ("0.19.1-1+b1", "0.19.1"), ("5:7.0.15-1~deb12u7", "7.0.15"), ("15.18-0+deb12u1", "15.18"),
])
def test_upstream_version(debian, upstream):
    assert toolchain.upstream_version(debian) == upstream


def test_every_prometheus_family_package_is_pinned_to_a_minor():
    pinned = {p.name: p.minor for p in toolchain.PACKAGES}
    for name in ("prometheus", "promtool", "prometheus-alertmanager", "prometheus-node-exporter",
                 "prometheus-postgres-exporter", "prometheus-redis-exporter", "prometheus-blackbox-exporter"):
        assert pinned[name].count(".") == 2 and pinned[name].endswith("."), name
    assert pinned["prometheus"] == pinned["promtool"] == "3.5."


def test_installed_tools_run(tool):
    import subprocess

    for name in ("prometheus", "promtool", "alertmanager", "amtool", "node_exporter", "postgres_exporter",
                 "redis_exporter", "blackbox_exporter", "pushgateway"):
        proc = subprocess.run([str(tool(name)), "--version"], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (name, proc.stderr)
    for name, flag in (("postgres", "--version"), ("initdb", "--version"), ("psql", "--version"),
                       ("redis-server", "--version"), ("redis-cli", "--version"), ("victoria-metrics", "-version")):
        proc = subprocess.run([str(tool(name)), flag], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr)


def test_mirror_comes_from_the_machines_apt_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    listing = tmp_path / "sources.list.d"
    listing.mkdir()
    (listing / "other.list").write_text("deb https://vendor.example/apt stable main\n")
    (listing / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\nComponents: main\n")
    assert toolchain.debian_mirror((tmp_path / "sources.list", listing)) == "http://mirror.example/debian"
    monkeypatch.setenv("DEBIAN_MIRROR", "http://override.example/debian/")
    assert toolchain.debian_mirror((listing,)) == "http://override.example/debian"


def test_no_debian_source_names_the_override(tmp_path, monkeypatch):
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list").write_text("deb https://vendor.example/apt stable main\n")
    with pytest.raises(toolchain.ToolchainError, match="DEBIAN_MIRROR"):
        toolchain.debian_mirror((tmp_path / "sources.list",))
