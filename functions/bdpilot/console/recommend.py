"""GET /staff/recommend: a unit's ranked 拟推荐 list against its quota and the unit deadline; POST
/staff/recommend/submit: 提交推荐, in two steps (the first POST shows what will be submitted and asks to confirm;
the second submits), which locks the list and stores its 推荐汇总表 with the summary's digest.

The confirmation page carries a fingerprint of the list it showed (each reference with its rev): if anything
changed before the confirmation came back, the submission is refused as stale, so a unit never submits a list it
did not see. The store's transaction checks the list again (each item's rev and status, the counter). MIIT reads
any unit's page with ?unit=; only the unit's own accounts submit.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bdpilot.console import views
from bdpilot.console.access import chosen_unit, is_miit, listed_units, t
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.records.verification import parse_record
from bdpilot.console.review import deadline, deadline_text, past_deadline
from bdpilot.console.views import escape
from bdpilot.domain import campaign, clock, formats, review, wording
from bdpilot.domain.review import ReviewRefused

NOTICES = {"submitted": "staff.recommend.submitted_now"}


def fingerprint(items: list[dict[str, Any]]) -> str:
    """The list as the confirmation page showed it: each reference with its rev (any change alters it)."""
    pairs = sorted(f'{i.get("reference")}:{int(i.get("rev") or 0)}' for i in items)
    return hashlib.sha256("|".join(pairs).encode()).hexdigest()[:32]


def unit_chooser(action: str) -> str:
    """MIIT's choice of unit (a GET form; the page is about one unit at a time)."""
    options = "".join(f'<option value="{escape(name)}">{escape(name)}</option>' for name in listed_units())
    return (f'<p>{escape(t("recommend.choose_unit"))}</p><form method="get" action="{escape(action)}">'
            f'<div class="staff-field"><label for="unit">{escape(t("list.unit_label"))}</label>'
            f'<select id="unit" name="unit">{options}</select></div>'
            f'<button type="submit">{escape(t("list.choose"))}</button></form>')


