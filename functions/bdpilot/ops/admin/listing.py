"""`admin list` and `admin stats`: what the index holds, without reading the records."""

from __future__ import annotations

import argparse
import csv
import json
from typing import Any, TextIO

from bdpilot.console.records import selection
from bdpilot.console.records.cells import csv_text, status_label
from bdpilot.domain import campaign, wording
from bdpilot.ops.admin.exits import OK, USAGE, AdminError
from bdpilot.ops.admin.target import Target
from bdpilot.ops.admin.terminal import clip, json_text, plain, print_table


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
    shown = status_label(status)
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


def cmd_stats(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    filters = filters_from(args)
    totals = selection.Stats()
    for item in target.each(selection.select(target.store, filters), _w("reading.index")):
        totals.add(item)
    if args.format == "json":
        print(json_text(json.dumps({
            "total": totals.total,
            "directions": [{"direction": d.number, "label": d.label, "count": totals.directions.get(d.number, 0)}
                           for d in campaign.DIRECTIONS],
            "recommenders": [{"recommender": u.recommender, "kind": u.kind.value, "count": u.count,
                              "quota": u.quota, "over": u.over} for u in totals.quota_rows(every_listed=args.all)],
        }, ensure_ascii=False, indent=2), out), file=out)
        return OK
    table = wording.section("admin.table")
    print(_w("stats.header", filters=filters.describe(), total=totals.total), file=out)
    print_table([table["direction"], table["count"]], [[label, str(n)] for label, n in totals.direction_rows()],
                out)
    print(file=out)
    uses = totals.quota_rows(every_listed=args.all)
    # Units named in free text are nobody's verified unit: their own table, after the listed ones.
    for listed in (True, False):
        rows = [[clip(u.recommender, 30), str(u.count), str(u.quota), table["over_yes"] if u.over else ""]
                for u in uses if u.listed is listed]
        if rows and not listed:
            print(_w("stats.unlisted", unlisted=campaign.UNLISTED_RECOMMENDER), file=out)
        if rows:
            print_table([table["recommender"], table["count"], table["quota"], table["over"]], rows, out)
    over = [u for u in uses if u.over]
    print(_w("stats.over", n=len(over)) if over else _w("stats.none_over"), file=out)
    return OK
