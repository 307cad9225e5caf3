"""GET /staff/: the caller's applicants, newest first, paged by cursor, searchable by name or USCC.

A unit account lists its own partition of the units table (a key condition on its unit). MIIT chooses a unit
(the same query) or sees all (the submissions index by time, through the reader). The unit's count against its
quota heads the first page (of the list or of a search); later pages do not repeat it.

A page costs the one Query it shows (bench/console_list.py holds it to ≤ 1.5× the bare Query): the quota line
never counts the whole partition. On the list's first page the page itself tells (no next page: it holds them
all; a next page: more than a page, which is more than any quota); on a search's, one COUNT of at most quota + 1
items does; a later page shows no count and costs exactly its Query. MIIT's
unit chooser lists names only (counting ~140 partitions on every load would cost more than the page).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bdpilot.console import views
from bdpilot.console.access import PAGE_SIZE, chosen_unit, direction_text, is_miit, listed_units, t
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.views import escape
from bdpilot.domain import campaign, formats, review, wording
from bdpilot.store.units import encode_cursor

MAX_QUERY = 64  # a name or USCC fragment; longer text is cut, never sent whole to a filter
STATUS_PAGES = 5  # pages of 200 read for one page of a status filter (a unit holds far fewer)
ALL_SEARCH_LIMIT = PAGE_SIZE


def row(item: dict[str, Any]) -> dict[str, str]:
    """An item of the units table or of the submissions index, in the list's terms."""
    return {
        "reference": str(item.get("reference") or ""),
        "applicant": str(item.get("applicant") or item.get("unit_name") or ""),
        "project": str(item.get("project") or item.get("project_name") or ""),
        "direction": direction_text(item.get("direction")),
        "status": review.status_label(str(item.get("status") or "")),
        "received_at": formats.beijing_time(item.get("received_at") or ""),
        "unit": str(item.get("unit") or item.get("recommender") or ""),
    }


def _search_all(ctx: Context, text: str) -> list[dict[str, Any]]:
    """MIIT looking across every unit: the index by time, newest first, up to one page of matches."""
    found: list[dict[str, Any]] = []
    upper = text.upper()
    for item in ctx.services.reader.query("time", newest_first=True):
        if text in str(item.get("unit_name") or "") or str(item.get("uscc") or "").startswith(upper):
            found.append(item)
            if len(found) >= ALL_SEARCH_LIMIT:
                break
    return found


def _chooser(unit: str | None) -> str:
    options = [f'<option value=""{"" if unit else " selected"}>{escape(t("list.all_units"))}</option>']
    for name in listed_units():
        chosen = " selected" if name == unit else ""
        options.append(f'<option value="{escape(name)}"{chosen}>{escape(name)}</option>')
    return (f'<form method="get" action="/staff/"><div class="staff-field"><label for="unit">'
            f'{escape(t("list.unit_label"))}</label><select id="unit" name="unit">{"".join(options)}</select></div>'
            f'<button type="submit">{escape(t("list.choose"))}</button></form>')


def _quota(ctx: Context, unit: str, whole: tuple[int, bool] | None) -> str:
    """The unit's count against its quota. `whole` is (items, a next page follows) of the unfiltered first page
    when this is one; otherwise one COUNT of at most quota + 1 items: exact up to the quota, "at least" beyond."""
    kind = campaign.RECOMMENDER_KINDS[campaign.recommender_kind(unit)]
    if whole is not None and (not whole[1] or whole[0] > kind.quota):
        count, at_least = whole
    else:
        count = ctx.services.units.count(unit, upto=kind.quota + 1)
        at_least = count > kind.quota
    text = t("list.quota_more" if at_least else "list.quota", count=count, quota=kind.quota, kind=kind.name)
    over = f'<p><strong>{escape(t("list.over_quota"))}</strong></p>' if count > kind.quota else ""
    proposed = t("list.proposed_line", proposed=ctx.services.reviews.state(unit).proposed, quota=kind.quota)
    return f'<div class="staff-notice"><p>{escape(text)}</p><p>{escape(proposed)}</p>{over}</div>'


