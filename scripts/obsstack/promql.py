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
