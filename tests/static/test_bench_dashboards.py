"""The dashboard benchmark's raw form: every recording rule a panel reads can be inlined."""
from __future__ import annotations

import yaml
from conftest import ROOT, load_script

bench = load_script(ROOT / "bench/bench_dashboards.py")


def test_every_dashboard_query_inlines_to_raw_metrics():
    records = bench.load_records()
    for uid, queries in bench.dashboards():
        for _, expr in queries:
            raw = bench.inline(expr, records)
            assert not set(bench.metric_names(raw)) & set(records), f"{uid}: {expr}"


def test_inlining_keeps_static_labels_and_turns_ranges_into_subqueries():
    records = {"job:x:rate5m": [bench.Record("sum by (job) (rate(x_total[5m]))", {})],
               "job_q:y:p": [bench.Record("histogram_quantile(0.5, y)", {"quantile": "0.5"}),
                             bench.Record("histogram_quantile(0.9, y)", {"quantile": "0.9"})]}
    assert bench.inline('job:x:rate5m{job=~"$job"}', records) == "((sum by (job) (rate(x_total[5m]))))"
    assert bench.inline("avg_over_time(job:x:rate5m[1h])", records) == \
        f"avg_over_time(((sum by (job) (rate(x_total[5m]))))[1h:{bench.INTERVAL}s])"
    assert bench.inline('job_q:y:p{quantile="0.9"}', records) == \
        '((label_replace(histogram_quantile(0.9, y), "quantile", "0.9", "", "")))'


def test_recording_rules_are_backfilled_in_dependency_order():
    levels = bench.levels(bench.load_records())
    seen: set[str] = set()
    records = bench.load_records()
    for level in levels:
        for name in level:
            reads = {n for r in records[name] for n in bench.metric_names(r.expr) if n in records}
            assert reads <= seen, f"{name} reads {reads - seen} before it is backfilled"
        seen |= set(level)


def test_a_refresh_includes_variables_and_annotations_at_the_stack_interval():
    kinds = {kind for _, queries in bench.dashboards() for kind, _ in queries}
    assert {"variable", "annotation"} <= kinds
    scrape = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())["global"]["scrape_interval"]
    assert f"{bench.INTERVAL}s" == scrape, "the benchmark's data must be at the stack's scrape interval"
