"""GET /staff/recommended (MIIT): every submitted unit's projects with their 推荐意见, drawn from the 推荐汇总表s
as submitted (one BatchGetItem per 100 units: no per-project read); ?format=csv|xlsx exports the recommended
submissions through the export every console and admin export uses, delivered as a presigned GET.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bdpilot.console import views
from bdpilot.console.access import listed_units, presigned, t
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.exports import CONTENT_TYPES, stamp
from bdpilot.console.recommend import stored_summary
from bdpilot.console.records import exporting
from bdpilot.console.records.selection import Filters
from bdpilot.console.summary import headers, row_values
from bdpilot.console.views import escape

FOLDER = "recommended"  # exports/recommended/<time>.<ext>


def recommended(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    """(unit, row) of every submitted unit's summary, in campaign order of units and rank within each."""
    found = []
    for unit, state in ctx.services.reviews.states(listed_units()).items():
        summary = stored_summary(state)
        for row in (summary or {}).get("rows") or []:
            if isinstance(row, dict):
                found.append((unit, row))
    return found


def _items(ctx: Context, rows: list[tuple[str, dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for _, row in rows:
        ref = str(row.get("reference") or "")
        yield ctx.services.reader.get_index(ref) or {"reference": ref}


def _export(ctx: Context, fmt: str, rows: list[tuple[str, dict[str, Any]]]) -> Answer:
    reader = ctx.services.reader
    table, made = f"submissions.{fmt}", stamp()
    with tempfile.TemporaryDirectory(prefix="bdpilot-staff-") as tmp:
        dest = Path(tmp) / "export"
        items = ctx.services.units.current(_items(ctx, rows))  # with the review status, as every export
        exporting.export(reader, Filters(newest_first=True), dest, as_zip=False, attachments=False, items=items,
                         records=False, tables=(table,), scope=t("recommended.scope"), workers=4)
        key = reader.put_export(f"{FOLDER}/{made}.{fmt}", str(dest / table))
    ctx.audit("recommended_export", f"{FOLDER}.{fmt}")
    return presigned(ctx, key, t("recommended.filename", stamp=made, ext=fmt), CONTENT_TYPES[fmt])


@route("GET", "/staff/recommended", roles=("miit",))
def recommended_page(ctx: Context) -> Answer:
    rows = recommended(ctx)
    fmt = ctx.request.query.get("format")
    if fmt is not None:
        return _export(ctx, fmt, rows) if fmt in CONTENT_TYPES else views.not_found(ctx)
    if not rows:
        return views.page(ctx, t("recommended.title"), f'<p>{escape(t("recommended.empty"))}</p>')
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in [t("recommended.unit"), *headers()])
    body = []
    for unit, row in rows:
        values = [escape(v) for v in row_values(row)]
        values[1] = f'<a href="/staff/submissions/{values[1]}">{values[1]}</a>'
        body.append(f'<tr><th scope="row">{escape(unit)}</th>' + "".join(f"<td>{v}</td>" for v in values) + "</tr>")
    links = "".join(f'<li><a href="/staff/recommended?format={fmt}">{escape(t(f"export.{fmt}"))}</a></li>'
                    for fmt in CONTENT_TYPES)
    html = (f'<table class="staff-table"><caption>{escape(t("recommended.caption"))}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f'<h2>{escape(t("list.export_title"))}</h2><ul>{links}</ul>')
    return views.page(ctx, t("recommended.title"), html)
