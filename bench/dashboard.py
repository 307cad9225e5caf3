"""MIIT's dashboard benchmark (issue 13: progress of every unit, 拟推荐 against quota, submitted or not).

The units table is seeded in moto (mock_aws, in this process, as the tests use it) with 10,000 submissions over
45 units (the first 45 regional 推荐单位), each unit with its quota proposed, some returned and rejected, and its
#UNIT state item (every third unit submitted), written as store/review writes them. Then, in one run:
  progress   Reviews.progress(the 45 units)  vs  the bare queries it needs: one Query per unit (status and
             direction projected, every page) + one BatchGetItem of the 45 #UNIT items;
  console    GET /staff/progress through console.app.handler with a signed-in MIIT session (session and account
             reads, the page's progress over every listed unit, the HTML)  vs  the same bare queries over those
             units (only when the console's dashboard exists).
  time        median time / median bare time                                                (target ≤ 1.5)
  items read  items DynamoDB read (ScannedCount of each Query, each item a GetItem or BatchGetItem returned)
              / those the bare queries read                                                  (target ≤ 1.5)

Run: python -m bench.dashboard [--submissions 10000] [--units 45] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from importlib.util import find_spec
from typing import Any

import boto3
from moto import mock_aws

from bench import stackenv
from bench.reads import counting
from bench.staff import session_cookie


def seed(dynamodb: Any, table: str, units: list[str], count: int) -> None:
    """`count` unit items spread round-robin over `units`; per unit the first `quota` proposed (ranked), the
    next two returned and rejected; each unit's #UNIT item with its counter (every third submitted)."""
    from bdpilot.domain import campaign

    start = campaign.DEADLINE - timedelta(days=30)
    seen: dict[str, int] = {}
    batch: list[dict[str, Any]] = []

    def put(item: dict[str, Any]) -> None:
        nonlocal batch
        batch.append({"PutRequest": {"Item": {k: {"N": str(v)} if isinstance(v, int) else {"S": v}
                                              for k, v in item.items()}}})
        if len(batch) == 25:
            dynamodb.batch_write_item(RequestItems={table: batch})
            batch = []

    for i in range(count):
        unit = units[i % len(units)]
        n = seen[unit] = seen.get(unit, 0) + 1
        quota = campaign.quota_for(unit)
        at = (start + timedelta(seconds=7 * i)).astimezone(campaign.TZ).isoformat(timespec="milliseconds")
        item: dict[str, Any] = {"unit": unit, "reference": f"BD2020-{i:016X}", "received_at": at,
                                "direction": str(1 + i % 7), "applicant": f"示例大数据科技有限公司{i}",
                                "uscc": f"91110000{i:010d}", "project": f"工业大数据平台{i}", "status": "received",
                                "digest": f"{i:064x}"}
        if n <= quota:
            item |= {"status": "proposed", "rank": n, "opinion": "推荐", "rev": 1}
        elif n <= quota + 2:
            item |= {"status": "returned" if n == quota + 1 else "rejected", "reason": "理由", "rev": 1}
        put(item)
    for k, unit in enumerate(units):
        put({"unit": unit, "reference": "#UNIT", "proposed": min(seen.get(unit, 0), campaign.quota_for(unit)),
             "submitted": int(k % 3 == 0)})
    if batch:
        dynamodb.batch_write_item(RequestItems={table: batch})


def bare(client: Any, table: str, units: list[str]) -> Callable[[], None]:
    """The queries the dashboard needs, written directly."""
    def run() -> None:
        for unit in units:
            kwargs: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "#u = :u",
                                      "ProjectionExpression": "#s, #d",
                                      "ExpressionAttributeNames": {"#u": "unit", "#s": "status", "#d": "direction"},
                                      "ExpressionAttributeValues": {":u": {"S": unit}}}
            while True:
                page = client.query(**kwargs)
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for start in range(0, len(units), 100):
            keys = [{"unit": {"S": u}, "reference": {"S": "#UNIT"}} for u in units[start:start + 100]]
            client.batch_get_item(RequestItems={table: {"Keys": keys}})
    return run


