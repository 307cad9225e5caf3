"""bench/load at a small size: many applicants at once lose nothing and duplicate nothing (timings are the
benchmark's business, not a test's)."""

from bench.load import run_load


def test_small_load_loses_and_duplicates_nothing(built_site):
    figures = run_load(applicants=40, concurrency=8, max_seconds=120, site=built_site)
    assert figures["accepted"] == 40
    assert (figures["errors"], figures["server_errors"], figures["lost"], figures["duplicated"]) == (0, 0, 0, 0)
