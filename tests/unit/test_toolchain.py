"""The toolchain installer's version handling (the install itself runs in `make test`)."""
from __future__ import annotations

import pytest
import yaml

from conftest import ROOT

from obsstack import toolchain


@pytest.mark.parametrize("debian, upstream", [
    ("3.5.3+ds1-6", "3.5.3"), ("0.19.1-1+b1", "0.19.1"), ("5:7.0.15-1~deb12u7", "7.0.15"), ("15.18-0+deb12u1", "15.18"),
])
def test_upstream_version(debian, upstream):
    assert toolchain.upstream_version(debian) == upstream
    assert toolchain.major_minor(debian) == ".".join(upstream.split(".")[:2])


def test_major_minor_of_an_image_tag():
    assert toolchain.major_minor("v3.5.3") == toolchain.major_minor("3.5.3+ds1-6") == "3.5"


def test_every_prometheus_family_package_is_pinned_by_its_compose_image():
    pinned = {p.name: toolchain.pinned_minor(p, ROOT) for p in toolchain.PACKAGES}
    for name in ("prometheus", "promtool", "prometheus-alertmanager", "prometheus-node-exporter",
                 "prometheus-postgres-exporter", "prometheus-redis-exporter", "prometheus-blackbox-exporter"):
        assert pinned[name].count(".") == 2 and pinned[name].endswith("."), name
        assert next(p for p in toolchain.PACKAGES if p.name == name).minor == "", f"{name}: pinned twice"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    tag = compose["prometheus"]["image"].rpartition(":v")[2]
    assert pinned["prometheus"] == pinned["promtool"] == ".".join(tag.split(".")[:2]) + "."


def test_a_pin_needs_exactly_one_tag_of_its_image(tmp_path):
    package = next(p for p in toolchain.PACKAGES if p.name == "prometheus")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  a: {image: prom/prometheus:v3.5.3}\n  b: {image: prom/prometheus:v3.6.0}\n")
    with pytest.raises(toolchain.ToolchainError, match="2 tags of prom/prometheus"):
        toolchain.pinned_minor(package, tmp_path)


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