def miit_cookie(now: Any) -> str:
    """A MIIT account, signed in: the session cookie's value."""
    return session_cookie(now, "miit@example.gov.cn", "工信部", "miit", None)


def measure(rounds: int, reads: dict[str, int], subject: Callable[[], None],
            baseline: Callable[[], None]) -> dict[str, float]:
    def once(fn: Callable[[], None]) -> tuple[float, int]:
        before = reads["items"]
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started, reads["items"] - before

    subject(), baseline()  # warm: imports, the catalogue, the session's first touch
    times: dict[str, list[float]] = {"subject": [], "bare": []}
    items: dict[str, int] = {}
    for _ in range(rounds):  # interleaved, so drift in machine load hits both alike
        for name, fn in (("subject", subject), ("bare", baseline)):
            spent, read = once(fn)
            times[name].append(spent)
            items[name] = read
    return {"subject": statistics.median(times["subject"]), "bare": statistics.median(times["bare"]),
            "subject_items": items["subject"], "bare_items": items["bare"]}


def run(submissions: int, unit_count: int, rounds: int) -> bool:
    from bdpilot.console import services
    from bdpilot.domain import campaign, clock
    from bdpilot.ops import stack
    from bdpilot.store.review import Reviews

    units = [r.name for r in campaign.RECOMMENDERS][:unit_count]
    ok = True
    with mock_aws():
        out = stack.create_stack(boto3.Session(), stack_name="bench-dashboard")
        stackenv.use(out)
        services.reset()
        table = out["UnitsTableName"]
        started = time.perf_counter()
        seed(boto3.client("dynamodb"), table, units, submissions)
        print(f"  seeded {submissions} over {len(units)} units in {time.perf_counter() - started:.1f}s",
              file=sys.stderr)
        client = boto3.client("dynamodb")
        reads = counting(client)
        reviews = Reviews(client, table)
        progress = reviews.progress(units)
        assert sum(t.total for t, _ in progress.values()) == submissions

        def dashboard() -> None:
            reviews.progress(units)

        cases: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
            ("progress", dashboard, bare(client, table, units))]
        if find_spec("bdpilot.console.progress") is not None:
            from bdpilot.console import app, auth
            from bdpilot.console.access import listed_units
            from bdpilot.ops.local import rest_event

            svc = services.current()
            console_reads = counting(svc.reviews.dynamodb)
            event = rest_event("GET", "/staff/progress",
                               headers={"Cookie": f"{auth.COOKIE}={miit_cookie(clock.now())}"})

            def page() -> None:
                answer = app.handler(event, None)
                assert answer["statusCode"] == 200 and units[0] in answer["body"], answer["statusCode"]

            reads_both = {"items": 0}

            def tracked(fn: Callable[[], None]) -> Callable[[], None]:
                def call() -> None:
                    before = console_reads["items"] + reads["items"]
                    fn()
                    reads_both["items"] += console_reads["items"] + reads["items"] - before
                return call

            cases.append(("console", tracked(page), tracked(bare(client, table, listed_units()))))
        print(f"{'what':>8}  {'units':>5}  {'time':>9}  {'bare':>9}  {'time ratio':>10}  {'items read':>10}  "
              f"{'bare read':>9}  {'items ratio':>11}")
        for name, subject, baseline in cases:
            counter = reads if name == "progress" else reads_both
            r = measure(rounds, counter, subject, baseline)
            time_ratio, items_ratio = r["subject"] / r["bare"], r["subject_items"] / r["bare_items"]
            ok &= time_ratio <= 1.5 and items_ratio <= 1.5
            shown = len(units) if name == "progress" else len(listed_units())
            print(f"{name:>8}  {shown:>5}  {r['subject'] * 1000:>7.1f}ms  {r['bare'] * 1000:>7.1f}ms  "
                  f"{time_ratio:>10.2f}  {r['subject_items']:>10.0f}  {r['bare_items']:>9.0f}  {items_ratio:>11.2f}")
        services.reset()
    print(f"dashboard / bare queries ≤ 1.5 in time and items read: {'yes' if ok else 'NO'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=10000)
    parser.add_argument("--units", type=int, default=45)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "BDPILOT_SECRET": "bench-secret"})
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
    return 0 if run(args.submissions, args.units, args.rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
