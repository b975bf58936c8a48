"""The Prometheus rule files, loaded once for everything that reads them (tests, benchmarks, the
native stack): each rule with the file and group it comes from."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = "prometheus/rules"


@dataclass(frozen=True)
class Rule:
    path: Path
    group: str
    spec: dict[str, Any]

    @property
    def alert(self) -> str | None:
        return self.spec.get("alert")

    @property
    def record(self) -> str | None:
        return self.spec.get("record")

    @property
    def expr(self) -> str:
        return str(self.spec["expr"])


def rule_files(root: Path) -> list[Path]:
    return sorted((root / RULES_DIR).glob("*.yml"))


def load_rules(root: Path) -> list[Rule]:
    return [Rule(path, group["name"], rule) for path in rule_files(root)
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def alerts(root: Path) -> list[Rule]:
    return [rule for rule in load_rules(root) if rule.alert]


def records(root: Path) -> list[Rule]:
    return [rule for rule in load_rules(root) if rule.record]
