"""Dashboards read the thresholds they colour at from the alert rules themselves."""
from __future__ import annotations

import shutil

import pytest

from conftest import ROOT
from obsstack import dashboards, rules


def test_reads_the_number_an_alert_compares_against():
    assert rules.alert_threshold(ROOT, "PostgresqlLowCacheHitRatio") == 0.98
    assert rules.alert_threshold(ROOT, "HighErrorRatio") == 0.05, "the condition, not the traffic guard after it"
    assert rules.alert_threshold(ROOT, "ElasticsearchHeapUsageHigh") == 0.85, "not the division guard inside it"
    # the host dashboards draw one line for both
    assert rules.alert_threshold(ROOT, "NodeCPUHighUsage") == rules.alert_threshold(ROOT, "NodeMemoryHighUtilization")
    with pytest.raises(ValueError, match="name the severity"):
        rules.alert_threshold(ROOT, "NodeFilesystemAlmostOutOfSpace")


def test_changing_an_alert_changes_its_panel(tmp_path, monkeypatch):
    for folder in ("prometheus", "grafana"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copyfile(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    rule_file = tmp_path / "prometheus/rules/postgresql.yml"
    text = rule_file.read_text()
    assert "< 0.98" in text
    rule_file.write_text(text.replace("< 0.98", "< 0.95"))
    monkeypatch.setenv("OBSSTACK_PROJECT_DIR", str(tmp_path))
    rendered = dashboards.render(tmp_path)
    (postgresql,) = [text for path, text in rendered.items() if path.name == "postgresql.json"]
    assert '"value": 0.95' in postgresql and '"value": 0.98' not in postgresql


def test_the_slo_burn_rate_panels_follow_the_burn_rate_alerts(tmp_path, monkeypatch):
    for folder in ("prometheus", "grafana"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copyfile(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    rule_file = tmp_path / "prometheus/rules/application.yml"
    rule_file.write_text(rule_file.read_text().replace("> 14.4", "> 10").replace("ratio_rate30m", "ratio_rate15m"))
    monkeypatch.setenv("OBSSTACK_PROJECT_DIR", str(tmp_path))
    assert rules.burn_rate_conditions(tmp_path, "SloAvailabilityBudgetBurn", "critical") == [
        (10.0, ("1h", "5m")), (6.0, ("6h", "15m"))]
    (slo,) = [text for path, text in dashboards.render(tmp_path).items() if path.name == "slo.json"]
    assert "pages at 10x (1h and 5m) or 6x (6h and 15m)" in slo and '"value": 10.0' in slo and "ratio_rate15m" in slo
