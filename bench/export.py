"""Admin export benchmark (issue: list, check and download the stored submissions).

For 1,000 and 10,000 submissions seeded straight into moto (records and index items written with boto3, no
attachments; the handler path is measured by bench/api.py):
  (a) wall time of `export` (to a folder, and to a ZIP) vs the bare reads it needs: the paginated index Query plus
      one S3 GET per record, nothing written (target ≤ 1.5); also shown against the same reads fetched with the
      export's read-ahead;
  (b) peak memory the export allocates (tracemalloc, above what is allocated when it starts), 10,000 vs 1,000
      (target ≤ 1.5: memory stays flat as submissions grow).

Two places for moto, each reported (--mode):
  in-process  mock_aws in this process, as the tests use it. moto's DynamoDB Query deep-copies every item of the
              partition on every page (by-time has one partition), so its own allocations grow with the table and
              dominate this process's peak; memory is therefore judged only in server mode.
  server      moto's server in a child process: storage is remote, as with AWS, and this process holds only the
              export and boto3.

Run: python -m bench.export [--sizes 1000 10000] [--rounds 3] [--mode both|server|in-process]
(10,000 in-process takes a while: moto's Query is quadratic in the table's size.)
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from tests.factories import application, uscc

WORKERS = 8  # the export's default read-ahead
_BASE = application()
LONG = (_BASE["project"]["summary"] * 400)[:400]  # 400 characters of the factory's own text


def _item(values: dict[str, str | int]) -> dict[str, Any]:
    return {k: {"N": str(v)} if isinstance(v, int) else {"S": str(v)} for k, v in values.items()}


def seed(table: str, bucket: str, count: int) -> None:
    """`count` stored submissions laid out exactly as intake.submission writes them (record.json + SUB# item)."""
    from bdpilot import store
    from bdpilot.domain import campaign, reference
    from bdpilot.intake.submission import canonical, digest

    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    start = campaign.DEADLINE - timedelta(days=10)
    recommenders = [r.name for r in campaign.RECOMMENDERS]
    batch: list[dict[str, Any]] = []
    for i in range(count):
        direction = campaign.DIRECTIONS[i % len(campaign.DIRECTIONS)].number
        recommender = recommenders[i % len(recommenders)]
        app = application(
            cover={"direction": direction, "recommender": recommender,
                   "project_name": f"{_BASE['cover']['project_name']}{i}"},
            applicant={"uscc": uscc(i), "name": f"{_BASE['applicant']['name']}{i}", "main_business": LONG},
            project={"summary": LONG},
            details={k: LONG for k in ("background", "solution", "innovation", "ip", "benefits", "demonstration",
                                       "security")},
        )
        ref = reference.reference_for(b"bench", str(i))
        received_at = (start + timedelta(seconds=30 * i)).astimezone(campaign.TZ).isoformat(timespec="milliseconds")
        data = canonical({"reference": ref, "received_at": received_at, "application": app, "files": []})
        sha = digest(data)
        s3.put_object(Bucket=bucket, Key=store.record_key(ref), Body=data, Metadata={"sha256": sha})
        batch.append({"PutRequest": {"Item": _item({
            "pk": f"SUB#{ref}", "reference": ref, "entity": "SUB", "received_at": received_at, "digest": sha,
            "status": "received", "direction": str(direction), "recommender": recommender,
            "unit_name": app["applicant"]["name"], "uscc": app["applicant"]["uscc"],
            "project_name": app["cover"]["project_name"], "attachments": 0})}})
        if len(batch) == 25 or i == count - 1:
            dynamodb.batch_write_item(RequestItems={table: batch})
            batch = []


def bare_reads(store: Any) -> int:
    """What an export cannot avoid: every index page and every record's bytes."""
    n = 0
    for item in store.query("time"):
        assert store.get_record(item["reference"]) is not None
        n += 1
    return n


def bare_reads_ahead(store: Any, workers: int = WORKERS) -> int:
    """The same reads, fetched the way the export fetches them (read-ahead in threads)."""
    from bdpilot.console.records import exporting

    n = 0
    for _, _, data in exporting.prefetch(store, store.query("time"), workers):
        assert data is not None
        n += 1
    return n


def run_export(store: Any, out: Path, *, as_zip: bool) -> int:
    from bdpilot.console.records import exporting, selection

    dest = out / ("e.zip" if as_zip else "e")
    report = exporting.export(store, selection.Filters(), dest, as_zip=as_zip, attachments=False, workers=WORKERS)
    assert not report.warnings.count, report.warnings.summary()
    return report.submissions


def timed(fn: Callable[[], int]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_above_start(fn: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of `fn` beyond what was allocated when it started."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


@contextmanager
def storage(in_process: bool, size: int) -> Iterator[Any]:
    """A Store on a fresh stack: in this process (mock_aws), or in a moto server of its own, so that the
    storage's own allocations and CPU are not the export's (as with AWS, where storage is remote)."""
    from bdpilot.ops import stack
    from bdpilot.store.reader import Reader as Store

    if in_process:
        with mock_aws():
            out = stack.create_stack(boto3.Session(), stack_name=f"bench-export-{size}")
            yield Store(out["TableName"], out["SubmissionsBucketName"], units_table=out["UnitsTableName"])
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = url
        out = stack.create_stack(boto3.Session(), endpoint_url=url, stack_name=f"bench-export-{size}")
        yield Store(out["TableName"], out["SubmissionsBucketName"], endpoint_url=url, units_table=out["UnitsTableName"])
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.terminate()
        server.wait(timeout=10)


def measure(size: int, rounds: int, *, in_process: bool) -> dict[str, float]:
    with storage(in_process, size) as store:
        started = time.perf_counter()
        seed(store.table, store.bucket, size)
        print(f"  seeded {size} submissions in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        assert bare_reads(store) == size
        work = Path(tempfile.mkdtemp(prefix="bench-export-"))
        try:
            times: dict[str, list[float]] = {"base": [], "ahead": [], "folder": [], "zip": []}
            for _ in range(rounds):  # interleaved, so drift in machine load hits all alike
                times["base"].append(timed(lambda: bare_reads(store)))
                times["ahead"].append(timed(lambda: bare_reads_ahead(store)))
                times["folder"].append(timed(lambda: run_export(store, work, as_zip=False)))
                shutil.rmtree(work / "e")
                times["zip"].append(timed(lambda: run_export(store, work, as_zip=True)))
                (work / "e.zip").unlink()
            result = {k: statistics.median(v) for k, v in times.items()}
            result["base_peak"] = peak_above_start(lambda: bare_reads(store))
            result["folder_peak"] = peak_above_start(lambda: run_export(store, work, as_zip=False))
            shutil.rmtree(work / "e")
            result["zip_peak"] = peak_above_start(lambda: run_export(store, work, as_zip=True))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return result


def report(results: dict[int, dict[str, float]], title: str, *, memory: bool) -> bool:
    mib = 1024 * 1024
    print(f"\n{title}")
    print(f"{'submissions':>11}  {'bare reads':>10}  {'read-ahead':>10}  {'export dir':>10}  {'export zip':>10}  "
          f"{'ratio dir':>9}  {'ratio zip':>9}  {'peak reads':>10}  {'peak dir':>9}  {'peak zip':>9}")
    for size, r in results.items():
        print(f"{size:>11}  {r['base']:>9.2f}s  {r['ahead']:>9.2f}s  {r['folder']:>9.2f}s  {r['zip']:>9.2f}s  "
              f"{r['folder'] / r['base']:>9.2f}  {r['zip'] / r['base']:>9.2f}  {r['base_peak'] / mib:>7.1f}MiB  "
              f"{r['folder_peak'] / mib:>6.1f}MiB  {r['zip_peak'] / mib:>6.1f}MiB")
    ok = all(max(r["folder"], r["zip"]) / r["base"] <= 1.5 for r in results.values())
    print(f"time: export / bare sequential reads ≤ 1.5 at every size: {'yes' if ok else 'NO'}"
          f"  (vs the same reads with read-ahead: "
          + ", ".join(f"{s}: {max(r['folder'], r['zip']) / r['ahead']:.2f}" for s, r in results.items()) + ")")
    if len(results) >= 2:
        small, large = min(results), max(results)
        for kind in ("folder", "zip"):
            growth = results[large][f"{kind}_peak"] / results[small][f"{kind}_peak"]
            print(f"memory ({kind}): peak at {large} / peak at {small} = {growth:.2f} (target ≤ 1.5)"
                  + ("" if memory else "  [in-process: includes moto's own per-page copies]"))
            ok &= growth <= 1.5 or not memory
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=["server", "in-process", "both"], default="both",
                        help="where moto runs (default: both, each reported)")
    args = parser.parse_args(argv)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)

    ok = True
    modes = ["in-process", "server"] if args.mode == "both" else [args.mode]
    for mode in modes:
        results = {}
        for size in args.sizes:
            print(f"measuring {size} submissions, moto {mode} ({args.rounds} rounds)…", file=sys.stderr)
            results[size] = measure(size, args.rounds, in_process=mode == "in-process")
        title = ("moto in this process (mock_aws)" if mode == "in-process"
                 else "moto server in its own process (storage remote, as on AWS)")
        ok &= report(results, title, memory=mode == "server")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
