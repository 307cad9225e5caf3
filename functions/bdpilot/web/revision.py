"""Revise through the receipt link (the applicant function's views, registered on bdpilot.web.receipt's router).

  GET  /api/receipt/record?t=TOKEN    the current version for the form's revise mode (bdpilot.intake.revision
                                      .record_body): {reference, version, digest, status, application, files (each
                                      with the upload_id that keeps it), revisable, deadline, form_token}
  POST /api/receipt/uploads?t=TOKEN   a presigned POST for a revision's new file: the public /api/uploads closes
                                      with the applicants' window, a 退回修改 revision comes after it
  POST /api/receipt/revision?t=TOKEN  the revised 申报书 ({application, form_token, website} and an
                                      Idempotency-Key, as /api/submissions): 201 with the new version's receipt
                                      and its link; the receipt e-mail follows the commit (queued on failure).
                                      Posted urlencoded (the form below), it answers with pages: the new
                                      version's receipt page, or the form again with the answers and the errors
  GET  /api/receipt/form?t=TOKEN      the revise form without JavaScript (bdpilot.web.reviseform), filled from
                                      the current version, kept attachments by keep id, a fresh form token

A token that is not a genuine, unexpired receipt link is answered exactly like an unknown reference: 404 (a page
for the pages' routes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from aws_lambda_powertools import Logger

from bdpilot import settings
from bdpilot.domain import clock, receipts, tokens, wording
from bdpilot.domain.application import form_schema
from bdpilot.intake import revision, submission, uploads
from bdpilot.intake.gate import check_token
from bdpilot.intake.refusals import Refused, Unavailable
from bdpilot.store import StorageUnavailable
from bdpilot.web import contract, formdata, limits, mailqueue, metrics, receiptpage, reviseform
from bdpilot.web.receipt import Call, Reply, reply, route
from bdpilot.web.receiptdata import reader_for

logger = Logger(service="bdpilot")


def _not_found() -> Reply:
    return reply(404, Refused("not_found", wording.text("revision.not_found")).body())


LinkedView = Callable[[Call, settings.Settings, datetime, str], Reply]


def linked(view: LinkedView) -> Callable[[Call], Reply]:
    """A view reached through the signed link, given the settings, the time and the linked reference: a forged or
    expired link and a reference with no stored record are answered alike (404)."""
    @wraps(view)
    def wrapped(call: Call) -> Reply:
        cfg, now = settings.load(), clock.now()
        ref = receipts.check(cfg.secret, call.query.get("t"), now)
        if ref is None:
            return _not_found()
        try:
            return view(call, cfg, now, ref)
        except revision.Missing:
            return _not_found()

    return wrapped


@route("GET", "/api/receipt/record")
@linked
def get_record(call: Call, cfg: settings.Settings, now: datetime, ref: str) -> Reply:
    return reply(200, revision.record_body(cfg, now, revision.load(reader_for(cfg), ref)))


@route("POST", "/api/receipt/uploads")
@linked
def post_upload(call: Call, cfg: settings.Settings, now: datetime, ref: str) -> Reply:
    payload = call.json()
    limits.enforce("/api/uploads", payload)
    token = check_token(cfg, payload.get("form_token") if isinstance(payload, dict) else None, now)
    contract.parse(contract.UploadRequest, payload)
    store = reader_for(cfg)
    revision.require_revisable(cfg, now, revision.load(store, ref))
    ticket = uploads.request_upload(store, token)
    return reply(201, contract.answer(contract.UploadTicket(**ticket._asdict())))


@route("POST", "/api/receipt/revision")
def post_revision(call: Call) -> Reply:
    if formdata.is_form(call.headers.get("content-type")):
        return post_revision_form(call)
    return post_revision_json(call)


@linked
def post_revision_json(call: Call, cfg: settings.Settings, now: datetime, ref: str) -> Reply:
    payload = call.json()
    limits.enforce("/api/submissions", payload)
    key = submission.check_idempotency_key(call.headers.get("idempotency-key"))
    accepted = _revise(cfg, now, ref, payload, key)
    return reply(201, answer(accepted.body, _after(cfg, now, ref, accepted)))


def _revise(cfg: settings.Settings, now: datetime, ref: str, payload: Any, key: str) -> submission.Accepted:
    request = contract.parse(contract.submission_request(), payload)
    envelope = submission.Envelope(request.application, request.form_token, request.website)
    return revision.revise(reader_for(cfg), cfg, now, ref, envelope, key)


def _after(cfg: settings.Settings, now: datetime, ref: str, accepted: submission.Accepted) -> str:
    """Log and count a revision, mail its receipt when it was stored now; the link to the receipt page."""
    link = receipts.url(cfg.site_url, receipts.token(cfg.secret, ref, now))
    logger.info("revision", extra={"outcome": accepted.outcome, "reference": ref,
                                   "version": accepted.body["record"].get("version")})
    if accepted.outcome == "stored":
        metrics.count(metrics.ACCEPTED)
        mailqueue.receipt(cfg, accepted.body, link)  # after the commit: a failure is queued, never undoes it
    return link


def _invalid_link() -> Reply:
    return reply(404, receiptpage.invalid_page())


@route("GET", reviseform.PAGE)
def get_form(call: Call) -> Reply:
    """The revise form for browsers without JavaScript, filled from the current version."""
    cfg, now = settings.load(), clock.now()
    token = call.query.get("t", "")
    ref = receipts.check(cfg.secret, token, now)
    try:
        current = revision.load(reader_for(cfg), ref) if ref else None
        if current is None:
            return _invalid_link()
        revision.require_revisable(cfg, now, current)
    except revision.Missing:
        return _invalid_link()
    except Refused as exc:  # closed: the deadline has passed, or the unit has decided
        return reply(403, reviseform.notice_page(wording.text("revision.form.closed_title"), exc.message, token))
    body = revision.record_body(cfg, now, current)
    return reply(200, reviseform.form_page(
        reference=current.reference, version=current.version, link_token=token, form_token=body["form_token"],
        deadline=revision.deadline_for(cfg, current.status), values=reviseform.stored_values(body)))


def post_revision_form(call: Call) -> Reply:
    """The revise form posted without JavaScript: the same revision, the same status codes, answered with the
    new version's receipt page, or the form again with every answer kept and what to fix."""
    cfg, now = settings.load(), clock.now()
    token = call.query.get("t", "")
    ref = receipts.check(cfg.secret, token, now)
    if ref is None:
        return _invalid_link()
    payload: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    try:
        try:
            posted = formdata.parse(call.body, None)
            payload = reviseform.without(posted.payload, reviseform.removed(call.body))
            # New files uploaded beside this form (web.revisefiles): what its token's slots hold now.
            uploads.posted_attachments(reader_for(cfg), cfg, now, payload)
            # The key follows what is posted after removals: the same page posted twice is one revision.
            key = call.headers.get("idempotency-key") or formdata.derive_key(str(payload.get("form_token") or ""),
                                                                               payload.get("application"))
            accepted = _revise(cfg, now, ref, payload, submission.check_idempotency_key(key))
        except StorageUnavailable as exc:
            logger.warning("storage unavailable", extra={"outcome": "unavailable", "aws_error": str(exc),
                                                         "form": "html"})
            metrics.count(metrics.UNAVAILABLE)
            headers = {"Retry-After": "5"}
            raise Unavailable("unavailable", wording.text("intake.unavailable"), retry_after=5) from exc
    except revision.Missing:
        return _invalid_link()
    except Refused as exc:
        return _refused_form(cfg, now, ref, token, exc, payload, headers)
    _after(cfg, now, ref, accepted)
    current = revision.load(reader_for(cfg), ref)
    return reply(201, receiptpage.receipt_page(current, cfg, token, now))


def _refused_form(cfg: settings.Settings, now: datetime, ref: str, token: str, exc: Refused,
                  payload: dict[str, Any] | None, headers: dict[str, str] | None) -> Reply:
    from bdpilot.web.api import status_of

    status = status_of(exc)
    logger.info("rejected", extra={"outcome": exc.code, "status": status, "form": "html"})
    metrics.rejected(exc.code)
    try:
        current: revision.Current | None = revision.load(reader_for(cfg), ref)
    except revision.Missing:
        return _invalid_link()
    except StorageUnavailable:
        current = None  # the form comes back all the same, without the version and deadline it cannot read
    page = reviseform.refused_page(exc, payload, tokens.issue(cfg.secret, now), reference=ref,
                                   version=current.version if current else None, link_token=token,
                                   deadline=revision.deadline_for(cfg, current.status) if current else None)
    return reply(status, page, headers)


def answer(body: dict[str, Any], link: str) -> dict[str, Any]:
    """The 201: the stored body, its version, the print copy drawn from it, and the receipt page's link."""
    from bdpilot.web.printcopy import render_record

    printable = render_record(form_schema(), body)
    return {**body, "version": body["record"].get("version", 1), "printable": printable, "receipt_url": link}
