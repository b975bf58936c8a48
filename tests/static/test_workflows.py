"""The GitHub Actions workflows, checked by the real actionlint, and the Docker-stack job held to its steps.

actionlint is a pinned test dependency (the `test` extra installs its binary into the venv's bin), so
a missing binary fails these tests, here and under CI=true alike: it is a broken install, not an
optional tool. actionlint runs shellcheck on every `run:` script when shellcheck is on PATH.
"""
from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import IN_CI, PROFILES, ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
STACK_WORKFLOW = WORKFLOWS / "docker-stack.yml"
INSTALL_HINT = ".venv/bin/pip install -e '.[test]' (or `make test`)"


@pytest.fixture(scope="session")
def actionlint() -> Path:
    path = Path(sys.executable).parent / "actionlint"
    if not path.exists():
        where = "CI=true: the test dependencies must be installed" if IN_CI else "it is a pinned test dependency"
        pytest.fail(f"actionlint not found at {path} ({where}); install it with {INSTALL_HINT}")
    return path


def run_actionlint(binary: Path, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), "-no-color", *map(str, files)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def workflow_files() -> list[Path]:
    return sorted(p for p in WORKFLOWS.iterdir() if p.suffix in (".yml", ".yaml"))


def test_actionlint_passes_every_workflow(actionlint):
    files = workflow_files()
    assert STACK_WORKFLOW in files
    proc = run_actionlint(actionlint, files, ROOT)
    assert proc.returncode == 0, (f"actionlint exited {proc.returncode} on {[p.name for p in files]}:\n"
                                  f"{proc.stdout}{proc.stderr}")


