"""The `obsstack` command: its subcommands, their help, and `validate` writing nothing."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from obsstack import cli

SUBCOMMANDS = ["setup", "validate", "urls", "smoke", "native", "toolchain", "dashboards", "backup", "restore", "hosts", "ha", "export"]


def obsstack(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obsstack", *args], capture_output=True, text=True, timeout=120,
                          check=False, **kwargs)


def test_help_lists_every_subcommand_with_an_example():
    proc = obsstack("--help")
    assert proc.returncode == 0
    listed = re.findall(r"^\s{4}(\w+)\s", proc.stdout, re.M)
    assert listed == SUBCOMMANDS, proc.stdout
    assert "examples:" in proc.stdout
    # One module may register two subcommands (backup registers backup and restore).
    assert [c.add_parser.__module__.rsplit(".", 1)[1] for c in cli.COMMANDS] == [s for s in SUBCOMMANDS if s != "restore"]


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_each_subcommand_says_what_it_does_with_an_example(subcommand):
    proc = obsstack(subcommand, "--help")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^examples?:\n\s+obsstack " + subcommand, proc.stdout, re.M), proc.stdout


def test_the_installed_command_is_on_the_path_of_the_environment():
    command = Path(sys.executable).parent / "obsstack"
    assert command.exists(), "pip install -e . installs the `obsstack` command"
    assert subprocess.run([str(command), "--version"], capture_output=True, text=True, check=False).stdout.startswith("obsstack ")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts}


@pytest.mark.toolchain
def test_validate_writes_nothing(project_copy, tool, tools_dir):
    for name in ("promtool", "amtool", "blackbox_exporter"):
        tool(name)
    generated = project_copy / "alertmanager/generated"
    if generated.exists():
        for path in generated.iterdir():
            path.unlink()
        generated.rmdir()
    before = digest(project_copy)
    env = dict(os.environ, OBS_TOOLS_DIR=str(tools_dir))
    env.pop("COMPOSE_PROFILES", None)
    proc = obsstack("validate", "--skip-preflight", "--project-dir", str(project_copy), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "amtool" in proc.stdout and "PASS" in proc.stdout
    assert digest(project_copy) == before, "validate changed files"
    assert not (project_copy / ".env").exists() and not generated.exists()


def test_no_python_file_edits_the_import_path():
    needle = "sys." + "path"  # spelled apart so that this file does not match itself
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in ROOT.rglob("*.py")
                 if not {".venv", ".tools", ".git", "build"} & set(p.relative_to(ROOT).parts)
                 for n, line in enumerate(p.read_text().splitlines(), 1) if needle in line]
    assert offenders == [], "use installed packages instead: " + ", ".join(offenders)
