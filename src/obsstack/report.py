"""The result every check reports (setup, validate, preflight), and how a list of them is printed."""
from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    detail: str
    fix: str = ""
    # The smoke test's results also say which component and how long the check took.
    component: str = ""
    seconds: float | None = None

    def line(self) -> str:
        text = f"{self.status.value:4}  {self.check:<18} {self.detail}"
        return text + (f"\n      fix: {self.fix}" if self.fix and self.status in (Status.FAIL, Status.WARN) else "")


def failed(results: list[Result]) -> bool:
    return any(r.status is Status.FAIL for r in results)


def print_results(results: list[Result], as_json: bool, command: str, success: str) -> int:
    """One line per result (or a JSON report) and a last line saying whether to go on; the exit status."""
    bad = failed(results)
    if as_json:
        print(json.dumps({"ok": not bad, "checks": [
            {"check": r.check, "status": r.status.value, "detail": r.detail, "fix": r.fix} for r in results]}, indent=2))
    else:
        for result in results:
            print(result.line())
        print(f"{command}: FAILED, fix the lines marked FAIL and re-run" if bad else f"{command}: {success}")
    return 1 if bad else 0