# Each mistake is made in a copy of the real workflow, so the check is proved on the file it guards.
BREAKAGES = {
    "unknown key": ("    runs-on: ubuntu-latest\n", "    runs-onn: ubuntu-latest\n", "runs-onn"),
    "bad expression": ("group: docker-stack-${{ github.ref }}", "group: docker-stack-${{ github.evnt }}", "evnt"),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_actionlint_fails_a_broken_copy(actionlint, tmp_path, breakage):
    old, new, named = BREAKAGES[breakage]
    text = STACK_WORKFLOW.read_text()
    assert text.count(old) == 1, f"{old!r} no longer occurs once in {STACK_WORKFLOW.name}: update BREAKAGES"
    broken = tmp_path / ".github" / "workflows" / STACK_WORKFLOW.name
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new))
    proc = run_actionlint(actionlint, [broken], tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"actionlint accepted a workflow with {breakage} ({new.strip()!r}):\n{output}"
    assert named in output, f"actionlint failed without naming {named!r}:\n{output}"


# ---------------------------------------------------------------------------- the job's steps


def load(path: Path = STACK_WORKFLOW) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def find(steps: list[dict[str, Any]], pattern: str, key: str = "run") -> int | None:
    """Index of the first step whose `run` (or `uses`) matches pattern, else None."""
    for index, step in enumerate(steps):
        if re.search(pattern, str(step.get(key, ""))):
            return index
    return None


def condition(step: dict[str, Any]) -> str:
    return str(step.get("if", ""))


def stack_job_problems(workflow: dict[str, Any]) -> list[str]:
    """What the Docker-stack job lacks: empty when it runs and tears down the stack as it must."""
    jobs = workflow.get("jobs") or {}
    if len(jobs) != 1:
        return [f"expected one job, found {sorted(jobs)}"]
    job = next(iter(jobs.values()))
    steps = job.get("steps") or []
    problems = []
    if job.get("runs-on") != "ubuntu-latest":
        problems.append(f"runs-on is {job.get('runs-on')!r}, not ubuntu-latest (a Docker host)")
    if not isinstance(job.get("timeout-minutes"), int):
        problems.append("no timeout-minutes")
    profiles = str((job.get("env") or {}).get("COMPOSE_PROFILES", ""))
    if set(profiles.split(",")) != set(PROFILES):
        problems.append(f"COMPOSE_PROFILES is {profiles!r}, not every profile {','.join(PROFILES)}")

    checkout = find(steps, r"^actions/checkout@v\d+$", "uses")
    python = find(steps, r"^actions/setup-python@v\d+$", "uses")
    sysctl = find(steps, r"sudo sysctl -w vm\.max_map_count=262144")
    up = find(steps, r"(?m)^\s*make up\b")
    smoke = find(steps, r"(?m)^\s*make smoke\b")
    suite = find(steps, r"\.venv/bin/python -m pytest -m docker tests/docker\b")
    logs = find(steps, r"docker compose logs --no-color --timestamps\s*>")
    ps = find(steps, r"docker compose ps -a\s*>")
    upload = find(steps, r"^actions/upload-artifact@v\d+$", "uses")
    down = find(steps, r"(?m)^\s*make down\b")
    down_volumes = find(steps, r"docker compose down (.* )?(-v|--volumes)\b")
    named = {"checkout": checkout, "setup-python": python, "sysctl vm.max_map_count": sysctl, "make up": up,
             "make smoke": smoke, "pytest -m docker tests/docker": suite, "docker compose logs": logs,
             "docker compose ps -a": ps, "upload-artifact": upload, "make down": down,
             "docker compose down --volumes": down_volumes}
    problems += [f"no step runs {what}" for what, index in named.items() if index is None]
    if problems:
        return problems

    if str((steps[python].get("with") or {}).get("python-version")) != "3.12":
        problems.append("setup-python does not set python-version 3.12")
    if not checkout < python < up or not sysctl < up:
        problems.append("checkout, setup-python and the sysctl step must come before make up")
    if not up < smoke < suite:
        problems.append("the order must be make up, make smoke, then the Docker suite")
    for what, index in (("docker compose logs", logs), ("docker compose ps -a", ps), ("upload-artifact", upload)):
        if "failure()" not in condition(steps[index]):
            problems.append(f"the {what} step does not run on failure (if: failure())")
    if not smoke < logs <= ps < upload or not upload < down:
        problems.append("the logs must be collected after make smoke, uploaded next, and before make down")
    # Every file the collect step writes must be inside what the upload step uploads.
    uploaded = str((steps[upload].get("with") or {}).get("path", "")).strip().rstrip("/")
    written = re.findall(r"(?<![\d&>])>\s*([^&\s]\S*)", str(steps[logs].get("run", "")))  # not 2>&1
    if not uploaded or not written or any(not (w == uploaded or w.startswith(uploaded + "/")) for w in written):
        problems.append(f"the upload step's path {uploaded!r} does not hold the collected files {written}")
    for what, index in (("make down", down), ("docker compose down --volumes", down_volumes)):
        if "always()" not in condition(steps[index]):
            problems.append(f"the {what} step does not always run (if: always())")
    return problems


def test_workflow_triggers_and_permissions():
    workflow = load()
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"push", "pull_request", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}


def test_stack_job_runs_up_smoke_and_the_docker_suite_and_keeps_logs_on_failure():
    assert stack_job_problems(load()) == []


REQUIRED_STEPS = {
    "make up": r"(?m)^\s*make up\b",
    "make smoke": r"(?m)^\s*make smoke\b",
    "docker suite": r"pytest -m docker",
    "collect logs": r"docker compose logs",
    "upload logs": r"upload-artifact",
    "teardown": r"make down",
}


@pytest.mark.parametrize("step", REQUIRED_STEPS, ids=list(REQUIRED_STEPS))
def test_deleting_a_required_step_is_caught(step):
    workflow = load()
    job = next(iter(workflow["jobs"].values()))
    kept = [s for s in job["steps"] if not re.search(REQUIRED_STEPS[step], f"{s.get('run', '')} {s.get('uses', '')}")]
    assert len(kept) == len(job["steps"]) - 1, f"expected exactly one step matching {step!r}"
    broken = copy.deepcopy(workflow)
    next(iter(broken["jobs"].values()))["steps"] = kept
    assert stack_job_problems(broken), f"deleting the {step} step went unnoticed"