def table(items: list[dict[str, Any]]) -> str:
    if not items:
        return f'<p>{escape(t("recommend.empty"))}</p>'
    heads = [t("recommend.rank"), wording.text("common.reference"), t("column.project"), t("column.unit"),
             t("column.direction"), t("recommend.opinion")]
    rows = []
    for item in items:
        ref = str(item.get("reference") or "")
        link = f'<a href="/staff/submissions/{escape(ref)}">{escape(ref)}</a>'
        cells = [escape(str(item.get("rank") or "")), link, escape(str(item.get("project") or "")),
                 escape(str(item.get("applicant") or "")), escape(_direction(item.get("direction"))),
                 escape(str(item.get("opinion") or ""))]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    return (f'<table class="staff-table"><caption>{escape(t("recommend.caption"))}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _direction(value: Any) -> str:
    try:
        return campaign.DIRECTIONS_BY_NUMBER[int(value)].label
    except (KeyError, TypeError, ValueError):
        return str(value or "")


def _state_lines(state: Any) -> list[str]:
    """Submitted (with the summary's links), or reopened by MIIT (with the reason)."""
    if state.submitted:
        return [views.message(t("recommend.submitted", at=formats.beijing_time(str(state.submitted_at or "")),
                                actor=str(state.submitted_by or "")))]
    reopened = [e for e in state.log if e.get("action") == "reopen"]
    if reopened:
        last = reopened[-1]
        return [views.message(t("recommend.reopened", at=formats.beijing_time(str(last.get("at") or "")),
                                reason=str(last.get("reason") or "")))]
    return []


def summary_links(unit: str, miit: bool) -> str:
    scope = f"?unit={escape(unit)}" if miit else ""
    return (f'<ul><li><a href="/staff/recommend/summary{scope}">{escape(t("recommend.summary_link"))}</a></li>'
            f'<li><a href="/staff/recommend/summary.xlsx{scope}">{escape(t("recommend.summary_xlsx"))}</a></li></ul>')


def render(ctx: Context, unit: str, *, error: str = "", status: int = 200) -> Answer:
    """The unit's 推荐 page; `error` (a refused submission) heads it."""
    reviews = ctx.services.reviews
    state, items = reviews.state(unit), reviews.proposed(unit)
    kind = campaign.RECOMMENDER_KINDS[campaign.recommender_kind(unit)]
    miit = is_miit(ctx.staff)
    parts = [views.message(error, error=True)] if error else []
    notice = NOTICES.get(ctx.request.query.get("done", ""))
    if notice and not error:
        parts.append(views.message(wording.text(notice)))
    parts.append(f'<p>{escape(t("recommend.quota", proposed=len(items), quota=kind.quota, kind=kind.name))}</p>'
                 f'<p>{escape(t("recommend.deadline", deadline=deadline_text()))}</p>')
    parts += _state_lines(state)
    parts.append(table(items))
    if state.submitted:
        parts.append(summary_links(unit, miit))
    elif not miit:
        if past_deadline(ctx):
            parts.append(views.message(t("recommend.closed"), error=True))
        elif items:
            parts.append(f'<h2>{escape(t("recommend.submit_title"))}</h2>'
                         f'<p>{escape(t("recommend.submit_intro"))}</p>'
                         + views.form(ctx, "/staff/recommend/submit",
                                      f'<button type="submit">{escape(t("recommend.submit_button"))}</button>'))
    return views.page(ctx, t("recommend.title_unit", unit=unit), "".join(parts), status=status)


@route("GET", "/staff/recommend")
def recommend(ctx: Context) -> Answer:
    unit = chosen_unit(ctx)
    if unit == "":
        return views.not_found(ctx)
    if unit is None:  # MIIT, no unit chosen yet
        return views.page(ctx, t("recommend.title"), unit_chooser("/staff/recommend"))
    return render(ctx, unit)


def _confirm(ctx: Context, unit: str, items: list[dict[str, Any]]) -> Answer:
    inner = (f'<input type="hidden" name="confirm" value="1">'
             f'<input type="hidden" name="seen" value="{fingerprint(items)}">'
             f'<button type="submit">{escape(t("recommend.confirm_button"))}</button>')
    body = (f'<p>{escape(t("recommend.confirm_intro", count=len(items)))}</p>{table(items)}'
            + views.form(ctx, "/staff/recommend/submit", inner)
            + f'<p><a href="/staff/recommend">{escape(t("recommend.cancel"))}</a></p>')
    return views.page(ctx, t("recommend.confirm_title"), body)


def records_of(ctx: Context, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stored record (current version) of each proposed submission: the summary's USCC and investment."""
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        ref = str(item.get("reference") or "")
        got = ctx.services.reader.get_record_object(ref)
        record = parse_record(got[0]) if got is not None else None
        if record is not None:
            found[ref] = record
    return found


@route("POST", "/staff/recommend/submit", roles=("unit",))
def submit(ctx: Context) -> Answer:
    staff = ctx.staff
    if staff is None or not staff.unit:
        return views.not_found(ctx)
    unit = staff.unit
    reviews = ctx.services.reviews
    try:
        if past_deadline(ctx):
            raise ReviewRefused("past_deadline", deadline=deadline_text())
        if reviews.state(unit).submitted:
            raise ReviewRefused("list_submitted")
        items = reviews.proposed(unit)
        review.check_submission(items, campaign.quota_for(unit))
        if ctx.request.form.get("confirm") != "1":
            return _confirm(ctx, unit, items)
        if ctx.request.form.get("seen") != fingerprint(items):
            raise ReviewRefused("stale")
        summary = review.summary(unit, items, records_of(ctx, items))
        reviews.submit(unit, review.summary_json(summary), review.summary_digest(summary), items, staff.email,
                       ctx.now or clock.now(), deadline=deadline())
    except ReviewRefused as refused:
        if ctx.request.form.get("confirm") == "1":
            ctx.audit("recommend_submit", unit, outcome=refused.code)
        return render(ctx, unit, error=refused.message, status=409)
    ctx.audit("recommend_submit", unit)
    return views.redirect("/staff/recommend?done=submitted")


def stored_summary(state: Any) -> dict[str, Any] | None:
    """The 推荐汇总表 as submitted (the #UNIT item's canonical JSON), or None before a submission."""
    if not state.submitted or not state.summary:
        return None
    try:
        value = json.loads(str(state.summary))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