def _by_status(ctx: Context, unit: str, status: str, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the unit's submissions in one review status, newest first: the unit's own partition read page
    by page (at most STATUS_PAGES pages per request) and kept by status; the cursor continues right after the
    last item shown."""
    found: list[dict[str, Any]] = []
    for _ in range(STATUS_PAGES):
        items, following = ctx.services.units.list(unit, cursor, 200)
        for item in items:
            if str(item.get("status") or "received") == status:
                found.append(item)
                if len(found) == PAGE_SIZE:
                    last = {k: {"S": str(item[k])} for k in ("unit", "reference", "received_at")}
                    more = item is not items[-1] or following is not None
                    return found, encode_cursor(last) if more else None
        if following is None:
            return found, None
        cursor = following
    return found, cursor


def _status_form(unit: str | None, status: str, miit: bool) -> str:
    keep = f'<input type="hidden" name="unit" value="{escape(unit)}">' if miit and unit else ""
    options = [f'<option value="">{escape(t("list.status_all"))}</option>']
    options += [f'<option value="{s}"{" selected" if s == status else ""}>{escape(review.status_label(s))}</option>'
                for s in review.STATUSES]
    return (f'<form method="get" action="/staff/">{keep}<div class="staff-field">'
            f'<label for="status">{escape(t("list.status_label"))}</label>'
            f'<select id="status" name="status">{"".join(options)}</select></div>'
            f'<button type="submit">{escape(t("list.status_button"))}</button></form>')


def _search_form(unit: str | None, q: str, miit: bool) -> str:
    keep = f'<input type="hidden" name="unit" value="{escape(unit)}">' if miit and unit else ""
    return (f'<form method="get" action="/staff/" role="search">{keep}<div class="staff-field">'
            f'<label for="q">{escape(t("list.search_label"))}</label>'
            f'<input type="text" id="q" name="q" value="{escape(q)}" maxlength="{MAX_QUERY}"></div>'
            f'<button type="submit">{escape(t("list.search_button"))}</button></form>')


def _table(rows: list[dict[str, str]], *, with_unit: bool) -> str:
    if not rows:
        return f'<p>{escape(t("list.empty"))}</p>'
    heads = [wording.text("common.reference"), t("column.unit"), t("column.project"), t("column.direction"),
             t("column.status"), wording.text("common.received_at")]
    if with_unit:
        heads.insert(2, t("column.recommender"))
    body = []
    for r in rows:
        link = f'<a href="/staff/submissions/{escape(r["reference"])}">{escape(r["reference"])}</a>'
        cells = [link, escape(r["applicant"]), escape(r["project"]), escape(r["direction"]), escape(r["status"]),
                 escape(r["received_at"])]
        if with_unit:
            cells.insert(2, escape(r["unit"]))
        body.append(f'<tr><th scope="row">{cells[0]}</th>' + "".join(f"<td>{c}</td>" for c in cells[1:]) + "</tr>")
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    return (f'<table class="staff-table"><caption>{escape(t("list.table_caption"))}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _link(params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "/staff/" + (f"?{urlencode(kept)}" if kept else "")


def _exports(unit: str | None, miit: bool) -> str:
    scope = {"unit": unit} if miit and unit else {}
    labels = {"csv": t("export.csv"), "xlsx": t("export.xlsx")}
    links = "".join(f'<li><a href="/staff/export?{escape(urlencode({**scope, "format": fmt}))}">'
                    f'{escape(label)}</a></li>' for fmt, label in labels.items())
    return f'<h2>{escape(t("list.export_title"))}</h2><ul>{links}</ul>'


@route("GET", "/staff/")
def applicants(ctx: Context) -> Answer:
    miit = is_miit(ctx.staff)
    unit = chosen_unit(ctx)
    q = ctx.request.query.get("q", "").strip()[:MAX_QUERY]
    status = ctx.request.query.get("status", "")
    status = status if status in review.STATUSES and unit is not None and not q else ""
    cursor = ctx.request.query.get("cursor") or None
    parts: list[str] = []
    if miit:
        parts.append(_chooser(unit))
    if unit is not None:
        if q:
            items, following = ctx.services.units.search(unit, q, cursor, PAGE_SIZE)
        elif status:
            items, following = _by_status(ctx, unit, status, cursor)
        else:
            items, following = ctx.services.units.list(unit, cursor, PAGE_SIZE)
        if not cursor:  # the quota heads the list; a later page is the bare Query it shows
            whole = (len(items), following is not None) if not q and not status else None
            parts.append(_quota(ctx, unit, whole))
    elif q:
        items, following = _search_all(ctx, q), None
    else:
        items, following = ctx.services.reader.page("time", cursor=cursor, limit=PAGE_SIZE)
    parts.append(_search_form(unit, q, miit))
    if unit is not None:
        parts.append(_status_form(unit, status, miit))
    if status:
        parts.append(f'<p>{escape(t("list.status_results", status=review.status_label(status)))} '
                     f'<a href="{escape(_link({"unit": unit or ""} if miit else {}))}">'
                     f'{escape(t("list.clear_search"))}</a></p>')
    if q:
        parts.append(f'<p>{escape(t("list.search_results", q=q))} '
                     f'<a href="{escape(_link({"unit": unit or ""} if miit else {}))}">'
                     f'{escape(t("list.clear_search"))}</a></p>')
    if unit is None and items:
        items = list(ctx.services.units.current(items))
    parts.append(_table([row(i) for i in items], with_unit=unit is None))
    here = {"unit": (unit or "") if miit else "", "q": q, "status": status}
    parts.append(views.pager(_link(here) if cursor else None, _link({**here, "cursor": following}) if following
                             else None))
    parts.append(_exports(unit, miit))
    if miit:
        parts.append(f'<p><a href="/staff/audit">{escape(t("audit.title"))}</a></p>')
    title = t("list.title_unit", unit=unit) if unit else t("list.title_all") if miit else t("list.title")
    return views.page(ctx, title, "".join(parts))
