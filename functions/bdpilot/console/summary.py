"""The 推荐汇总表 a unit submitted: GET /staff/recommend/summary (printable on A4: the console's print styles drop
the header and links, keep the table, the digest and a stamp box) and /staff/recommend/summary.xlsx (the same rows
and the same digest, written to S3 and answered with a presigned GET like every export).

Both draw the summary exactly as stored on the unit's #UNIT item when it was submitted (never recomputed), with
the digest stored beside it: the stamped paper letter, the spreadsheet and the system are checked against one
value. MIIT reads any unit's with ?unit=.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import openpyxl

from bdpilot.console import views
from bdpilot.console.access import chosen_unit, presigned, t
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.exports import CONTENT_TYPES, stamp
from bdpilot.console.recommend import stored_summary, summary_links
from bdpilot.console.records.cells import xlsx_text
from bdpilot.console.views import escape
from bdpilot.domain import formats, wording

COLUMNS = ("rank", "reference", "project", "direction", "applicant", "uscc", "total_investment", "opinion")
LABELS = {"rank": "staff.summary.rank", "reference": "common.reference", "project": "staff.summary.project",
          "direction": "staff.summary.direction", "applicant": "staff.summary.applicant",
          "uscc": "staff.summary.uscc",
          "total_investment": "staff.summary.investment", "opinion": "staff.summary.opinion"}


def headers() -> list[str]:
    return [wording.text(LABELS[c]) for c in COLUMNS]


def row_values(row: dict[str, Any]) -> list[str]:
    """A summary row as text, in COLUMNS order: what the page prints and the XLSX holds."""
    return [str(row.get(c) if row.get(c) is not None else "") for c in COLUMNS]


def _loaded(ctx: Context) -> tuple[str, Any, dict[str, Any] | None] | None:
    unit = chosen_unit(ctx)
    if not unit:  # a unit account without a unit, or MIIT without ?unit=
        return None
    state = ctx.services.reviews.state(unit)
    return unit, state, stored_summary(state)


def _facts(unit: str, state: Any, summary: dict[str, Any]) -> list[str]:
    rows = summary.get("rows") or []
    return [t("summary.unit", unit=unit), t("summary.date", at=formats.beijing_time(str(state.submitted_at or ""))),
            t("summary.count", count=len(rows), quota=summary.get("quota", ""))]


def _digest_line(state: Any) -> str:
    return wording.text("apply.pair", label=wording.text("common.digest"), value=str(state.summary_digest or ""))


@route("GET", "/staff/recommend/summary")
def printable(ctx: Context) -> Answer:
    loaded = _loaded(ctx)
    if loaded is None:
        return views.not_found(ctx)
    unit, state, summary = loaded
    back = f'/staff/recommend{"?unit=" + unit if ctx.staff and ctx.staff.role == "miit" else ""}'
    if summary is None:
        return views.page(ctx, t("summary.title"), views.message(t("summary.not_submitted"))
                          + f'<p><a href="{escape(back)}">{escape(t("recommend.title"))}</a></p>')
    ctx.audit("summary_view", unit)
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers())
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row_values(r)) + "</tr>"
                   for r in summary.get("rows") or [] if isinstance(r, dict))
    facts = "".join(f"<p>{escape(line)}</p>" for line in _facts(unit, state, summary))
    html = (f'<div class="staff-noprint"><p>{escape(t("summary.print"))}</p>'
            f'{summary_links(unit, ctx.staff is not None and ctx.staff.role == "miit")}'
            f'<p><a href="{escape(back)}">{escape(t("recommend.title"))}</a></p></div>'
            f'<article class="staff-summary"><h2>{escape(t("summary.heading"))}</h2>{facts}'
            f'<table class="staff-table staff-summary-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table>'
            f'<p class="staff-digest">{escape(_digest_line(state))}</p>'
            f'<p>{escape(t("summary.digest_note", digest=wording.text("common.digest")))}</p>'
            f'<div class="staff-stamp"><p>{escape(t("summary.stamp"))}</p>'
            f'<p>{escape(t("summary.stamp_date"))}</p></div></article>')
    return views.page(ctx, t("summary.title"), html)


def _number(text: str) -> Decimal | str:
    """The investment as a number in the spreadsheet when it is one (a decimal string as stored)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return value if value.is_finite() else text


def _cell(sheet: Any, row: int, column: int, value: Any) -> None:
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = xlsx_text(value)
        cell.data_type = "s"  # never a formula, whatever the text starts with (openpyxl reads "=" as one)
    else:
        cell.value = value


def workbook(unit: str, state: Any, summary: dict[str, Any], path: Path) -> None:
    """The 推荐汇总表 as an XLSX: heading, the unit's facts, the rows, the digest in its own cell."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = t("summary.sheet")
    lines: list[list[Any]] = [[t("summary.heading")], *[[fact] for fact in _facts(unit, state, summary)], [],
                              headers()]
    for r in summary.get("rows") or []:
        if isinstance(r, dict):
            values: list[Any] = row_values(r)
            values[COLUMNS.index("total_investment")] = _number(values[COLUMNS.index("total_investment")])
            values[0] = int(values[0]) if values[0].isdigit() else values[0]
            lines.append(values)
    lines += [[], [wording.text("common.digest"), str(state.summary_digest or "")]]
    for number, line in enumerate(lines, start=1):
        for column, value in enumerate(line, start=1):
            _cell(sheet, number, column, value)
    widths = (6, 24, 36, 24, 30, 22, 16, 50)
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].width = width
    book.save(path)


@route("GET", "/staff/recommend/summary.xlsx")
def spreadsheet(ctx: Context) -> Answer:
    loaded = _loaded(ctx)
    if loaded is None:
        return views.not_found(ctx)
    unit, state, summary = loaded
    if summary is None:
        return views.not_found(ctx)
    made = stamp()
    with tempfile.TemporaryDirectory(prefix="bdpilot-staff-") as tmp:
        path = Path(tmp) / "summary.xlsx"
        workbook(unit, state, summary, path)
        key = ctx.services.reader.put_export(f"{unit}/summary-{made}.xlsx", str(path))
    ctx.audit("summary_download", unit)
    return presigned(ctx, key, t("summary.filename", unit=unit, stamp=made), CONTENT_TYPES["xlsx"])
