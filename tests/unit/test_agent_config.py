"""The configs of the push path (src/obsstack/agent.py), checked by the real promtool."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from obsstack.agent import agent_config, central_web_users


def test_agent_config_labels_every_series_with_its_host_and_logs_in_as_it(tool, tmp_path):
    (tmp_path / "password").write_text("pw")
    config = agent_config("gpu-node-7", "https://central.example:9443/", str(tmp_path / "password"),
                          {"node": ["127.0.0.1:9100"], "gpu": ["127.0.0.1:9835"]}, ca_file=str(tmp_path / "password"))
    assert config["global"]["external_labels"] == {"host": "gpu-node-7"}
    write = config["remote_write"][0]
    assert write["url"] == "https://central.example:9443/api/v1/write"
    assert write["basic_auth"] == {"username": "gpu-node-7", "password_file": str(tmp_path / "password")}
    assert [job["job_name"] for job in config["scrape_configs"]] == ["gpu", "node"]
    path = tmp_path / "agent.yml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run([str(tool("promtool")), "check", "config", "--agent", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_central_web_users_refuse_a_host_named_like_a_stack_user():
    assert central_web_users({"h1": "$2b$x"}, {"prometheus": "$2b$y"}) == {"basic_auth_users": {"prometheus": "$2b$y", "h1": "$2b$x"}}
    with pytest.raises(ValueError, match="clash"):
        central_web_users({"prometheus": "$2b$x"}, {"prometheus": "$2b$y"})
