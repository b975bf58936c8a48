"""The storage benchmark (bench/bench_storage.py): its --help, and the synthetic exposition it feeds
to Prometheus and VictoriaMetrics, read back with prometheus_client's own parser."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, load_script
from prometheus_client.parser import text_string_to_metric_families

bench = load_script(ROOT / "bench/bench_storage.py")


def samples(body: bytes) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            key = (sample.name, *sorted(sample.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = sample.value
    return out


def test_help_runs_and_shows_examples():
    proc = subprocess.run([sys.executable, str(ROOT / "bench/bench_storage.py"), "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    for text in ("--series", "--outage", "--json", "bench/bench_storage.py --series 100000"):
        assert text in proc.stdout


def test_the_series_set_is_split_over_targets_and_every_series_is_unique():
    series_set = bench.SeriesSet(1_050, per_target=500, metrics=7)
    assert series_set.targets == 3
    seen: set[tuple] = set()
    for target in range(series_set.targets):
        parsed = samples(series_set.bodies(target)[0])
        assert len(parsed) == series_set.target_size(target) == (500, 500, 50)[target]
        for key in parsed:
            assert {name for name, _ in key[1:]} == {"namespace", "pod", "code"}
        assert not seen & set(parsed), "targets share a series: the set would be smaller than asked"
        seen |= set(parsed)
    assert len(seen) == 1_050


def test_every_value_changes_from_one_scrape_interval_to_the_next():
    series_set = bench.SeriesSet(300, per_target=300, metrics=6, variants=4)
    bodies = [samples(body) for body in series_set.bodies(0)]
    assert all(body.keys() == bodies[0].keys() for body in bodies)
    for variant, body in enumerate(bodies):
        following = bodies[(variant + 1) % len(bodies)]  # the feed cycles through the variants
        unchanged = [key for key in body if body[key] == following[key]]
        assert not unchanged, f"{len(unchanged)} series keep their value from variant {variant} to the next"


def test_the_servers_own_metrics_are_read_by_name_and_labels():
    text = ('# HELP x y\nprometheus_remote_storage_samples_total{remote_name="vm",url="http://a/b"} 12\n'
            'prometheus_remote_storage_samples_total{remote_name="prometheus",url="http://c/d"} 5\n'
            "prometheus_remote_storage_highest_timestamp_in_seconds 1.7e+09\n")
    metrics = bench.parse_metrics(text)
    assert bench.total(metrics, "prometheus_remote_storage_samples_total", remote_name="vm") == 12
    assert bench.total(metrics, "prometheus_remote_storage_samples_total") == 17
    assert bench.total(metrics, "prometheus_remote_storage_highest_timestamp_in_seconds") == 1.7e9
