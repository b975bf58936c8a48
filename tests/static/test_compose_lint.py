"""compose-lint, a third-party security linter, on the project as Compose renders it: the base file,
the GPU overlay and every profile. Critical, high and medium findings are fixed or reasoned in
.compose-lint.yml; low ones (a writable root filesystem) are reported, not hidden."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import PROFILES, ROOT, missing_tool

SUPPRESSIONS = ROOT / ".compose-lint.yml"


def compose_lint() -> str:
    found = shutil.which("compose-lint", path=str(Path(sys.executable).parent))
    if not found:
        missing_tool("compose-lint (PyPI compose-lint, a test dependency) not installed")
    return found


def suppressions_for(project: dict[str, Any], workdir: Path) -> Path:
    """.compose-lint.yml narrowed to PROJECT's services: one file serves the base project and its
    overlays, and --strict-config refuses an exclusion naming a service the project lacks."""
    config = yaml.safe_load(SUPPRESSIONS.read_text())
    for settings in config["rules"].values():
        if "exclude_services" in settings:
            settings["exclude_services"] = {name: reason for name, reason in settings["exclude_services"].items()
                                            if name in project["services"]}
            if not settings["exclude_services"]:
                del settings["exclude_services"]
    narrowed = workdir / "compose-lint.yml"
    narrowed.write_text(yaml.safe_dump(config))
    return narrowed


def lint(project: dict[str, Any], workdir: Path, config: Path | None = None) -> tuple[int, dict[str, Any], str]:
    config = config or suppressions_for(project, workdir)
    rendered = workdir / "compose.yaml"
    rendered.write_text(json.dumps(project, indent=1))
    proc = subprocess.run([compose_lint(), "check", "--no-env", "--strict-config", "--config", str(config),
                           "--fail-on", "medium", "--format", "json", str(rendered)],
                          capture_output=True, text=True, timeout=120, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"compose-lint printed no JSON (rc {proc.returncode}): {proc.stderr[-2000:]}")
    return proc.returncode, report, proc.stderr


def findings(report: Any) -> list[dict[str, Any]]:
    """Every finding of the JSON report, whatever its nesting (one list per file)."""
    if isinstance(report, dict):
        if "rule_id" in report and "severity" in report:
            return [report]
        return [f for value in report.values() for f in findings(value)]
    if isinstance(report, list):
        return [f for item in report for f in findings(item)]
    return []


def open_findings(report: Any, at_least: tuple[str, ...] = ("critical", "high", "medium")) -> list[str]:
    return sorted(f"{f.get('service')}: {f['rule_id']} {f['severity']}" for f in findings(report)
                  if str(f["severity"]).lower() in at_least and not f.get("suppressed"))


@pytest.fixture(scope="module")
def everything(render) -> dict[str, Any]:
    return render((*PROFILES, "tls"), gpu=True)  # every profile, the tls one included


def test_no_critical_high_or_medium_finding_is_left_unreasoned(everything, tmp_path):
    rc, report, stderr = lint(everything, tmp_path)
    assert findings(report), "compose-lint reported nothing at all: the report format changed"
    assert not open_findings(report), open_findings(report)
    assert rc == 0, stderr[-2000:]


def test_every_suppression_has_a_reason_and_names_a_real_service(everything, compose_cmd, env_file):
    from obsstack import compose

    # The overlays' services too (HA, and the scale-out overlays of tests/static/test_scale_overlays.py).
    overlays = [ROOT / name for name in ("docker-compose.yml", "docker-compose.ha.yml", "docker-compose.vm-cluster.yml",
                                         "docker-compose.es-cluster.yml")]
    ha = compose.render(ROOT, env_file, [*PROFILES, "tls"], overlays, compose_cmd)
    everything = {"services": {**everything["services"], **ha["services"]}}
    config = yaml.safe_load(SUPPRESSIONS.read_text())["rules"]
    for rule, settings in config.items():
        if settings.get("enabled") is False:
            assert len(settings.get("reason", "")) > 80, f"{rule}: a disabled rule needs its reason"
        for service, reason in settings.get("exclude_services", {}).items():
            assert service in everything["services"], f"{rule}: {service} is not a service"
            assert len(reason) > 60, f"{rule} {service}: the reason is too short to review"


@pytest.mark.parametrize("break_it, rule", [
    (lambda p: p["services"]["grafana"].__setitem__("privileged", True), "CL-0002"),
    (lambda p: p["services"]["cadvisor"]["volumes"].append(
        {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "read_only": True}), "CL-0001"),
    (lambda p: p["services"]["redis-exporter"]["environment"].__setitem__("REDIS_PASSWORD", "hunter2hunter2"), "CL-0020"),
])
def test_a_regression_fails_the_lint(everything, tmp_path, break_it, rule):
    broken = json.loads(json.dumps(everything))
    break_it(broken)
    rc, report, _ = lint(broken, tmp_path)
    assert rc != 0 and any(rule in line for line in open_findings(report)), open_findings(report)


def test_stateless_programs_run_on_a_read_only_root_filesystem(everything):
    """CL-0007 (low) is reported, not suppressed; these write nothing but their data volume, if any."""
    read_only = {name for name, service in everything["services"].items() if service.get("read_only")}
    assert read_only >= {"prometheus", "alertmanager", "node-exporter", "postgres-exporter", "redis-exporter",
                         "blackbox-exporter", "elasticsearch-exporter", "logstash-exporter", "json-exporter",
                         "docker-socket-proxy", "tls-proxy"}


def test_the_ha_overlay_and_the_agent_bundle_have_no_unreasoned_finding(compose_cmd, env_file, tmp_path, project_copy):
    """The overlays are held to the base file's rules: docker-compose.ha.yml on every profile, and
    the agent bundle as `obsstack hosts add` writes it for a host."""
    from obsstack import compose, envfile, hosts

    ha = compose.render(ROOT, env_file, [*PROFILES, "tls"], [ROOT / "docker-compose.yml", ROOT / "docker-compose.ha.yml"], compose_cmd)
    envfile.ensure_env(project_copy / ".env.example", project_copy / ".env")
    hosts.add(project_copy, envfile.read_env(project_copy / ".env"), "lint-host", "10.0.0.9", ["https://central.example:9443"])
    bundle = project_copy / "hosts" / "lint-host"
    agent = compose.render(bundle, bundle / ".env", ["gpu"], [bundle / "docker-compose.yml"], compose_cmd)
    for name, project in (("ha", ha), ("agent", agent)):
        (tmp_path / name).mkdir()
        rc, report, stderr = lint(project, tmp_path / name)
        assert findings(report), f"{name}: compose-lint reported nothing at all"
        assert not open_findings(report), (name, open_findings(report))
        assert rc == 0, stderr[-2000:]
