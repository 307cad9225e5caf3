"""The receipt page behind the signed link, and sending the link again: the applicant function's own views.

GET  /api/receipt?t=TOKEN   status for the applicant (domain.review.applicant_status), the reason when returned,
                            修改申报书 while revisable, the digest, and the printable copy of the current version
                            from the one renderer (web.printcopy). No script: it works without JavaScript and
                            prints as the A4 申报书. A forged, expired or unknown link: 404, a Chinese page that
                            offers to send the link again.
POST /api/receipt/resend    {uscc} as JSON (apply.js) or a plain form (that page): always the same 202 answer;
                            only a USCC that applied gets a mail, to the contact address on file, at most
                            resends.PER_DAY a day. The address is never shown. On Lambda the lookup and the mail
                            run in an invocation of their own (resend_job), so the answer takes as long either way.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote

from bdpilot import settings
from bdpilot.domain import campaign, clock, formats, mail, receipts, review, rules, wording
from bdpilot.domain.application import form_schema
from bdpilot.intake import revision
from bdpilot.store import resends
from bdpilot.web import mailqueue, pages, receiptdata
from bdpilot.web.printcopy import pair, render_next_steps, render_record
from bdpilot.web.receipt import BadRequest, Call, Reply, reply, route

FORM = "application/x-www-form-urlencoded"
RESEND = "/api/receipt/resend"


def _t(key: str, **params: object) -> str:
    return escape(wording.text(f"receipt.{key}", **params))


def _back() -> str:
    return f'<p><a href="{pages.APPLY_PAGE}">{escape(wording.text("apply.pages.back"))}</a></p>'


def message_page(message: str, status_title: str = "") -> str:
    """A plain page (a refusal): the message and the way back to the form."""
    title = status_title or wording.text("receipt.title")
    return pages.document(title, f'<h1>{escape(title)}</h1><div class="apply-notice" role="alert"><p>'
                                 f"{escape(message)}</p></div>{_back()}")


def resend_form(problem: str = "", value: str = "") -> str:
    """The no-JavaScript way to get the link again: one field, the USCC."""
    error = f'<p class="apply-field-error" id="uscc-error">{escape(problem)}</p>' if problem else ""
    invalid = ' aria-invalid="true" aria-describedby="uscc-error"' if problem else ""
    return (f'<section aria-labelledby="resend-title"><h2 id="resend-title">{_t("resend.title")}</h2>'
            f'<form method="post" action="{RESEND}"><div class="apply-field{" apply-field--error" if problem else ""}">'
            f'<label class="apply-label" for="uscc">{_t("resend.uscc_label")}</label>{error}'
            f'<input type="text" id="uscc" name="uscc" autocomplete="off" maxlength="40" value="{escape(value)}"'
            f"{invalid}></div><button type=\"submit\">{_t('resend.button')}</button></form></section>")


def invalid_page() -> str:
    title = wording.text("receipt.invalid.title")
    body = (f'<h1>{escape(title)}</h1><div class="apply-notice" role="alert"><p>{_t("invalid.message")}</p></div>'
            f"{resend_form()}{_back()}")
    return pages.document(title, body)


def revise_links(token: str) -> str:
    """修改申报书: the site's form in revise mode (apply.js) where scripts run; without them that link is hidden
    and the server-rendered form (web.reviseform) is offered instead. This page itself runs no script, so
    <noscript> follows the browser's setting, not this page's CSP."""
    js_link = escape(receipts.revise_url("", token))
    plain = escape(f"/api/receipt/form?t={quote(token, safe='')}")
    return (f'<p class="revise-js"><a class="apply-continue" href="{js_link}">{_t("revise")}</a></p>'
            f"<noscript><style>.revise-js{{display:none}}</style>"
            f'<p><a class="apply-continue" id="revise-nojs" href="{plain}">{_t("revise")}</a></p></noscript>')


def _status_panel(current: receiptdata.Current, cfg: settings.Settings, token: str, now: datetime) -> str:
    shown = review.applicant_status(current.status, cfg.show_results)
    label = wording.text(f"review.applicant.{shown}")
    parts = [f'<h2>{_t("status_title")}</h2><p><strong>{_t("status_line", status=label)}</strong></p>',
             f'<p>{_t(f"explain.{shown}")}</p>']
    reason = str((current.item or {}).get("reason") or "")
    if shown == "returned" and reason:
        parts.append(f'<h3>{_t("reason_title")}</h3><p class="apply-answers" style="white-space:pre-wrap">'
                     f"{escape(reason)}</p>")
    until = revision.deadline_for(cfg, current.status)
    if until is not None and revision.revisable(cfg, now, current):
        parts.append(f'<p>{_t("revise_until", deadline=formats.beijing_time(until, seconds=False))}</p>'
                     f"{revise_links(token)}")
    elif until is not None:
        parts.append(f"<p>{_t('closed')}</p>")
    return f'<div class="apply-notice" role="status">{"".join(parts)}</div>'


def receipt_page(current: receiptdata.Current, cfg: settings.Settings, token: str, now: datetime) -> str:
    body = receiptdata.body(current)
    digest_label = wording.text("apply.sha256", label=wording.text("common.digest"))
    facts = [f'<p class="apply-reference">{escape(pair(wording.text("common.reference"), ""))}'
             f"<strong>{escape(current.reference)}</strong></p>",
             f'<p>{escape(pair(wording.text("common.received_at"), formats.beijing_time(body["received_at"])))}</p>',
             f'<p>{escape(pair(digest_label, ""))}<code>{escape(body["digest"])}</code></p>']
    if current.version > 1:
        facts.append(f"<p>{_t('version_line', version=current.version)}</p>")
    screen = (f'<div class="apply-screen"><h1>{_t("title")}</h1>{"".join(facts)}'
              f"{_status_panel(current, cfg, token, now)}<p>{_t('print_hint')}</p>{render_next_steps()}</div>")
    return pages.document(wording.text("receipt.title"), screen + render_record(form_schema(), body))


@route("GET", "/api/receipt")
def get_receipt(call: Call) -> Reply:
    cfg, now = settings.load(), clock.now()
    token = call.query.get("t", "")
    reference = receipts.check(cfg.secret, token, now)
    current = receiptdata.load(cfg, reference) if reference else None
    if current is None:
        return reply(404, invalid_page())
    return reply(200, receipt_page(current, cfg, token, now))


def _uscc_of(call: Call) -> tuple[str, bool]:
    """The posted USCC and whether it came as a plain form (answered with a page)."""
    if call.headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        try:
            fields = parse_qs(call.body.decode("utf-8"), max_num_fields=5)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(400) from None
        return (fields.get("uscc") or [""])[0], True
    payload = call.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("uscc", ""), str):
        raise BadRequest(400)
    return str(payload.get("uscc", "")), False


@route("GET", RESEND)
def get_resend(call: Call) -> Reply:
    """The resend form on its own page: where the no-JavaScript "already applied" answer points."""
    return reply(200, pages.document(wording.text("receipt.resend.title"), resend_form()))


@route("POST", RESEND)
def post_resend(call: Call) -> Reply:
    cfg, now = settings.load(), clock.now()
    raw, as_page = _uscc_of(call)
    uscc = formats.normalize_uscc(raw)[:40]
    if formats.uscc_problem(uscc):
        problem = wording.text("receipt.resend.uscc_invalid")
        if as_page:
            page = pages.document(wording.text("receipt.resend.title"),
                                  f'<h1>{_t("resend.title")}</h1>{resend_form(problem, raw[:40])}')
            return reply(422, page)
        return reply(422, {"error": {"code": "uscc_invalid", "message": problem,
                                     "fields": [{"path": "uscc", "message": problem}]}})
    _resend(cfg, uscc, now)
    sent = wording.text("receipt.resend.sent", times=resends.PER_DAY)
    if as_page:
        return reply(202, message_page(sent, wording.text("receipt.resend.title")))
    return reply(202, {"message": sent})


def _resend(cfg: settings.Settings, uscc: str, now: datetime) -> None:
    """Count, then hand the rest on: the same calls whether the USCC applied or not. Nothing here reaches the
    answer."""
    reader = receiptdata.reader_for(cfg)
    day: date = now.astimezone(campaign.TZ).date()
    if not resends.take(reader.dynamodb, cfg.table, uscc, day, now):
        return
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function:
        resends.hand_off(function, uscc)
    else:  # the local run (no Lambda to invoke): at once
        _mail_again(cfg, uscc, now)


def resend_job(job: Any) -> None:
    """The invocation `resends.hand_off` started: look the USCC up and mail the link if it applied."""
    uscc = formats.normalize_uscc(str(job.get("uscc") or "") if isinstance(job, dict) else "")[:40]
    if not formats.uscc_problem(uscc):
        _mail_again(settings.load(), uscc, clock.now())


def _mail_again(cfg: settings.Settings, uscc: str, now: datetime) -> None:
    """Mail the receipt link of the application filed under `uscc`, if there is one with a contact address."""
    reader = receiptdata.reader_for(cfg)
    reference = resends.applied_reference(reader.dynamodb, cfg.table, rules.applicant_key(uscc))
    current = receiptdata.load(cfg, reference) if reference else None
    if current is None or not mail.contact_of(current.record):
        return
    mailqueue.send(cfg, mail.resend(current.record, current.reference, receiptdata.link(cfg, current.reference, now)))
