"""SLOs (uid slo): Availability and latency objectives per job, error budget left and burn rates over the
windows of the multi-window burn-rate alerts."""
from __future__ import annotations

from typing import Any

from .builder import RUNBOOKS, Panel, dashboard
from .selectors import JOB


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
        Panel("Availability error budget remaining", "1 - (5xx ratio over the longest recorded window, 3 days) / "
              "(1 - objective): an estimate of the 30-day budget left; below 0 the budget is spent.",
              [(f"1 - job:slo_availability_errors_per_request:ratio_rate3d{{{JOB}}} / on (job) ({avail_budget} > 0)",
                "{{job}}")], "percentunit", kind="stat", width=6, height=4, thresholds=[(0.0, "red"), (0.25, "orange"), (0.5, "green")]),
        Panel("Latency error budget remaining", "1 - (share of slow requests over 3 days) / (1 - objective): an "
              "estimate of the 30-day latency budget left.",
              [(f"1 - job:slo_latency_errors_per_request:ratio_rate3d{{{JOB}}} / on (job) ({lat_budget} > 0)", "{{job}}")],
              "percentunit", kind="stat", width=6, height=4, thresholds=[(0.0, "red"), (0.25, "orange"), (0.5, "green")]),
    ]
    for sli, budget, alert in (("availability", avail_budget, "SloAvailabilityBudgetBurn"),
                               ("latency", lat_budget, "SloLatencyBudgetBurn")):
        panels.append(Panel(
            f"{sli.capitalize()} burn rate, fast windows", f"Error ratio / error budget over 5m, 30m, 1h and 6h; {alert} "
            "pages at 14.4x (1h and 5m) or 6x (6h and 30m).",
            [(f"job:slo_{sli}_errors_per_request:ratio_rate{w}{{{JOB}}} / on (job) ({budget} > 0)", f"{w} {{{{job}}}}")
             for w in ("5m", "30m", "1h", "6h")], "short", thresholds=[(6.0, "orange"), (14.4, "red")]))
        panels.append(Panel(
            f"{sli.capitalize()} burn rate, slow windows", f"Error ratio / error budget over 2h, 1d and 3d; {alert} "
            "opens a ticket at 3x (1d and 2h) or 1x (3d and 6h).",
            [(f"job:slo_{sli}_errors_per_request:ratio_rate{w}{{{JOB}}} / on (job) ({budget} > 0)", f"{w} {{{{job}}}}")
             for w in ("2h", "1d", "3d")], "short", thresholds=[(1.0, "orange"), (3.0, "red")]))
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
