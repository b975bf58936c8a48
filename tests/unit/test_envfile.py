"""The .env that setup writes: every secret set, private, stable across re-runs, nothing lost."""
from __future__ import annotations

import stat
from pathlib import Path

import bcrypt
import pytest

from conftest import ROOT
from obsstack import envfile

EXAMPLE = ROOT / ".env.example"


def generated_keys() -> list[envfile.Setting]:
    return [s for s in envfile.read_example(EXAMPLE) if s.generate]


def test_fresh_env_has_every_secret_and_mode_0600(tmp_path):
    env = tmp_path / ".env"
    report = envfile.ensure_env(EXAMPLE, env)
    assert report.created
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    values = envfile.read_env(env)
    settings = envfile.read_example(EXAMPLE)
    assert set(values) == {s.key for s in settings}
    for setting in generated_keys():
        value = values[setting.key]
        if setting.generate == "password":
            assert len(value) >= 32, setting.key
        elif setting.generate == "key":
            assert len(value) == 64 and int(value, 16) >= 0, setting.key
        else:
            assert bcrypt.checkpw(values[setting.source].encode(), value.encode()), setting.key
    passwords = [values[s.key] for s in generated_keys() if s.generate == "password"]
    assert len(set(passwords)) == len(passwords), "every secret is different"
    assert sorted(report.generated) == sorted(s.key for s in generated_keys())


def test_rerun_keeps_every_value_and_changes_nothing(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_env(EXAMPLE, env)
    before = env.read_text()
    report = envfile.ensure_env(EXAMPLE, env)
    assert not report.created and not report.generated and not report.rehashed and not report.appended
    assert env.read_text() == before


def test_rerun_fills_only_blank_secrets_and_keeps_user_edits(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_env(EXAMPLE, env)
    values = envfile.read_env(env)
    text = env.read_text()
    text = text.replace(f"ELASTIC_PASSWORD={values['ELASTIC_PASSWORD']}", "ELASTIC_PASSWORD=")
    text = text.replace("GRAFANA_PORT=3000", "GRAFANA_PORT=3300  # moved off a busy port")
    text = text.replace(f"GRAFANA_ADMIN_PASSWORD={values['GRAFANA_ADMIN_PASSWORD']}", "GRAFANA_ADMIN_PASSWORD=mine-own-choice")
    text += "# my own note\nMY_EXTRA=kept\n"
    env.write_text(text)
    report = envfile.ensure_env(EXAMPLE, env)
    after = envfile.read_env(env)
    assert report.generated == ["ELASTIC_PASSWORD"]
    assert after["ELASTIC_PASSWORD"] and after["ELASTIC_PASSWORD"] != values["ELASTIC_PASSWORD"]
    assert after["GRAFANA_ADMIN_PASSWORD"] == "mine-own-choice"
    assert after["GRAFANA_PORT"] == "3300"
    assert after["MY_EXTRA"] == "kept" and "# my own note" in env.read_text()
    for key in values.keys() - {"ELASTIC_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_PORT"}:
        assert after[key] == values[key], key


def test_changed_password_gets_a_new_hash(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_env(EXAMPLE, env)
    values = envfile.read_env(env)
    env.write_text(env.read_text().replace(values["PROMETHEUS_WEB_PASSWORD"], "a-new-password-of-mine"))
    report = envfile.ensure_env(EXAMPLE, env)
    after = envfile.read_env(env)
    assert report.rehashed == ["PROMETHEUS_WEB_PASSWORD_HASH"]
    assert bcrypt.checkpw(b"a-new-password-of-mine", after["PROMETHEUS_WEB_PASSWORD_HASH"].encode())
    assert after["ALERTMANAGER_WEB_PASSWORD_HASH"] == values["ALERTMANAGER_WEB_PASSWORD_HASH"]


def test_settings_new_in_the_example_are_appended(tmp_path):
    example = tmp_path / ".env.example"
    example.write_text(EXAMPLE.read_text())
    env = tmp_path / ".env"
    envfile.ensure_env(example, env)
    example.write_text(example.read_text() + "# A setting added in a later release.\n# @generate password\nNEW_SECRET=\nNEW_PLAIN=42\n")
    report = envfile.ensure_env(example, env)
    assert report.appended == ["NEW_SECRET", "NEW_PLAIN"]
    values = envfile.read_env(env)
    assert len(values["NEW_SECRET"]) >= 32 and values["NEW_PLAIN"] == "42"
    assert "# A setting added in a later release." in env.read_text()


def test_loose_permissions_are_tightened(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_env(EXAMPLE, env)
    env.chmod(0o644)
    envfile.ensure_env(EXAMPLE, env)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_bcrypt_hash_is_quoted_so_compose_does_not_interpolate_it(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_env(EXAMPLE, env)
    line = next(line for line in env.read_text().splitlines() if line.startswith("PROMETHEUS_WEB_PASSWORD_HASH="))
    assert line.startswith("PROMETHEUS_WEB_PASSWORD_HASH='$2b$") and line.endswith("'")


def test_malformed_env_is_reported_with_file_and_line_and_left_untouched(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_env(EXAMPLE, env)
    broken = env.read_text().replace("GRAFANA_PORT=3000", "GRAFANA PORT 3000")
    env.write_text(broken)
    with pytest.raises(envfile.EnvFileError) as error:
        envfile.ensure_env(EXAMPLE, env)
    line = broken.splitlines().index("GRAFANA PORT 3000") + 1
    assert f"{env}:{line}:" in str(error.value)
    assert env.read_text() == broken


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("GRAFANA_PORT=3000\n")

    def explode(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(envfile.os, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        envfile.ensure_env(EXAMPLE, env)
    assert env.read_text() == "GRAFANA_PORT=3000\n"
    assert [p.name for p in tmp_path.iterdir()] == [".env"]


@pytest.mark.parametrize("raw, value", [("abc", "abc"), ("'a$b c'", "a$b c"), ('"q\\"x"', 'q"x'), ("v # note", "v")])
def test_values_are_read_as_compose_reads_them(raw, value):
    assert envfile.parse_value(raw) == value


def test_example_rejects_bcrypt_without_source(tmp_path):
    example = tmp_path / ".env.example"
    example.write_text("# @generate bcrypt\nHASH=\n")
    with pytest.raises(envfile.EnvFileError, match=r"\.env\.example:2: `@generate bcrypt` needs"):
        envfile.read_example(example)


def test_format_value_round_trips_through_parse(tmp_path: Path):
    for value in ("plain", "$2b$10$abc/def.ghi", "with space", "a#b"):
        assert envfile.parse_value(envfile.format_value(value)) == value
