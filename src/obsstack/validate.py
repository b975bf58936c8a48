"""Validate every shipped config with the real tools, naming the file and line of any error.

The tools come from the local test toolchain (`obsstack toolchain install`, `.tools/bin`) when it is
installed, else from the very images docker-compose.yml pins, run once with `docker run`.
"""
from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .report import Result, Status

ROOT = paths.project_dir()
YAML_GLOBS = (
    "docker-compose*.yml", "prometheus/**/*.yml", "alertmanager/**/*.yml", "blackbox/*.yml",
    "grafana/provisioning/**/*.yml", "filebeat/*.yml", "kibana/*.yml", "jaeger/*.yaml",
    "elasticsearch/*.yml", "logstash/config/*.yml", "prometheus/targets/*.yaml",
)
JSON_GLOBS = ("grafana/dashboards/**/*.json", "elasticsearch/setup/roles/*.json", "prometheus/targets/*.json")


@dataclass(frozen=True)
class Tool:
    """A real binary of the stack and where the compose service mounts its config."""

    name: str
    service: str  # the compose service whose image carries it
    folder: str  # repo folder mounted into that image
    mount: str  # at this path


TOOLS = {
    "promtool": Tool("promtool", "prometheus", "prometheus", "/etc/prometheus"),
    "amtool": Tool("amtool", "alertmanager", "alertmanager", "/etc/alertmanager"),
    "blackbox_exporter": Tool("blackbox_exporter", "blackbox-exporter", "blackbox", "/etc/blackbox_exporter"),
}
IMAGE_BINARY = {"blackbox_exporter": "/bin/blackbox_exporter"}


def tools_bin(root: Path) -> Path:
    return paths.tools_bin(root)


class ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's merge tags (`!reset`, `!override`, used by the overlay files)."""


def _compose_tag(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node) or None


for _tag in ("!reset", "!override"):
    ComposeLoader.add_constructor(_tag, _compose_tag)


def yaml_errors(root: Path) -> list[str]:
    errors = []
    for path in iter_files(root, YAML_GLOBS):
        try:
            list(yaml.load_all(path.read_text(), Loader=ComposeLoader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            errors.append(f"{path.relative_to(root)}{where}: {getattr(exc, 'problem', None) or exc}")
    for path in iter_files(root, JSON_GLOBS):
        try:
            json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            errors.append(f"{path.relative_to(root)}:{exc.lineno}:{exc.colno}: {exc.msg}")
    return errors


def iter_files(root: Path, globs: Iterable[str]) -> list[Path]:
    return sorted({path for pattern in globs for path in root.glob(pattern) if path.is_file()})


def target_errors(root: Path) -> list[str]:
    """file_sd drop-ins: promtool does not check them, and a bad one silently scrapes nothing."""
    errors = []
    for path in iter_files(root, ("prometheus/targets/*.yml", "prometheus/targets/*.yaml", "prometheus/targets/*.json")):
        name = path.relative_to(root)
        try:
            groups = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
        except yaml.YAMLError:
            continue  # reported by yaml_errors with its line
        if not isinstance(groups, list):
            errors.append(f"{name}: expected a list of target groups (`- targets: [host:port]`)")
            continue
        for index, group in enumerate(groups):
            where = f"{name}: group {index + 1}"
            if not isinstance(group, dict) or not isinstance(group.get("targets"), list):
                errors.append(f"{where}: needs `targets:` as a list of host:port strings")
                continue
            unknown = set(group) - {"targets", "labels"}
            if unknown:
                errors.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; only targets and labels are allowed")
            for target in group["targets"]:
                if not isinstance(target, str) or ":" not in target:
                    errors.append(f"{where}: target {target!r} must be a host:port string")
            labels = group.get("labels") or {}
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                errors.append(f"{where}: labels must map names to strings")
    return errors


class ToolRunner:
    """Runs a tool locally or in its pinned image; paths in its output are mapped back to the repo."""

    def __init__(self, root: Path, project: dict[str, Any] | None, docker_ok: bool, tools_root: Path | None = None) -> None:
        self.root = root
        self.project = project or {}
        self.docker_ok = docker_ok
        self.tools = tools_bin(tools_root or root)

    def available(self, name: str) -> str | None:
        if (self.tools / name).exists():
            return "local toolchain"
        if self.docker_ok and self.image(TOOLS[name]):
            return "pinned image"
        return None

    def image(self, tool: Tool) -> str | None:
        return self.project.get("services", {}).get(tool.service, {}).get("image")

    def run(self, name: str, args: list[str]) -> tuple[int, str]:
        """``args`` name files as repo-relative paths under the tool's folder."""
        tool = TOOLS[name]
        local = self.tools / name
        if local.exists():
            proc = subprocess.run([str(local), *args], cwd=self.root, capture_output=True, text=True, check=False)
            return proc.returncode, proc.stdout + proc.stderr
        mapped = [arg.replace(f"{tool.folder}/", f"{tool.mount}/", 1) if arg.startswith(f"{tool.folder}/") else arg
                  for arg in args]
        proc = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--entrypoint", IMAGE_BINARY.get(name, name),
             "-v", f"{self.root / tool.folder}:{tool.mount}:ro", self.image(tool) or "", *mapped],
            capture_output=True, text=True, check=False,
        )
        return proc.returncode, (proc.stdout + proc.stderr).replace(f"{tool.mount}/", f"{tool.folder}/")


