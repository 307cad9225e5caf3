"""Local run restart benchmark (issue 15): a start takes the same time whatever the run has stored.

(a) `bdpilot serve` from spawn until its API answers, in an empty data folder vs a folder holding N stored
    submissions (default 500) left by a clean stop; rounds interleaved, medians, ratio (target ≤ 2.0);
(b) for information: the same start after a run holding them was killed (SIGKILL) having stored K more
    (default 50), whose writes (and only they) are replayed once, then folded into the state. moto's
    TransactWriteItems deep-copies the whole table, so each replayed commit costs more the more is stored.

Seeding: the product's own submission code (bdpilot.intake.submission.submit) against the run's storage, after the two
PDFs are put into uploads/ as the browser's presigned POST puts them: the same storage writes as a post through
the API (its HTTP layer adds none), recorded by the run like any other. Sequential, as the run serializes calls.

Run: python -m bench.local_restart [--submissions 500] [--killed 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import boto3
import requests

from tests.factories import PDF, application, attachments, idempotency_key, uscc
from tests.live import LiveRun, build_site, start_live, stop_live

SITE = Path(__file__).resolve().parent.parent / "site"


def seed(run: LiveRun, first: int, count: int) -> None:
    """`count` submissions stored through bdpilot.intake.submission, as the handler stores them."""
    from bdpilot import settings
    from bdpilot.domain import campaign, clock, tokens
    from bdpilot.intake import submission

    store = run.store()
    # Every other setting as the local run has it; the run's own secret, so its form tokens check.
    deadline = (clock.now() + timedelta(days=30)).isoformat()
    cfg = replace(settings.Settings.from_env({
        "BDPILOT_TABLE": store.table, "BDPILOT_BUCKET": store.bucket, "BDPILOT_UNITS_TABLE": store.units_table,
        "BDPILOT_DEADLINE": deadline, "BDPILOT_MIN_FILL_SECONDS": "0", "BDPILOT_STAGE": "local",
        "BDPILOT_SECRET": "bench-seeding-only-0123456789abcdef"}), secret=(run.data_dir / "secret").read_bytes())
    for i in range(first, first + count):
        now = clock.now()
        token = tokens.issue(cfg.secret, now)
        ids = [f"{i:016x}{'a' * 16}", f"{i:016x}{'b' * 16}"]
        for upload_id in ids:
            store.s3.put_object(Bucket=store.bucket, Key=f"uploads/{upload_id}", Body=PDF,
                                ContentType="application/pdf", Metadata={"owner": submission.owner_of(token)})
        recommender = campaign.RECOMMENDERS[i % len(campaign.RECOMMENDERS)].name
        app = application(cover={"direction": campaign.DIRECTIONS[i % len(campaign.DIRECTIONS)].number,
                                 "recommender": recommender, "project_name": f"大数据试点示范项目{i}"},
                          applicant={"uscc": uscc(100000 + i)}, attachments=attachments(*ids))
        accepted = submission.submit(store, cfg, now, submission.Envelope(app, token, ""), idempotency_key())
        assert accepted.outcome == "stored", accepted


def timed_start(site: Path, data: Path) -> tuple[float, LiveRun]:
    """Seconds from spawning `bdpilot serve` until GET /api/campaign answers."""
    started = time.perf_counter()
    run = start_live(site, data)
    requests.get(run.url + "api/campaign", timeout=30).raise_for_status()
    return time.perf_counter() - started, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--killed", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    boto3.setup_default_session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")

    work = Path(tempfile.mkdtemp(prefix="bench-local-restart-"))
    try:
        site = SITE if (SITE / "index.html").exists() else build_site(work / "site")
        stored = work / "stored"
        _, run = timed_start(site, stored)
        started = time.perf_counter()
        try:
            seed(run, 0, args.submissions)
        finally:
            stop_live(run)
        print(f"  seeded {args.submissions} submissions in {time.perf_counter() - started:.1f}s", file=sys.stderr)

        empty_times, stored_times, stop_times = [], [], []
        for n in range(args.rounds):  # interleaved, so drift in machine load hits both alike
            elapsed, run = timed_start(site, work / f"empty-{n}")
            stop_live(run)
            empty_times.append(elapsed)
            elapsed, run = timed_start(site, stored)
            try:
                count = sum(1 for _ in run.store().query("time"))
                assert count == args.submissions, f"{count} of {args.submissions} submissions after a restart"
            finally:
                stopping = time.perf_counter()
                stop_live(run)
                stop_times.append(time.perf_counter() - stopping)
            stored_times.append(elapsed)
        empty, full = statistics.median(empty_times), statistics.median(stored_times)

        # (b) a run killed after storing more: its writes are replayed once on the next start.
        _, run = timed_start(site, stored)
        seed(run, args.submissions, args.killed)
        run.process.send_signal(signal.SIGKILL)
        run.process.wait(timeout=10)
        writes = sum(len(p.read_text().splitlines()) - 1 for p in (stored / "writes").glob("*.jsonl"))
        after_kill, run = timed_start(site, stored)
        try:
            count = sum(1 for _ in run.store().query("time"))
            assert count == args.submissions + args.killed, f"{count} submissions after the kill"
        finally:
            stop_live(run)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ratio = full / empty
    print(f"(a) start  empty {empty:6.2f} s  vs  {args.submissions} stored submissions {full:6.2f} s   "
          f"ratio {ratio:.2f}  (target ≤ 2.00)  [{args.rounds} rounds, medians; a clean stop, state written, "
          f"{statistics.median(stop_times):.2f} s]")
    print(f"(b) start after a kill with {args.killed} more unfolded ({writes} writes replayed once) {after_kill:6.2f} s"
          f"   ratio to empty {after_kill / empty:.2f}  (for information)")
    return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
