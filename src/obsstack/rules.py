"""The Prometheus rule files, loaded once for everything that reads them (tests, benchmarks, the
native stack): each rule with the file and group it comes from."""
from __future__ import annotations

import re
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


COMPARISON = re.compile(r"(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w.])")


def alert_threshold(root: Path, alert: str, severity: str | None = None) -> float:
    """The number an alert's condition compares against: its first comparison with a number at the
    outermost nesting level. Guards against dividing by zero sit inside parentheses (`/ (x > 0)`),
    traffic guards after the condition (`ratio > 0.05 and on (job) traffic > 0.1` -> 0.05). What a
    dashboard colours at, read from the rule itself so that the two cannot drift apart."""
    found = [rule for rule in alerts(root) if rule.alert == alert
             and (severity is None or rule.spec.get("labels", {}).get("severity") == severity)]
    if len(found) != 1:
        raise ValueError(f"{len(found)} rules named {alert}{f' with severity {severity}' if severity else ''}: "
                         "name the severity to choose one")
    expr = re.sub(r'"[^"]*"|\[[^\]]*\]', lambda m: " " * len(m[0]), found[0].expr)  # no parentheses in strings
    matches = [(expr[:m.start()].count("(") - expr[:m.start()].count(")"), m.start(), m) for m in COMPARISON.finditer(expr)]
    if not matches:
        raise ValueError(f"{alert}: its expression compares with no number")
    return float(min(matches, key=lambda item: item[:2])[2][1])


BURN_CONDITION = re.compile(r"ratio_rate(\w+)\s*/\s*on\s*\(job\)\s*\(\([^)]*\)\s*>\s*0\)\s*>\s*(\d+(?:\.\d+)?)")


def burn_rate_conditions(root: Path, alert: str, severity: str) -> list[tuple[float, tuple[str, ...]]]:
    """A multi-window burn-rate alert's conditions, in the rule's order: (factor, its windows), e.g.
    [(14.4, ("1h", "5m")), (6.0, ("6h", "30m"))] for the page. The SLO dashboard draws these."""
    (rule,) = [r for r in alerts(root) if r.alert == alert and r.spec.get("labels", {}).get("severity") == severity]
    conditions: list[tuple[float, tuple[str, ...]]] = []
    for window, factor in BURN_CONDITION.findall(rule.expr):
        if conditions and conditions[-1][0] == float(factor):
            conditions[-1] = (conditions[-1][0], (*conditions[-1][1], window))
        else:
            conditions.append((float(factor), (window,)))
    if not conditions:
        raise ValueError(f"{alert} ({severity}): no `ratio_rateW / on (job) (budget > 0) > FACTOR` condition found")
    return conditions
