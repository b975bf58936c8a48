"""SLOs (uid slo): Availability and latency objectives per job, error budget left and burn rates over the
windows of the multi-window burn-rate alerts."""
from __future__ import annotations

from typing import Any

from ..durations import parse_duration
from .builder import RUNBOOKS, Panel, burn_rate_conditions, dashboard
from .selectors import JOB


def windows_of(conditions: list[tuple[float, tuple[str, ...]]]) -> list[str]:
    """The windows of an alert's conditions, shortest first."""
    return sorted({w for _, windows in conditions for w in windows}, key=parse_duration)


def spoken(items: list[str]) -> str:
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def number(value: float) -> str:
    return f"{value:g}"


def conditions_text(conditions: list[tuple[float, tuple[str, ...]]]) -> str:
    return " or ".join(f"{number(factor)}x ({' and '.join(windows)})" for factor, windows in conditions)


def factor_thresholds(conditions: list[tuple[float, tuple[str, ...]]]) -> list[tuple[float, str]]:
    """The lower factor orange, the higher red: the colours the burn-rate panels use."""
    low, high = sorted(factor for factor, _ in conditions)
    return [(low, "orange"), (high, "red")]


def build() -> dict[str, Any]:
    avail_budget = "(1 - job:slo_availability_objective:ratio{job=~\"$job\"})"
    lat_budget = "(1 - job:slo_latency_objective:ratio{job=~\"$job\"})"
    panels = [
        Panel("Availability objective", "Share of requests to answer without a 5xx over 30 days "
              "(job:slo_availability_objective:ratio; prometheus/rules/slo-objectives.yml).",
              [(f"job:slo_availability_objective:ratio{{{JOB}}}", "{{job}}")], "percentunit", kind="stat", width=6, height=4),
        Panel("Latency objective", "Share of requests to serve within the threshold `le` (seconds) over 30 days "
              "(job:slo_latency_objective:ratio).",
              [(f"job:slo_latency_objective:ratio{{{JOB}}}", "{{job}} within {{le}}s")], "percentunit", kind="stat", width=6, height=4),
        Panel("Availability error budget remaining", "Share of the 30-day availability budget not yet spent by "
              "5xx responses (job:slo_availability_budget_remaining:ratio30d, prometheus/rules/slo-budget.yml): "
              "100% is untouched, 0 spent, below 0 overspent.",
              [(f"job:slo_availability_budget_remaining:ratio30d{{{JOB}}}", "{{job}}")],
              "percentunit", kind="stat", width=6, height=4, thresholds=[(0.0, "red"), (0.25, "orange"), (0.5, "green")]),
        Panel("Latency error budget remaining", "Share of the 30-day latency budget not yet spent by slow "
              "requests (job:slo_latency_budget_remaining:ratio30d): 100% is untouched, 0 spent.",
              [(f"job:slo_latency_budget_remaining:ratio30d{{{JOB}}}", "{{job}}")],
              "percentunit", kind="stat", width=6, height=4, thresholds=[(0.0, "red"), (0.25, "orange"), (0.5, "green")]),
        Panel("Error budget burn-down", "The 30-day budgets left over time: a steady line is a healthy service; "
              "at a 1x burn the line falls to 0 in exactly 30 days.",
              [(f"job:slo_availability_budget_remaining:ratio30d{{{JOB}}}", "availability {{job}}"),
               (f"job:slo_latency_budget_remaining:ratio30d{{{JOB}}}", "latency {{job}}")], "percentunit",
              thresholds=[(0.0, "red")]),
        Panel("Budget exhausted in", "At the last hour's burn rate, the time until the budget is spent; no value "
              "means it is not being spent now. More than the period left is good.",
              [(f"job:slo_availability_budget_exhaustion:seconds{{{JOB}}}", "availability {{job}}"),
               (f"job:slo_latency_budget_exhaustion:seconds{{{JOB}}}", "latency {{job}}")], "dtdurations",
              kind="stat", width=12, height=8),
    ]
    for sli, budget, alert in (("availability", avail_budget, "SloAvailabilityBudgetBurn"),
                               ("latency", lat_budget, "SloLatencyBudgetBurn")):
        page, ticket = burn_rate_conditions(alert, "critical"), burn_rate_conditions(alert, "warning")
        fast = windows_of(page)
        slow = [w for w in windows_of(ticket) if w not in fast]
        panels.append(Panel(
            f"{sli.capitalize()} burn rate, fast windows", f"Error ratio / error budget over {spoken(fast)}; {alert} "
            f"pages at {conditions_text(page)}.",
            [(f"job:slo_{sli}_errors_per_request:ratio_rate{w}{{{JOB}}} / on (job) ({budget} > 0)", f"{w} {{{{job}}}}")
             for w in fast], "short", thresholds=factor_thresholds(page)))
        panels.append(Panel(
            f"{sli.capitalize()} burn rate, slow windows", f"Error ratio / error budget over {spoken(slow)}; {alert} "
            f"opens a ticket at {conditions_text(ticket)}.",
            [(f"job:slo_{sli}_errors_per_request:ratio_rate{w}{{{JOB}}} / on (job) ({budget} > 0)", f"{w} {{{{job}}}}")
             for w in slow], "short", thresholds=factor_thresholds(ticket)))
    panels += [
        Panel("Availability error ratio", "Share of requests answered with a 5xx over 5 minutes and 3 days.",
              [(f"job:slo_availability_errors_per_request:ratio_rate5m{{{JOB}}}", "5m {{job}}"),
               (f"job:slo_availability_errors_per_request:ratio_rate3d{{{JOB}}}", "3d {{job}}")], "percentunit"),
        Panel("Latency error ratio", "Share of requests slower than the objective's threshold over 5 minutes and 3 days.",
              [(f"job:slo_latency_errors_per_request:ratio_rate5m{{{JOB}}}", "5m {{job}}"),
               (f"job:slo_latency_errors_per_request:ratio_rate3d{{{JOB}}}", "3d {{job}}")], "percentunit"),
    ]
    return dashboard("slo", "SLOs", "Availability and latency objectives per job, error budget left and burn rates "
                     "over the windows of the multi-window burn-rate alerts.", panels,
                     ["observability-stack", "application", "slo"], [("Application", "/d/application"), ("Runbooks", RUNBOOKS)],
                     "label_values(job:slo_availability_objective:ratio, job)")
