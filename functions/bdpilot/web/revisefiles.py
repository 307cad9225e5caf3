"""A revision's new files without JavaScript: the public upload step (intake.uploads.nojs_step, web.pages.upload_page)
for the revise form's own token, behind its receipt link, while the submission may be revised.

GET  /api/receipt/files?t=LINK&token=FORM&w=1   the page, opened beside the revise form (web.reviseform links it
                                                 in a new window); also where storage sends the browser back to
POST /api/receipt/files?t=LINK                   移除: token, w, remove, etag (a GET never writes)

The revise form's post then takes what that token's slots hold (uploads.posted_attachments), as the public form
does: a new file beside the kept ones, or in place of one whose 删除 box is checked.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from bdpilot import settings
from bdpilot.domain import clock, receipts, wording
from bdpilot.intake import revision, uploads
from bdpilot.intake.refusals import Refused
from bdpilot.web import formdata, pages, receiptpage, reviseform
from bdpilot.web.receipt import HTML_CSP, BadRequest, Call, Reply, reply, route
from bdpilot.web.receiptdata import reader_for

FILES = reviseform.FILES
FORM = "application/x-www-form-urlencoded"


@route("GET", FILES)
def get_files(call: Call) -> Reply:
    return _page(call, call.query, removal=False)


@route("POST", FILES)
def post_files(call: Call) -> Reply:
    if call.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise BadRequest(415)
    return _page(call, uploads.removal_form(call.body), removal=True)


def _page(call: Call, query: dict[str, str], *, removal: bool) -> Reply:
    cfg, now = settings.load(), clock.now()
    link = call.query.get("t", "")
    ref = receipts.check(cfg.secret, link, now)
    if ref is None:
        return reply(404, receiptpage.invalid_page())
    try:
        revision.require_revisable(cfg, now, revision.load(reader_for(cfg), ref))
    except revision.Missing:
        return reply(404, receiptpage.invalid_page())
    except Refused as exc:  # closed: the deadline has passed, or the unit has decided
        return reply(403, reviseform.notice_page(wording.text("revision.form.closed_title"), exc.message, link))
    return _answer(cfg, now, link, query, call, removal)


def _answer(cfg: settings.Settings, now: datetime, link: str, query: dict[str, str], call: Call,
            removal: bool) -> Reply:
    step = uploads.nojs_step(reader_for(cfg), cfg, now, query, formdata.site_base(call.headers), removal=removal,
                             page=FILES, keep={"t": link})
    page = pages.upload_page(step, remove_action=f"{FILES}?t={quote(link, safe='')}", continue_link=False)
    # The page's forms post the files straight to storage: its origin joins form-action, as on the public page.
    csp = HTML_CSP.replace("form-action 'self'", " ".join(["form-action 'self'", *step.storage_origins()]))
    return reply(200, page, {"Content-Security-Policy": csp})
