"""Staff console list benchmark (issue 12: each 推荐单位 sees only its own applicants).

The units table is seeded in moto (mock_aws, in this process, as the tests use it) with N submissions for one unit
(河北省), for N = 1,000 and 10,000; then with N more spread over the other units. For each, one page of the unit's
list is fetched through the console (console.app.handler, GET /staff/ with a real signed-in session of a unit
account: the session and account reads, the quota line, the HTML) and compared with the bare DynamoDB Query the
page needs (the LSI by-time, Limit = the page size, newest first), both measured in this run:
  time        median handler time / median bare Query time                                   (target ≤ 1.5)
  items read  items DynamoDB read for the request (ScannedCount of each Query, 1 per GetItem hit) / those the
              bare Query read                                                                 (target ≤ 1.5)
Both for the first page and for a later one (reached by the page's own cursor). Flat in other units' submissions:
the same figures with and without them.

Run: python -m bench.console_list [--sizes 1000 10000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
from moto import mock_aws

from bench import stackenv
from bench.reads import counting
from bench.staff import session_cookie

UNIT = "河北省"


def seed(dynamodb: Any, table: str, units: list[str], count: int, offset: int) -> None:
    """`count` unit items (as writer.commit writes them) spread round-robin over `units`."""
    from bdpilot.domain import campaign

    start = campaign.DEADLINE - timedelta(days=30)
    batch: list[dict[str, Any]] = []
    for i in range(offset, offset + count):
        at = (start + timedelta(seconds=7 * i)).astimezone(campaign.TZ).isoformat(timespec="milliseconds")
        item = {"unit": units[i % len(units)], "reference": f"BD2020-{i:016X}", "received_at": at,
                "direction": str(1 + i % 8), "applicant": f"示例大数据科技有限公司{i}", "uscc": f"91110000{i:010d}",
                "project": f"工业大数据平台{i}", "status": "received", "digest": f"{i:064x}"}
        batch.append({"PutRequest": {"Item": {k: {"S": v} for k, v in item.items()}}})
        if len(batch) == 25:
            dynamodb.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        dynamodb.batch_write_item(RequestItems={table: batch})


def signed_in(now: Any) -> str:
    """A unit account of UNIT, signed in: the session cookie's value."""
    return session_cookie(now, "jingban@hebei.example.gov.cn", "经办人", "unit", UNIT)


def measure(rounds: int, cookie: str, cursor: str | None) -> dict[str, float]:
    from bdpilot.console import app, auth, services
    from bdpilot.console.access import PAGE_SIZE
    from bdpilot.ops.local import rest_event
    from bdpilot.store.layout import UNITS_BY_TIME
    from bdpilot.store.units import decode_cursor

    svc = services.current()
    client = svc.units.dynamodb
    reads = counting(client)
    event = rest_event("GET", "/staff/", headers={"Cookie": f"{auth.COOKIE}={cookie}"},
                       query=urlencode({"cursor": cursor}) if cursor else "")
    bare_kwargs: dict[str, Any] = {
        "TableName": svc.units.table, "IndexName": UNITS_BY_TIME, "KeyConditionExpression": "#u = :u",
        "ExpressionAttributeNames": {"#u": "unit"}, "ExpressionAttributeValues": {":u": {"S": UNIT}},
        "Limit": PAGE_SIZE, "ScanIndexForward": False}
    start_key = decode_cursor(cursor, UNIT)
    if start_key:
        bare_kwargs["ExclusiveStartKey"] = start_key

    def page() -> None:
        answer = app.handler(event, None)
        assert answer["statusCode"] == 200 and answer["body"].count("/staff/submissions/") == PAGE_SIZE, answer

    def bare() -> None:
        assert len(client.query(**bare_kwargs)["Items"]) == PAGE_SIZE

    def once(fn: Callable[[], None]) -> tuple[float, int]:
        before = reads["items"]
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started, reads["items"] - before

    for _ in range(3):  # warm: imports, the catalogue, the session's first touch
        page(), bare()
    times: dict[str, list[float]] = {"page": [], "bare": []}
    items: dict[str, int] = {}
    for _ in range(rounds):  # interleaved, so drift in machine load hits both alike
        for name, fn in (("page", page), ("bare", bare)):
            spent, read = once(fn)
            times[name].append(spent)
            items[name] = read
    client.meta.events.unregister("after-call.dynamodb", reads)  # harmless if absent
    return {"page": statistics.median(times["page"]), "bare": statistics.median(times["bare"]),
            "page_items": items["page"], "bare_items": items["bare"]}


def next_cursor(cookie: str) -> str:
    from html import unescape
    from urllib.parse import parse_qs

    from bdpilot.console import app, auth
    from bdpilot.ops.local import rest_event

    body = app.handler(rest_event("GET", "/staff/", headers={"Cookie": f"{auth.COOKIE}={cookie}"}), None)["body"]
    link = unescape(body.split('rel="next"')[0].rsplit('href="', 1)[-1].split('"')[0])
    return parse_qs(link.split("?", 1)[1])["cursor"][0]


def run(sizes: list[int], rounds: int) -> bool:
    from bdpilot.console import services
    from bdpilot.console.access import listed_units
    from bdpilot.domain import clock
    from bdpilot.ops import stack

    others = [u for u in listed_units() if u != UNIT]
    ok = True
    print(f"{'unit items':>10}  {'others':>7}  {'page':>6}  {'handler':>9}  {'bare Query':>10}  {'time ratio':>10}  "
          f"{'items read':>10}  {'bare read':>9}  {'items ratio':>11}")
    for size in sizes:
        with mock_aws():
            out = stack.create_stack(boto3.Session(), stack_name=f"bench-console-{size}")
            stackenv.use(out)
            services.reset()
            dynamodb = boto3.client("dynamodb")
            started = time.perf_counter()
            seed(dynamodb, out["UnitsTableName"], [UNIT], size, 0)
            cookie = signed_in(clock.now())
            for other_count in (0, size):
                if other_count:
                    seed(dynamodb, out["UnitsTableName"], others, other_count, size)
                print(f"  seeded {size} + {other_count} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
                for label, cursor in (("first", None), ("later", next_cursor(cookie))):
                    r = measure(rounds, cookie, cursor)
                    time_ratio, items_ratio = r["page"] / r["bare"], r["page_items"] / r["bare_items"]
                    ok &= time_ratio <= 1.5 and items_ratio <= 1.5
                    print(f"{size:>10}  {other_count:>7}  {label:>6}  {r['page'] * 1000:>7.1f}ms  "
                          f"{r['bare'] * 1000:>8.1f}ms  {time_ratio:>10.2f}  {r['page_items']:>10.0f}  "
                          f"{r['bare_items']:>9.0f}  {items_ratio:>11.2f}")
            services.reset()
    print(f"page / bare Query ≤ 1.5 in time and items read at every size, with and without other units' "
          f"submissions: {'yes' if ok else 'NO'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "BDPILOT_SECRET": "bench-secret"})
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
    return 0 if run(args.sizes, args.rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
