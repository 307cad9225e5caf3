"""MIIT's dashboard: GET /staff/progress (every unit: received, reviewed, 拟推荐 against quota, submitted or not,
flagged as the unit deadline nears; totals per direction) and POST /staff/units/reopen (a submitted unit's list
opened again, with a reason; audited). Unit accounts get `views.not_found` for both (the route's roles).

The page costs what `Reviews.progress` costs: one BatchGetItem per 100 units for their state items and one
projected Query per unit (status and direction only); bench/dashboard.py holds it to the bare queries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from bdpilot.console import views
from bdpilot.console.access import listed_units, t
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.review import deadline, deadline_text
from bdpilot.console.views import escape
from bdpilot.domain import campaign, clock, formats, review
from bdpilot.domain.review import ReviewRefused

NEAR = timedelta(days=3)  # from then on a unit that has not submitted is flagged


def _flag(ctx: Context) -> str:
    """How an unsubmitted unit is marked now: plainly, or flagged as the deadline nears and once it has passed."""
    now, end = ctx.now or clock.now(), deadline()
    if now >= end:
        return f'<span class="staff-flag">{escape(t("progress.overdue"))}</span>'
    if end - now <= NEAR:
        return f'<span class="staff-flag">{escape(t("progress.late"))}</span>'
    return escape(t("progress.not_submitted"))


def _table(ctx: Context, progress: dict[str, Any]) -> str:
    heads = [t(f"progress.{k}") for k in ("unit", "kind", "received", "reviewed", "proposed", "submitted")]
    flag = _flag(ctx)
    rows, totals = [], [0, 0, 0, 0, 0]
    for unit, (tally, state) in progress.items():
        kind = campaign.RECOMMENDER_KINDS[campaign.recommender_kind(unit)]
        submitted = escape(formats.beijing_time(str(state.submitted_at or ""))) if state.submitted else flag
        link = f'<a href="/staff/recommend?unit={escape(unit)}">{escape(unit)}</a>'
        cells = [escape(kind.name), str(tally.total), str(tally.reviewed),
                 escape(t("progress.proposed_value", proposed=tally.proposed, quota=kind.quota)), submitted]
        rows.append(f'<tr><th scope="row">{link}</th>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        for i, value in enumerate((tally.total, tally.reviewed, tally.proposed, kind.quota, int(state.submitted))):
            totals[i] += value
    foot = [escape(t("progress.totals")), "", str(totals[0]), str(totals[1]),
            escape(t("progress.proposed_value", proposed=totals[2], quota=totals[3])), str(totals[4])]
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    return (f'<table class="staff-table"><caption>{escape(t("progress.caption"))}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f'<tfoot><tr>{"".join(f"<td>{c}</td>" for c in foot)}</tr></tfoot></table>')


def _directions(progress: dict[str, Any]) -> str:
    """拟推荐 per direction over every unit, and those of submitted units (what MIIT has received)."""
    proposed: dict[str, int] = {}
    submitted: dict[str, int] = {}
    for tally, state in progress.values():
        for direction, count in tally.by_direction.items():
            proposed[direction] = proposed.get(direction, 0) + count
            if state.submitted:
                submitted[direction] = submitted.get(direction, 0) + count
    labels = (t("progress.direction"), review.status_label(review.PROPOSED), t("progress.direction_submitted"))
    heads = "".join(f'<th scope="col">{escape(label)}</th>' for label in labels)
    rows = "".join(f'<tr><th scope="row">{escape(d.label)}</th><td>{proposed.get(str(d.number), 0)}</td>'
                   f'<td>{submitted.get(str(d.number), 0)}</td></tr>' for d in campaign.DIRECTIONS)
    return (f'<h2>{escape(t("progress.directions_title"))}</h2><table class="staff-table">'
            f'<caption>{escape(t("progress.directions_caption"))}</caption><thead><tr>{heads}</tr></thead>'
            f'<tbody>{rows}</tbody></table>')


def _reopen_form(ctx: Context, progress: dict[str, Any], typed: dict[str, str]) -> str:
    submitted = [u for u, (_, state) in progress.items() if state.submitted]
    parts = [f'<h2>{escape(t("progress.reopen_title"))}</h2>']
    if not submitted:
        return "".join(parts) + f'<p>{escape(t("progress.reopen_none"))}</p>'
    options = "".join(f'<option value="{escape(u)}"{" selected" if u == typed.get("unit") else ""}>{escape(u)}'
                      f"</option>" for u in submitted)
    inner = (f'<div class="staff-field"><label for="reopen-unit">{escape(t("progress.reopen_unit"))}</label>'
             f'<select id="reopen-unit" name="unit">{options}</select></div>'
             f'<div class="staff-field"><label for="reopen-reason">{escape(t("progress.reopen_reason"))}</label>'
             f'<textarea id="reopen-reason" name="reason" rows="3" required>{escape(typed.get("reason", ""))}'
             f'</textarea></div><button type="submit">{escape(t("progress.reopen_button"))}</button>')
    parts.append(f'<p>{escape(t("progress.reopen_intro"))}</p>' + views.form(ctx, "/staff/units/reopen", inner))
    return "".join(parts)


def render(ctx: Context, *, error: str = "", typed: dict[str, str] | None = None, status: int = 200) -> Answer:
    progress = ctx.services.reviews.progress(listed_units())
    parts = [views.message(error, error=True)] if error else []
    reopened = ctx.request.query.get("reopened", "")
    if reopened in progress and not error:
        parts.append(views.message(t("progress.reopen_done", unit=reopened)))
    parts.append(f'<p>{escape(t("progress.deadline", deadline=deadline_text()))}</p>')
    now, end = ctx.now or clock.now(), deadline()
    if now >= end:
        parts.append(views.message(t("progress.deadline_passed")))
    elif end - now <= NEAR:
        parts.append(views.message(t("progress.deadline_near", days=NEAR.days)))
    parts += [_table(ctx, progress), _directions(progress), _reopen_form(ctx, progress, typed or {})]
    return views.page(ctx, t("progress.title"), "".join(parts), status=status)


@route("GET", "/staff/progress", roles=("miit",))
def dashboard(ctx: Context) -> Answer:
    return render(ctx)


@route("POST", "/staff/units/reopen", roles=("miit",))
def reopen(ctx: Context) -> Answer:
    staff = ctx.staff
    form = ctx.request.form
    typed = {"unit": form.get("unit", ""), "reason": form.get("reason", "")}
    unit, reason = typed["unit"], typed["reason"].strip()
    if staff is None or unit not in listed_units():
        return views.not_found(ctx)
    try:
        if not reason:
            raise ReviewRefused("reason_required")
        ctx.services.reviews.reopen(unit, reason, staff.email, ctx.now or clock.now())
    except ReviewRefused as refused:
        ctx.audit("unit_reopen", unit, outcome=refused.code)
        message = t("progress.reopen_reason_missing") if refused.code == "reason_required" else refused.message
        return render(ctx, error=message, typed=typed, status=400 if refused.code == "reason_required" else 409)
    ctx.audit("unit_reopen", unit)
    return views.redirect(f"/staff/progress?{urlencode({'reopened': unit})}")
