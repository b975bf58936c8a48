"""Metric names in a PromQL expression, without a parser: for lint checks and the benchmarks."""
from __future__ import annotations

import re

PROMQL_WORDS = frozenset({
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev", "by", "without", "on", "ignoring",
    "group_left", "group_right", "or", "and", "unless", "bool", "offset", "rate", "irate", "increase", "delta",
    "deriv", "histogram_quantile", "label_replace", "label_join", "clamp_min", "clamp_max", "clamp", "time",
    "vector", "scalar", "abs", "absent", "changes", "resets", "round", "ceil", "floor", "predict_linear", "sort",
    "sort_desc", "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "present_over_time", "quantile_over_time", "group", "count_values", "inf", "nan",
})


def metric_names(expr: str) -> set[str]:
    """Metric names in ``expr``: label matchers, strings, ranges and grouping clauses removed."""
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return {word for word in re.findall(r"(?<![\w$])[a-zA-Z_:][\w:]*", expr) if word.lower() not in PROMQL_WORDS}


# Grafana variables in a query: $name or ${name}. Built-ins ($__rate_interval, ...) get the
# caller's values; every dashboard variable becomes ".*", its "All" value.
GRAFANA_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
# Values of the built-ins for a 1h dashboard over a 15 s scrape interval.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}


def substitute_variables(expr: str, builtins: dict[str, str] = GRAFANA_BUILTINS) -> str:
    """``expr`` as Grafana sends it with every dashboard variable at All."""
    return GRAFANA_VARIABLE.sub(lambda m: builtins.get(m[1], ".*"), expr)


def variables_used(expr: str) -> set[str]:
    """Dashboard variables (not built-ins) that ``expr`` refers to."""
    return {name for name in GRAFANA_VARIABLE.findall(expr) if not name.startswith("__")}


def label_values_query(query: str) -> tuple[str, str] | None:
    """(selector, label) of a query variable's ``label_values(SELECTOR, label)``, else None."""
    match = re.fullmatch(r"label_values\((.+), *(\w+)\)", query)
    return (match[1], match[2]) if match else None