def validate(root: Path, project: dict[str, Any] | None, compose_error: str | None, docker_ok: bool,
             rendered_root: Path | None = None) -> list[Result]:
    """Every check of the configs under root. Files rendered from them (alertmanager/generated/) are
    read under rendered_root when given (a scratch copy, so validating writes nothing), else root."""
    results = []
    errors = yaml_errors(root)
    results.append(Result("yaml/json syntax", Status.FAIL if errors else Status.PASS,
                          "\n      ".join(errors) if errors else "every config file parses",
                          "fix the file at the line shown"))
    if compose_error is not None:
        results.append(Result("compose config", Status.FAIL, compose_error,
                              "fix the compose file or the .env value named above"))
    else:
        results.append(Result("compose config", Status.PASS, f"{len((project or {}).get('services', {}))} services"))
    errors = target_errors(root)
    results.append(Result("scrape targets", Status.FAIL if errors else Status.PASS,
                          "\n      ".join(errors) if errors else "prometheus/targets/ drop-ins are valid",
                          "see prometheus/targets/README.md for the format"))

    runner = ToolRunner(root, project, docker_ok)
    rendered_runner = ToolRunner(rendered_root or root, project, docker_ok, tools_root=root)
    checks = [
        ("promtool", ["check", "config", "--lint=all", "prometheus/prometheus.yml"], "prometheus/prometheus.yml",
         "prometheus.yml and its rules"),
        ("amtool", ["check-config", "alertmanager/generated/alertmanager.yml"], "alertmanager/generated/alertmanager.yml",
         "alertmanager.yml (rendered) and its templates"),
        ("blackbox_exporter", ["--config.check", "--config.file=blackbox/blackbox.yml"], "blackbox/blackbox.yml",
         "blackbox.yml"),
    ]
    for name, args, checked, what in checks:
        source = runner.available(name)
        if source is None:
            results.append(Result(name, Status.SKIP, f"not checked: no Docker engine and no local {name}",
                                  "run `obsstack toolchain install` (Debian/Ubuntu) to check offline"))
            continue
        code, output = (rendered_runner if checked in RENDERED_FROM else runner).run(name, args)
        if code == 0:
            results.append(Result(name, Status.PASS, f"{what} valid ({source})"))
        else:
            lines = problem_lines(output) + source_lines(root, checked, output)
            results.append(Result(name, Status.FAIL, f"{checked}:\n      " + "\n      ".join(lines),
                                  "fix the file and line named above"))
    return results


RENDERED_FROM = {"alertmanager/generated/alertmanager.yml": "alertmanager/alertmanager.yml"}


def source_lines(root: Path, checked: str, output: str) -> list[str]:
    """For a rendered file, point at the line of its source that holds the offending field."""
    source = RENDERED_FROM.get(checked)
    if source is None:
        return []
    found = []
    lines = (root / source).read_text().splitlines()
    for field in re.findall(r"field (\S+) not found", output):
        for number, line in enumerate(lines, start=1):
            if re.match(rf"^\s*(- )?{re.escape(field)}:", line):
                found.append(f"{source}:{number}: field {field} not found (the rendered file comes from here)")
    return found


def problem_lines(output: str) -> list[str]:
    """The tool's complaint without its start-up chatter; logfmt's escaped newlines unfolded."""
    lines = []
    for line in output.replace("\\n", "\n").splitlines():
        if line.strip() and "level=INFO" not in line:
            lines.append(line.strip())
    return lines

