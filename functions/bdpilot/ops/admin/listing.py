"""`admin list` and `admin stats`: what the index holds, without reading the records."""

from __future__ import annotations

import argparse
import csv
import json
from typing import Any, TextIO

from bdpilot.console.records import selection
from bdpilot.console.records.cells import csv_text
from bdpilot.domain import campaign, review, wording
from bdpilot.ops.admin.exits import OK, USAGE, AdminError
from bdpilot.ops.admin.target import Target
from bdpilot.ops.admin.terminal import clip, json_text, plain, print_table
from bdpilot.store.review import Reviews, UnitState


def _w(key: str, /, **params: Any) -> str:
    return wording.text(f"admin.{key}", **params)


def filters_from(args: argparse.Namespace) -> selection.Filters:
    try:
        since = selection.day_bound(args.since, end=False) if args.since else None
        until = selection.day_bound(args.until, end=True) if args.until else None
    except ValueError as exc:
        raise AdminError(USAGE, str(exc)) from exc
    if args.recommender and args.recommender.strip() == campaign.OTHER_RECOMMENDER:
        raise AdminError(USAGE, _w("filters.other_recommender", other=campaign.OTHER_RECOMMENDER))
    if since and until and since > until:
        raise AdminError(USAGE, _w("filters.empty_range"))
    return selection.Filters(direction=args.direction, recommender=args.recommender, since=since, until=until,
                             status=args.status, newest_first=getattr(args, "desc", False))


def list_headers() -> list[str]:
    w = wording.section("admin.list")
    return [wording.text("common.reference"), wording.text("common.received_at"), w["direction"], w["recommender"],
            w["unit"], w["project"], w["status"], w["attachments"]]


def _list_row(item: dict[str, Any]) -> list[str]:
    status = str(item.get("status") or "")
    shown = review.status_label(status)
    return [plain(item.get("reference")), plain(item.get("received_at"))[:19].replace("T", " "),
            plain(item.get("direction")), plain(item.get("recommender")), plain(item.get("unit_name")),
            plain(item.get("project_name")), shown if shown != status else plain(status),
            plain(item.get("attachments"))]


def cmd_list(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    filters = filters_from(args)
    items = target.each(selection.select(target.store, filters), _w("reading.index"))
    rows: list[list[str]] = []
    writer = csv.writer(out) if args.format == "csv" else None
    if writer:
        writer.writerow(list_headers())
    n = 0
    for item in items:
        if args.limit and n >= args.limit:
            break
        n += 1
        if args.format == "json":
            print(json_text(json.dumps(item, ensure_ascii=False, sort_keys=True), out), file=out)
        elif writer:
            writer.writerow([csv_text(v) for v in _list_row(item)])
        else:
            row = _list_row(item)
            rows.append([row[0], row[1], row[2], clip(row[3], 16), clip(row[4], 24), clip(row[5], 30), row[6],
                         row[7]])
    if args.format == "table":
        if rows:
            print_table(list_headers(), rows, out)
        cut = _w("list.cut") if args.limit and n >= args.limit else ""
        print(_w("list.total", n=n, filters=filters.describe(), cut=cut), file=out)
    return OK


def _states(target: Target, uses: list[Any]) -> dict[str, UnitState]:
    """Each listed unit's review state (拟推荐 counter, submitted): one BatchGetItem per 100 units. A name typed
    by an applicant is no unit's list: it has none."""
    with target.aws(_w("reading.index")):
        return Reviews(target.store.dynamodb, target.store.units_table).states(
            [u.recommender for u in uses if u.listed])


def cmd_stats(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    filters = filters_from(args)
    totals = selection.Stats()
    for item in target.each(selection.select(target.store, filters), _w("reading.index")):
        totals.add(item)
    uses = totals.quota_rows(every_listed=args.all)
    states = _states(target, uses)
    if args.format == "json":
        print(json_text(json.dumps({
            "total": totals.total,
            "directions": [{"direction": d.number, "label": d.label, "count": totals.directions.get(d.number, 0)}
                           for d in campaign.DIRECTIONS],
            "recommenders": [{"recommender": u.recommender, "kind": u.kind.value, "count": u.count,
                              "quota": u.quota, "over": u.over}
                             | ({"proposed": states[u.recommender].proposed,
                                 "submitted": states[u.recommender].submitted} if u.listed else {})
                             for u in uses],
        }, ensure_ascii=False, indent=2), out), file=out)
        return OK
    table = wording.section("admin.table")
    words = wording.section("review.admin")
    print(_w("stats.header", filters=filters.describe(), total=totals.total), file=out)
    print_table([table["direction"], table["count"]], [[label, str(n)] for label, n in totals.direction_rows()],
                out)
    print(file=out)
    # The listed units with 拟推荐 against the quota beside what they received; units named in free text are
    # nobody's verified unit (and have no list): their own table, after the listed ones.
    # A listed unit may receive more than its quota: what it may not exceed is 拟推荐, which the review's own
    # transaction bounds. So no "over" column here: receiving many is normal, never a fault to report.
    listed = [[clip(u.recommender, 30), str(u.count), str(states[u.recommender].proposed), str(u.quota),
               words["submitted_yes"] if states[u.recommender].submitted else ""] for u in uses if u.listed]
    if listed:
        print_table([table["recommender"], table["count"], review.status_label(review.PROPOSED), table["quota"],
                     words["submitted"]],
                    listed, out)
    unlisted = [[clip(u.recommender, 30), str(u.count), str(u.quota), table["over_yes"] if u.over else ""]
                for u in uses if not u.listed]
    if unlisted:
        print(_w("stats.unlisted", unlisted=campaign.UNLISTED_RECOMMENDER), file=out)
        print_table([table["recommender"], table["count"], table["quota"], table["over"]], unlisted, out)
    over = [u for u in uses if u.over and not u.listed]
    print(_w("stats.over", n=len(over)) if over else _w("stats.none_over"), file=out)
    submitted = sum(states[u.recommender].submitted for u in uses if u.listed)
    print(wording.text("review.admin.summary", submitted=submitted, open=len(listed) - submitted), file=out)
    return OK
