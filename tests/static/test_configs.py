"""Shipped configs pass the real promtool, amtool and blackbox_exporter; versions and secrets rules."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import PROFILES, ROOT

from obsstack import envfile, rules, toolchain

pytestmark = pytest.mark.toolchain

# compose image -> the Debian package of the same program that the live tests run (the toolchain
# pins each by that image's tag; this checks what was installed).
IMAGE_PACKAGES = {p.image: p.name for p in toolchain.PACKAGES if p.image}


def run(tool_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool_path), *args], capture_output=True, text=True, cwd=ROOT, check=False)


def test_promtool_check_config_lint_clean(tool):
    proc = run(tool("promtool"), "check", "config", "--lint=all", "prometheus/prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_check_rules(tool):
    rule_files = [str(p.relative_to(ROOT)) for p in rules.rule_files(ROOT)]
    assert rule_files
    proc = run(tool("promtool"), "check", "rules", "--lint=all", *rule_files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_blackbox_config_check(tool):
    proc = run(tool("blackbox_exporter"), "--config.check", "--config.file=blackbox/blackbox.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_scrapes_every_exporter_service(render):
    """Every exporter the compose file runs has a scrape job (no silent gaps)."""
    config = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    targets = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets.update(t.split(":")[0] for t in static["targets"])
        for dns in job.get("dns_sd_configs", []):
            targets.update(dns["names"])
    services = set(render(PROFILES, gpu=True)["services"])
    exporters = {s for s in services if s.endswith("exporter") or s in ("cadvisor", "alertmanager")}
    assert exporters <= targets, f"not scraped: {sorted(exporters - targets)}"


def tool_versions(tools_dir: Path) -> dict[str, str]:
    path = tools_dir / "versions.json"
    if not path.exists():
        from conftest import missing_tool

        missing_tool(f"{path} (written by scripts/toolchain.py)")
    return json.loads(path.read_text())


def test_image_tags_match_the_binaries_the_tests_run(render, tools_dir):
    versions = tool_versions(tools_dir)
    seen = set()
    for service in render(PROFILES, gpu=True)["services"].values():
        repo, _, tag = service["image"].rpartition(":")
        package = IMAGE_PACKAGES.get(repo)
        if package is None:
            continue
        seen.add(repo)
        assert toolchain.major_minor(tag) == toolchain.major_minor(versions[package]), (
            f"{repo}:{tag} but the tests run {package} {versions[package]}: "
            "re-run `obsstack toolchain install` after changing the image tag")
    assert seen == set(IMAGE_PACKAGES)


def tracked_files() -> list[Path]:
    proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        pytest.fail(f"git ls-files failed: {proc.stderr}")
    return [ROOT / name for name in proc.stdout.split("\0") if name and (ROOT / name).is_file()]


# A key that names a secret, then a literal value (not ${VAR}, $VAR, a file path, a file:// reference
# (VictoriaMetrics' flags) or a blank).
SECRET_LITERAL = re.compile(
    r"""(?ix)(password|passwd|secret|token|api[_-]?key|encryption[_-]?key)["']?\s*[:=]\s*["']?
        (?!\$|\{\{|/|\?|-|file://|["']?\s*$)([^\s"',}(\[]{4,}+)(?![(\[])""")
WEAK_DEFAULTS = re.compile(r"(?i)\b(admin123|changeme|admin:admin|elastic:changeme)\b")
SCANNED_SUFFIXES = {".yml", ".yaml", ".json", ".conf", ".sh", ".env", ".example", ".ini", ".toml", ".md", ".tmpl", ".py",
                    ""}


def test_no_secret_literal_in_any_tracked_file():
    offenders = []
    for path in tracked_files():
        if path.suffix not in SCANNED_SUFFIXES or "tests" in path.relative_to(ROOT).parts:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            match = SECRET_LITERAL.search(line)
            if match and not re.fullmatch(r"[A-Z_]+|PASSWORD|None|True|False|str|bool", match.group(2)):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
            if WEAK_DEFAULTS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: weak default: {line.strip()[:100]}")
    assert not offenders, "secret literals:\n" + "\n".join(offenders)


def test_secret_scan_catches_a_planted_password():
    """The scan above must be able to fail."""
    assert SECRET_LITERAL.search("    password: hunter2isnotsafe")
    assert SECRET_LITERAL.search('GF_SECURITY_ADMIN_PASSWORD="s3cretvalue"')
    assert not SECRET_LITERAL.search("    password: ${env:JAEGER_ES_PASSWORD}")
    assert not SECRET_LITERAL.search("      password_file: /etc/web/alertmanager-password")
    assert not SECRET_LITERAL.search("GRAFANA_ADMIN_PASSWORD=")
    assert not SECRET_LITERAL.search("POSTGRES_PASSWORD: ${DEMO_POSTGRES_PASSWORD:?run make up}")
    assert not SECRET_LITERAL.search('password = values.get(setting.source or "", "")')
    assert not SECRET_LITERAL.search('env={"REDIS_PASSWORD": passwords["redis"]}')


def test_env_example_leaves_every_generated_secret_blank():
    for setting in envfile.read_example(ROOT / ".env.example"):
        if setting.generate:
            assert setting.default == "", f".env.example sets {setting.key}; generated secrets stay blank"


def test_env_and_tools_are_ignored_by_git():
    for path in (".env", ".tools/bin/promtool", ".venv/bin/python"):
        proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert proc.returncode == 0, f"{path} is not git-ignored"


def test_promtool_unit_tests_pass(tool):
    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "prometheus/tests").glob("*.test.yml"))
    assert tests
    proc = run(tool("promtool"), "test", "rules", *tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    alerts = {rule.alert for rule in rules.alerts(ROOT)}
    fires, silent = set(), set()
    for path in (ROOT / "prometheus/tests").glob("*.test.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test") or []:
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alerts - fires == set(), f"no firing test: {sorted(alerts - fires)}"
    assert alerts - silent - {"Watchdog"} == set(), f"no must-not-fire test: {sorted(alerts - silent)}"


def test_every_recording_rule_is_unit_tested():
    """Each recording rule is checked by a promql_expr_test, or read by an alert (tested above)."""
    records = {rule.record for rule in rules.records(ROOT)}
    alert_exprs = "".join(rule.expr for rule in rules.alerts(ROOT))
    tested = ""
    for path in (ROOT / "prometheus/tests").glob("*.test.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            tested += " ".join(check["expr"] for check in case.get("promql_expr_test") or [])
    # a record read by another tested record counts too
    record_exprs = {rule.record: rule.expr for rule in rules.records(ROOT)}
    covered = {r for r in records if r in tested or r in alert_exprs}
    while True:
        more = {r for r in records - covered if any(r in record_exprs[c] for c in covered)}
        if not more:
            break
        covered |= more
    assert records - covered == set(), f"untested recording rules: {sorted(records - covered)}"
