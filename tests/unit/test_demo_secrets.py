"""The demo app reads its credentials from *_FILE settings (Compose secrets), never from argv."""
from __future__ import annotations

import pytest

from demo_app.__main__ import build_parser


def test_file_setting_wins_and_is_stripped(tmp_path, monkeypatch):
    secret = tmp_path / "dsn"
    secret.write_text("postgresql://postgres:s3cret@db:5432/postgres\n")
    monkeypatch.setenv("DEMO_POSTGRES_DSN", "postgresql://ignored")
    monkeypatch.setenv("DEMO_POSTGRES_DSN_FILE", str(secret))
    monkeypatch.delenv("DEMO_REDIS_URL_FILE", raising=False)
    monkeypatch.setenv("DEMO_REDIS_URL", "redis://:pw@cache:6379/0")
    args = build_parser().parse_args([])
    assert args.postgres_dsn == "postgresql://postgres:s3cret@db:5432/postgres"
    assert args.redis_url == "redis://:pw@cache:6379/0"


def test_a_missing_secret_file_names_the_setting_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_REDIS_URL_FILE", str(tmp_path / "absent"))
    with pytest.raises(SystemExit) as stopped:
        build_parser()
    assert "DEMO_REDIS_URL_FILE=" in str(stopped.value) and "mount the secret" in str(stopped.value)
