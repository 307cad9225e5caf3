"""The review panel of a submission's page (status, history, versions, and the decision form for its unit) and
GET /staff/submissions/{ref}/versions/{n}: an earlier version of a revised submission, read-only.

The panel is drawn from the unit's item in the units table (status, rev, history, version) and the unit's state
item (submitted or open). The form carries the item's `rev`: a page left open while someone else decided posts a
stale rev, which the store refuses ("已被他人修改"). The form is shown only to the unit's own accounts, while the
list is open and before the unit deadline; the POST checks all of it again (console/decision.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from bdpilot import settings
from bdpilot.console import views
from bdpilot.console.access import schema, t, visible
from bdpilot.console.app import Answer, Context, Staff, route
from bdpilot.console.records.verification import parse_record
from bdpilot.console.views import escape
from bdpilot.domain import campaign, formats, review, rules, wording
from bdpilot.web.printcopy import render_record

CHOICES = review.DECISIONS  # what a unit may decide (待审核 is where a submission starts)
TEXT_ROWS = 4
HISTORY_COLUMNS = ("panel.history_at", "panel.history_actor", "panel.history_action", "panel.history_change",
                   "panel.history_note")
NOTICES = {"saved": "staff.panel.saved", "mailed": "staff.panel.returned_mailed",
           "queued": "staff.panel.returned_queued",
           "no_mail": "staff.panel.returned_no_mail", "not_sent": "staff.panel.returned_not_sent"}


def status_label(status: Any) -> str:
    return review.status_label(str(status) if status else None)


def unit_for(staff: Staff | None, index: dict[str, Any]) -> str:
    """The unit a visible submission belongs to: a unit account's own (its reads are keyed on it); for MIIT the
    unit the submission names, as intake placed it."""
    if staff is not None and staff.role == "unit" and staff.unit:
        return staff.unit
    return rules.unit_of(str(index.get("recommender") or ""))


def deadline() -> datetime:
    return settings.load().unit_deadline


def deadline_text() -> str:
    return formats.beijing_time(deadline(), seconds=False)


def past_deadline(ctx: Context) -> bool:
    return ctx.now is not None and ctx.now >= deadline()


def version_of(item: dict[str, Any]) -> int:
    try:
        return max(1, int(item.get("version") or 1))
    except (TypeError, ValueError):
        return 1


def history_table(item: dict[str, Any]) -> str:
    entries = review.history_of(item)
    if not entries:
        return f'<p>{escape(t("panel.history_empty"))}</p>'
    heads = "".join(f'<th scope="col">{escape(t(key))}</th>' for key in HISTORY_COLUMNS)
    rows = []
    for e in reversed(entries):  # newest first, as every console list
        if e.get("action") == "revise":
            action = t("panel.history_revise", version=e.get("version") or "")
        else:
            action = status_label(e.get("to"))
        change = t("panel.history_change_text", before=status_label(e.get("from")), after=status_label(e.get("to")))
        note = str(e.get("reason") or e.get("opinion") or "")
        if e.get("rank"):
            note = f'{note} {t("panel.rank", rank=e["rank"])}'.strip()
        cells = [formats.beijing_time(str(e.get("at") or "")), str(e.get("actor") or ""), action, change, note]
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return (f'<table class="staff-table"><caption>{escape(t("panel.history_title"))}</caption>'
            f'<thead><tr>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def versions_list(ref: str, item: dict[str, Any]) -> str:
    current = version_of(item)
    if current == 1:
        return ""
    links = [f'<li><a href="/staff/submissions/{escape(ref)}/versions/{n}">'
             f'{escape(t("panel.version_link", version=n))}</a></li>' for n in range(1, current)]
    links.append(f'<li>{escape(t("panel.version_current", version=current))}</li>')
    return f'<h3>{escape(t("panel.versions_title"))}</h3><ul>{"".join(links)}</ul>'


def _radio(name: str, value: str, label: str, checked: bool) -> str:
    ident = f"{name}-{value}"
    return (f'<div><input type="radio" id="{ident}" name="{name}" value="{value}"{" checked" if checked else ""}'
            f' required> <label for="{ident}">{escape(label)}</label></div>')


def _textarea(name: str, label: str, hint: str, value: str) -> str:
    return (f'<div class="staff-field"><label for="{name}">{escape(label)}</label>'
            f'<p class="staff-hint" id="{name}-hint">{escape(hint)}</p>'
            f'<textarea id="{name}" name="{name}" rows="{TEXT_ROWS}" maxlength="{review.MAX_TEXT}"'
            f' aria-describedby="{name}-hint">{escape(value)}</textarea></div>')


def decision_form(ctx: Context, ref: str, item: dict[str, Any], quota: int, typed: dict[str, str]) -> str:
    """The form a unit account decides with; `typed` (after a refusal) keeps what was entered."""
    chosen = typed.get("status") or str(item.get("status") or "")
    radios = "".join(_radio("status", s, status_label(s), s == chosen) for s in CHOICES)
    reason = typed["reason"] if "reason" in typed else str(item.get("reason") or "")
    opinion = typed["opinion"] if "opinion" in typed else str(item.get("opinion") or "")
    rank = typed["rank"] if "rank" in typed else str(item.get("rank") or "")
    options = [f'<option value="">{escape(t("panel.rank_none"))}</option>']
    options += [f'<option value="{n}"{" selected" if str(n) == rank else ""}>{n}</option>'
                for n in range(1, quota + 1)]
    inner = (f'<input type="hidden" name="rev" value="{int(item.get("rev") or 0)}">'
             f'<fieldset class="staff-field"><legend>{escape(t("panel.choice"))}</legend>{radios}</fieldset>'
             + _textarea("reason", t("panel.reason_label"), t("panel.reason_hint"), reason)
             + _textarea("opinion", t("panel.opinion_label"), t("panel.opinion_hint"), opinion)
             + f'<div class="staff-field"><label for="rank">{escape(t("panel.rank_label"))}</label>'
               f'<p class="staff-hint" id="rank-hint">{escape(t("panel.rank_hint"))}</p>'
               f'<select id="rank" name="rank" aria-describedby="rank-hint">{"".join(options)}</select></div>'
             + f'<button type="submit">{escape(t("panel.save"))}</button>')
    return (f'<h3>{escape(t("panel.form_title"))}</h3>'
            + views.form(ctx, f"/staff/submissions/{ref}/decision", inner))


def _current(item: dict[str, Any]) -> str:
    lines = [t("panel.status", status=status_label(item.get("status")))]
    if item.get("status") in ("returned", "rejected") and item.get("reason"):
        lines.append(t("panel.reason", reason=str(item["reason"])))
    if item.get("status") == "proposed":
        lines.append(t("panel.opinion", opinion=str(item.get("opinion") or "")))
        if item.get("rank"):
            lines.append(t("panel.rank", rank=item["rank"]))
    if item.get("decided_at"):
        lines.append(t("panel.decided", at=formats.beijing_time(str(item["decided_at"])),
                       actor=str(item.get("decided_by") or "")))
    return "".join(f"<p>{escape(line)}</p>" for line in lines)


def panel(ctx: Context, ref: str, unit: str, item: dict[str, Any] | None, *, error: str = "",
          typed: dict[str, str] | None = None) -> str:
    """The review section of the detail page. `error` (a refusal) is shown above the form."""
    if item is None:  # a submission whose unit item is missing (before the migration): nothing to review yet
        return ""
    parts = [f'<h2 id="review">{escape(t("panel.title"))}</h2>']
    notice = NOTICES.get(ctx.request.query.get("done", ""))
    if notice and not error:
        parts.append(views.message(wording.text(notice)))
    if error:
        parts.append(views.message(error, error=True))
    parts.append(_current(item))
    staff = ctx.staff
    if staff is not None and staff.role == "unit":
        state = ctx.services.reviews.state(unit)
        if state.submitted:
            parts.append(views.message(t("panel.locked")))
        elif past_deadline(ctx):
            parts.append(views.message(t("panel.closed", deadline=deadline_text())))
        else:
            parts.append(f'<p>{escape(t("panel.open_until", deadline=deadline_text()))}</p>')
            parts.append(decision_form(ctx, ref, item, campaign.quota_for(unit), typed or {}))
    else:
        parts.append(f'<p>{escape(t("panel.miit_only_reads"))}</p>')
    parts.append(history_table(item))
    parts.append(versions_list(ref, item))
    return "".join(parts)


@route("GET", "/staff/submissions/{ref}/versions/{n}")
def version(ctx: Context) -> Answer:
    ref, n = ctx.request.params.get("ref", ""), ctx.request.params.get("n", "")
    index = visible(ctx, ref)
    if index is None or not n.isdigit() or len(n) > 4:
        return views.not_found(ctx)
    item = ctx.services.reviews.item(unit_for(ctx.staff, index), ref) or {}
    current, wanted = version_of({**index, **item}), int(n)
    got = ctx.services.reader.get_record_object(ref, wanted) if 1 <= wanted <= current else None
    record = parse_record(got[0]) if got is not None else None
    if got is None or record is None:
        return views.not_found(ctx)
    ctx.audit("view_version", f"{ref} v{wanted}")
    body = {"record": record, "reference": ref, "received_at": record.get("received_at", ""),
            "digest": hashlib.sha256(got[0]).hexdigest()}
    html = (f'<p><a href="/staff/submissions/{escape(ref)}">{escape(t("panel.back", reference=ref))}</a></p>'
            f'{views.message(t("panel.version_note", current=current))}{render_record(schema(), body)}')
    return views.page(ctx, t("panel.version_title", reference=ref, version=wanted), html)
