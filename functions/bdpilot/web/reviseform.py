"""The revise form without JavaScript: the 申报书 rendered by the server, filled from the current version, posted as
a plain form (application/x-www-form-urlencoded) to POST /api/receipt/revision?t=TOKEN (bdpilot.web.revision).

The form is the site's own (web.formhtml.render_form), with two changes made here on its markup, since the
public no-JavaScript path has no revise mode:
- each kept attachment is listed with its hidden fields (kind, its keep id as upload_id, filename) and a
  "删除" checkbox named `remove` carrying the keep id: a checked one is dropped before the 申报书 is read;
- the public upload step's link (it continues into a new submission, not this revision) gives way to this
  revision's own upload page (web.revisefiles) for the form's token, opened in a new window: the post takes what
  its slots then hold beside the kept files, so a file is replaced by checking 删除 and uploading another.
Refusals answer with this form again, every answer kept and what to fix listed, as web.pages.rejected does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote

from bdpilot.domain import formats, wording
from bdpilot.domain.application import form_schema
from bdpilot.intake.refusals import Refused, TooLarge, Unreadable
from bdpilot.web import pages
from bdpilot.web.formhtml import markup, render_form
from bdpilot.web.schemawalk import ROOT, attachment_items, field_id, flatten

ACTION = "/api/receipt/revision"
PAGE = "/api/receipt/form"
FILES = "/api/receipt/files"  # the revision's own upload page (web.revisefiles)
REMOVE = "remove"  # the checkbox of a kept attachment to drop; not part of the 申报书
# The public upload step's notice (web.formhtml): its link would continue into a new submission.
_UPLOAD_NOTICE = re.compile(r'<p class="apply-notice">(?:(?!</p>).)*?/api/apply/uploads(?:(?!</p>).)*?</p>', re.S)
# Codes after which the posted form token cannot be used again: the form comes back with a fresh one.
_FRESH_TOKEN = ("form_token_invalid", "form_token_used", "idempotency_key_reused")


def _t(key: str, **params: object) -> str:
    return escape(wording.text(f"revision.form.{key}", **params))


def receipt_href(link_token: str) -> str:
    return f"/api/receipt?t={quote(link_token, safe='')}"


def files_href(link_token: str, form_token: str) -> str:
    """The upload page for the revise form of `form_token`, in its window mode (the way on is back to the form)."""
    return f"{FILES}?t={quote(link_token, safe='')}&token={quote(form_token, safe='')}&w=1"


def form_href(link_token: str) -> str:
    """The no-JavaScript revise form of the holder of `link_token` (the receipt page links it in <noscript>)."""
    return f"{PAGE}?t={quote(link_token, safe='')}"


def stored_values(body: Mapping[str, Any]) -> dict[str, Any]:
    """The 申报书 of intake.revision.record_body, its attachments standing as their keep ids (what keeps them)."""
    app = dict(body.get("application") or {})
    app["attachments"] = [{"kind": f.get("kind"), "upload_id": f.get("upload_id"), "filename": f.get("filename")}
                          for f in body.get("files") or []]
    return app


def removed(raw: bytes) -> set[str]:
    """The keep ids whose 删除 box was checked (the body has been read by formdata.parse already)."""
    try:
        return {v for k, v in parse_qsl(raw.decode("utf-8"), max_num_fields=500) if k == REMOVE}
    except (UnicodeDecodeError, ValueError):
        return set()


def without(payload: dict[str, Any], gone: set[str]) -> dict[str, Any]:
    """`payload` with the attachments named in `gone` dropped."""
    app = payload.get("application")
    if not gone or not isinstance(app, dict) or not isinstance(app.get("attachments"), list):
        return payload
    kept = [a for a in app["attachments"] if not (isinstance(a, dict) and a.get("upload_id") in gone)]
    return {**payload, "application": {**app, "attachments": kept}}


def _kept_list(kind: str, items: Iterable[tuple[int, Mapping[str, str]]]) -> str:
    fid = field_id(f"{ROOT}.attachments.{kind}")
    rows = []
    for i, item in items:
        hidden = "".join(f'<input type="hidden" name="{ROOT}.attachments.{i}.{k}" value="{escape(item.get(k, ""))}">'
                         for k in ("kind", "upload_id", "filename"))
        box = (f'<span class="apply-check"><input type="checkbox" id="{fid}-remove-{i}" name="{REMOVE}" '
               f'value="{escape(item.get("upload_id", ""))}"><label for="{fid}-remove-{i}">'
               f'{_t("remove", filename=item.get("filename", ""))}</label></span>')
        rows.append(f'<li>{escape(item.get("filename", ""))}{hidden}{box}</li>')
    return f'<ul class="apply-files" id="{fid}-files">{"".join(rows)}</ul>'


def _with_kept_files(html: str, values: Mapping[str, Any], link_token: str, form_token: str) -> str:
    items = list(enumerate(attachment_items(flatten(values))))
    for kind in {str(item.get("kind", "")) for _, item in items}:
        fid = re.escape(field_id(f"{ROOT}.attachments.{kind}"))
        listing = _kept_list(kind, [(i, item) for i, item in items if item.get("kind") == kind])
        # A markup the form no longer has leaves its own listing: keeping then still works, removing does not.
        literal = listing.replace("\\", "\\\\")  # a replacement string's only escapes are backslashes
        html = re.sub(rf'<ul class="apply-files" id="{fid}-files">.*?</ul>', literal, html, count=1, flags=re.S)
    link = (f'<a href="{escape(files_href(link_token, form_token))}" target="_blank" rel="noopener">'
            f'{_t("files_link")}</a>')
    said = markup("revision.form.files_note", link=link, submit=escape(wording.text("apply.form.submit")))
    note = f'<p class="apply-notice">{said}</p>'
    return _UPLOAD_NOTICE.sub(lambda _: note, html, count=1)


def form_page(*, reference: str, version: int | None, link_token: str, form_token: str, deadline: datetime | None,
              values: Mapping[str, Any] | None, errors: Sequence[Mapping[str, str]] = (), message: str = "") -> str:
    """The 申报书 to revise, filled with `values`, posting to this link's revision route."""
    form = render_form(form_schema(), values, errors, form_token, message=message,
                       action=f"{ACTION}?t={quote(link_token, safe='')}", static=False)
    form = _with_kept_files(form, values or {}, link_token, form_token)
    intro = f'<p><a href="{escape(receipt_href(link_token))}">{_t("back")}</a></p>'
    if version is None or deadline is None:  # storage could not be read: the answers come back all the same
        heading = _t("heading_plain", reference=reference)
    else:
        heading = _t("heading", reference=reference, version=version)
        said = _t("intro", submit=wording.text("apply.form.submit"), next=version + 1,
                  deadline=formats.beijing_time(deadline, seconds=False))
        intro += f"<p>{said}</p>"
    return pages.document(wording.text("revision.form.title"), f"<h1>{heading}</h1>{intro}{form}")


