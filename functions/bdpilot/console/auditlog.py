"""GET /staff/audit (MIIT only): the audit trail, newest first, paged; ?format=csv exports the chosen days as a
CSV whose cells are formula-safe (`records.cells.csv_text`), delivered like every export (S3, presigned GET).
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bdpilot.console import views
from bdpilot.console.access import PAGE_SIZE, presigned, t
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.exports import stamp
from bdpilot.console.records.cells import csv_text
from bdpilot.console.views import escape
from bdpilot.domain import formats, review, wording

COLUMNS = ("time", "actor", "role", "unit", "action", "target", "address", "outcome")
DAY_CHOICES = (7, 30, 90, 400)


def _days(ctx: Context) -> int:
    try:
        days = int(ctx.request.query.get("days", "7"))
    except ValueError:
        return DAY_CHOICES[0]
    return days if days in DAY_CHOICES else DAY_CHOICES[0]


def _action(catalogue: dict[str, str], action: str) -> str:
    """An action in words; a decision (decide_<status>) names the status as the review's catalogue does."""
    status = action.removeprefix("decide_")
    if status != action and status in review.STATUSES:
        return t("audit.actions.decided", status=review.status_label(status))
    return catalogue.get(f"staff.audit.actions.{action}", action)


def cells(event: dict[str, Any]) -> list[str]:
    """One event as the page and the CSV show it: the time in Beijing time, the action and role in words."""
    at = str(event.get("at") or "").split("#")[0]
    catalogue = wording.catalogue()
    action, role = str(event.get("action") or ""), str(event.get("role") or "")
    return [formats.beijing_time(at), str(event.get("actor") or ""),
            catalogue.get(f"staff.audit.roles.{role}", role), str(event.get("unit") or ""),
            _action(catalogue, action), str(event.get("target") or ""),
            str(event.get("address") or ""), str(event.get("outcome") or "")]


def _csv(ctx: Context, days: int) -> Answer:
    made = stamp()
    with tempfile.TemporaryDirectory(prefix="bdpilot-staff-") as tmp:
        path = Path(tmp) / "audit.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            out = csv.writer(handle)
            out.writerow([t(f"audit.{c}") for c in COLUMNS])
            cursor: str | None = None
            while True:
                events, cursor = ctx.services.audit.recent(days, 500, cursor)
                out.writerows([csv_text(c) for c in cells(e)] for e in events)
                if cursor is None:
                    break
        key = ctx.services.reader.put_export(f"audit/{made}.csv", str(path))
    ctx.audit("audit_export", t("audit.days", days=days))
    return presigned(ctx, key, t("export.audit_filename", stamp=made), "text/csv; charset=utf-8")


@route("GET", "/staff/audit", roles=("miit",))
def audit_log(ctx: Context) -> Answer:
    days = _days(ctx)
    if ctx.request.query.get("format") == "csv":
        return _csv(ctx, days)
    cursor = ctx.request.query.get("cursor") or None
    events, following = ctx.services.audit.recent(days, PAGE_SIZE, cursor)
    current = ' aria-current="page"'
    choices = "".join(f'<li><a href="/staff/audit?days={d}"{current if d == days else ""}>'
                      f'{escape(t("audit.days", days=d))}</a></li>' for d in DAY_CHOICES)
    parts = [f'<p><a href="/staff/">{escape(t("detail.back"))}</a></p>',
             f'<nav aria-label="{escape(t("audit.title"))}"><ul>{choices}</ul></nav>',
             f'<p><a href="/staff/audit?{escape(urlencode({"days": days, "format": "csv"}))}">'
             f'{escape(t("export.csv"))}</a></p>']
    if events:
        head = "".join(f'<th scope="col">{escape(t(f"audit.{c}"))}</th>' for c in COLUMNS)
        rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells(e)) + "</tr>" for e in events)
        parts.append(f'<table class="staff-table"><caption>{escape(t("audit.caption"))}</caption>'
                     f'<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>')
    else:
        parts.append(f'<p>{escape(t("audit.empty"))}</p>')
    parts.append(views.pager(f"/staff/audit?days={days}" if cursor else None,
                             f"/staff/audit?{urlencode({'days': days, 'cursor': following})}" if following else None))
    return views.page(ctx, t("audit.title"), "".join(parts))
