"""GET /staff/export?format=csv|xlsx: what the caller may see, through the streaming export `bdpilot admin` uses,
written to exports/<unit or all>/<time>.<ext> and answered with a 303 to a presigned GET (the function's own
answer stays a few hundred bytes, far below Lambda's 6 MB).

A unit account's export is its own partition of the units table (each reference's index item is then read by
key); MIIT exports a chosen unit the same way, or everything through the index by time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bdpilot.console import views
from bdpilot.console.access import chosen_unit, presigned, t
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.records import exporting
from bdpilot.console.records.selection import Filters
from bdpilot.domain import clock

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
ALL = "all"  # the exports/ folder of an export of every unit


def stamp() -> str:
    return clock.now().strftime("%Y%m%dT%H%M%S")


def unit_items(ctx: Context, unit: str) -> Iterator[dict[str, Any]]:
    """The unit's submissions (its own partition, page by page), each as its index item with the review status
    the unit's item holds; a reference whose index item is missing is still exported, and reported by the check."""
    cursor: str | None = None
    while True:
        items, cursor = ctx.services.units.list(unit, cursor, 200)
        for item in items:
            ref = str(item.get("reference") or "")
            index = ctx.services.reader.get_index(ref) or {"reference": ref, "received_at": item.get("received_at")}
            yield {**index, "status": item.get("status") or index.get("status")}
        if cursor is None:
            return


def write(ctx: Context, unit: str | None, fmt: str) -> tuple[str, str]:
    """The export written to S3: (its key, the time it was made, as in its name)."""
    reader = ctx.services.reader
    scope = t("export.scope_unit", unit=unit) if unit else t("export.scope_all")
    table = f"submissions.{fmt}"
    made = stamp()
    with tempfile.TemporaryDirectory(prefix="bdpilot-staff-") as tmp:
        dest = Path(tmp) / "export"
        exporting.export(reader, Filters(newest_first=True), dest, as_zip=False, attachments=False,
                         items=unit_items(ctx, unit) if unit else None, records=False, tables=(table,),
                         scope=scope, workers=4)
        key = reader.put_export(f"{unit or ALL}/{made}.{fmt}", str(dest / table))
    return key, made


@route("GET", "/staff/export")
def export(ctx: Context) -> Answer:
    fmt = ctx.request.query.get("format", "csv")
    unit = chosen_unit(ctx)
    if fmt not in CONTENT_TYPES or unit == "":
        return views.not_found(ctx)
    key, made = write(ctx, unit, fmt)
    ctx.audit("export", f"{unit or ALL}.{fmt}")
    filename = t("export.filename", scope=unit or t("export.scope_all"), stamp=made, ext=fmt)
    return presigned(ctx, key, filename, CONTENT_TYPES[fmt])