def notice_page(title: str, message: str, link_token: str) -> str:
    """A refusal that no answer can fix (closed, superseded): what happened and the way back to the receipt."""
    return pages.document(title, f'<h1>{escape(title)}</h1><div class="apply-notice" role="alert"><p>'
                                 f'{escape(message)}</p></div><p><a href="{escape(receipt_href(link_token))}">'
                                 f'{escape(wording.text("receipt.title"))}</a></p>')


def refused_page(exc: Refused, payload: Mapping[str, Any] | None, fresh_token: str, *, reference: str,
                 version: int | None, link_token: str, deadline: datetime | None) -> str:
    """What a browser without JavaScript sees when a revision is refused: the form again with nothing retyped
    (as web.pages.rejected answers the public form), or a page when no answer could be accepted."""
    if exc.code == "revision_closed":
        return notice_page(wording.text("revision.form.closed_title"), exc.message, link_token)
    if exc.code == "revision_stale":
        return notice_page(wording.text("revision.form.stale_title"), exc.message, link_token)
    payload = payload or {}
    values = payload.get("application") if isinstance(payload.get("application"), dict) else None
    if values is None and isinstance(exc, (Unreadable, TooLarge)):
        return notice_page(wording.text("apply.pages.unprocessable"), exc.message, link_token)
    token = str(payload.get("form_token") or "")
    errors = [f.as_dict() for f in exc.fields]
    message = exc.message
    if exc.code in _FRESH_TOKEN or not token:
        # A page open too long, or saved to disk: a fresh token, the answers kept and all checked now.
        token, message = fresh_token, wording.text("apply.pages.resubmit")
        errors = [e for e in errors if e["path"] != "form_token"] or pages._problems(values)
    if exc.code in ("validation_failed", "form_token_invalid") and values is not None:
        errors += pages._cross_field(values, {e["path"] for e in errors})
    return form_page(reference=reference, version=version, link_token=link_token, form_token=token,
                     deadline=deadline, values=values, errors=errors, message=message)
