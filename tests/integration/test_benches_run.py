"""Every benchmark under bench/ still runs to its verdict, at a size too small to mean anything.

Four of them had stopped running unnoticed (the console added a table they did not name). This checks only that
each reaches its summary line without a traceback; the figures are the benches' own business (a tiny size may
miss a target: some then exit 1, which is their verdict, not a breakage).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (module and arguments, the summary line's beginning)
BENCHES = [
    ("bench.api --rounds 6", "(c) validation"),
    ("bench.cold_start --rounds 1", "  after prepare()"),
    ("bench.hostile --rounds 1", "(d) 5xx"),
    ("bench.export --sizes 20 --rounds 1 --mode in-process", "time: export / bare sequential reads"),
    ("bench.dashboard --submissions 40 --units 3 --rounds 1", "dashboard / bare queries"),
    ("bench.console_list --sizes 200 --rounds 2", "page / bare Query"),
    ("bench.local_restart --submissions 3 --killed 2 --rounds 1", "(b) start after a kill"),
    ("bench.load --applicants 6 --concurrency 2 --max-seconds 60", "targets:"),
]


@pytest.mark.slow
@pytest.mark.parametrize("command, summary", BENCHES, ids=[c.split()[0] for c, _ in BENCHES])
def test_the_bench_runs_to_its_verdict(command: str, summary: str) -> None:
    # A developer's shell: none of the settings the suite's fixtures put in the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BDPILOT_", "AWS_", "POWERTOOLS_"))}
    done = subprocess.run([sys.executable, "-m", *command.split()], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert any(line.startswith(summary) for line in done.stdout.splitlines()), done.stdout[-2000:]
