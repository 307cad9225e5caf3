"""Attachments: presigned POSTs straight into storage, and the one rule for whether an upload can be used.

Attachments never pass through the function. The JSON API asks for a presigned POST per file; a browser without
JavaScript uploads on a page of plain forms that post each PDF to storage, which redirects back (see `nojs_step`);
both are checked with `upload_problem`, the rule a submission applies again to the bytes actually stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from bdpilot import settings
from bdpilot.domain import formats, tokens, wording
from bdpilot.domain.attachments import ATTACHMENT_KINDS, MAX_ATTACHMENTS_PER_KIND
from bdpilot.domain.errors import FieldError
from bdpilot.intake.refusals import AlreadyUsed, Invalid
from bdpilot.store import Store, UploadInfo

PDF_MAGIC = b"%PDF-"
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
# Where S3 stored a no-JavaScript upload: uploads/<slot id>/<the browser's file name> (see `nojs_step`).
NAMED_KEY = re.compile(r"^uploads/([0-9a-f]{32})/([^/]+)$")
MAX_FILENAME = 120  # as the 申报书's Attachment.filename
TITLES = {k.value: title for k, (title, _) in ATTACHMENT_KINDS.items()}


def owner_of(form_token: str) -> str:
    """Uploads are tagged with a hash of the form token, so a submission can only use its own uploads."""
    return hashlib.sha256(b"owner:" + form_token.encode()).hexdigest()[:32]


def form_key(token: str) -> str:
    """The table item that marks a form token as used: its signed random part names it."""
    return f"FORM#{token.split('.')[1]}"


def form_used() -> AlreadyUsed:
    return AlreadyUsed("form_token_used", wording.text("intake.form_used"))


def upload_problem(info: UploadInfo | None, owner: str, label: str) -> str | None:
    """Why an upload cannot be used (the one rule for the JSON API and the no-JavaScript upload step), or None.
    `label` names the file for the person, e.g. 知识产权证明“专利.pdf”."""
    if info is None or info.owner != owner:
        # Someone else's upload is reported exactly like a missing one: ids reveal nothing.
        return wording.text("intake.upload_missing", label=label)
    if info.size > settings.MAX_UPLOAD_BYTES:
        return wording.text("intake.upload_oversized", label=label)
    if not info.head.startswith(PDF_MAGIC):
        return wording.text("intake.upload_not_pdf", label=label)
    return None


class Ticket(NamedTuple):
    """A presigned POST for one file: the browser posts `fields` and then the file to `url`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_in: int


def request_upload(store: Store, token: str) -> Ticket:
    """A presigned POST for one PDF, for an admitted form token (the route has checked the declared size and
    type, to refuse early; the real bytes are checked again when a submission refers to the upload)."""
    if store.form_used(form_key(token)):
        raise form_used()
    upload_id = secrets.token_hex(16)
    post = store.presign_upload(upload_id, owner_of(token), max_bytes=settings.MAX_UPLOAD_BYTES,
                                expires=settings.UPLOAD_EXPIRES_SECONDS)
    return Ticket(upload_id, post["url"], post["fields"], settings.MAX_UPLOAD_BYTES, settings.UPLOAD_EXPIRES_SECONDS)


def check_upload(store: Store, token: str, upload_id: str, title: str | None) -> UploadInfo:
    """The upload once the file is in storage: the same check as at submission, so a fake PDF is refused right
    after its upload, not after 确认提交."""
    info = store.inspect_upload(upload_id)
    label = (title or wording.text("intake.upload_default_label"))[:60]
    problem = upload_problem(info, owner_of(token), label)
    if problem or info is None:
        raise Invalid("upload_invalid", problem or "", [FieldError("upload_id", problem or "")])
    return info


# --- attachments without JavaScript -------------------------------------------------------------------------------
# A file cannot ride along a urlencoded form. So a browser without JavaScript uploads on a page of plain forms, in
# a new window beside the form, that post each PDF straight to storage (presigned POST). The form's token owns
# MAX_ATTACHMENTS_PER_KIND upload slots per kind whose ids are derived from it (`slots`): nothing has to travel
# from the upload window back to the form, which keeps every typed answer. S3 stores the file under
# uploads/<slot id>/<file name> and redirects back (success_action_redirect, with the key); the upload is checked
# and copied to uploads/<slot id> with its name, where the post of the form finds it (`filed`). ADR 0011.

def slot_id(secret: bytes, token: str, kind: str, n: int) -> str:
    """The upload id of a form token's n-th file of a kind: only the function (it holds the secret) can say it."""
    return hmac.new(secret, f"nojs-upload\n{token}\n{kind}\n{n}".encode(), hashlib.sha256).hexdigest()[:32]


def slots(secret: bytes, token: str) -> list[tuple[str, int, str]]:
    """(kind, n, upload id) of every slot of a form token, in the form's order."""
    return [(kind, n, slot_id(secret, token, kind, n)) for kind in TITLES
            for n in range(1, MAX_ATTACHMENTS_PER_KIND + 1)]


class Filed(NamedTuple):
    """A slot holding a checked upload."""

    kind: str
    upload_id: str
    filename: str
    size: int
    etag: str


def filed(store: Store, cfg: settings.Settings, token: str) -> list[Filed]:
    """The uploads a form token's slots hold (an empty one was removed), in the form's order."""
    owner, found = owner_of(token), []
    for kind, n, upload_id in slots(cfg.secret, token):
        info = store.inspect_upload(upload_id)
        if info is not None and info.size and info.owner == owner:
            name = info.filename if filename_problem(info.filename) is None else f"{TITLES[kind]}-{n}.pdf"
            found.append(Filed(kind, upload_id, name, info.size, info.etag.strip('"')))
    return found


def attachment_values(files: list[Filed]) -> list[dict[str, str]]:
    return [{"kind": f.kind, "upload_id": f.upload_id, "filename": f.filename} for f in files]


def filename_problem(name: str) -> str | None:
    """Why a file name cannot be stored or shown as it is, or None: empty, too long, a path, control characters
    (bidirectional overrides included, which can disguise an extension)."""
    if not name.strip(" ."):
        return "empty"
    if len(name) > MAX_FILENAME:
        return "long"
    if "/" in name or "\\" in name or any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        return "characters"
    return None


def posted_attachments(store: Store, cfg: settings.Settings, now: datetime, payload: dict[str, Any]) -> None:
    """A form posted without JavaScript: its slots count as they are now (filled in the other window after the form
    was drawn), by the names storage holds; a slot without an upload is no attachment. Other uploads the form
    names stay as posted (the submission checks them as the JSON API's). A post without a valid token keeps what
    it carried (the token check refuses it anyway)."""
    token = valid_token(cfg, payload.get("form_token"), now)
    application = payload.get("application")
    if token is None or not isinstance(application, dict):
        return
    mine = {u for _, _, u in slots(cfg.secret, token)}
    posted = application.get("attachments")
    kept = [a for a in posted if not (isinstance(a, dict) and a.get("upload_id") in mine)] \
        if isinstance(posted, list) else []
    found = kept + attachment_values(filed(store, cfg, token))
    if found or "attachments" in application:  # none at all: refused as an unanswered field, as before
        application["attachments"] = found


def valid_token(cfg: settings.Settings, raw: object, now: datetime) -> str | None:
    problem = tokens.check(cfg.secret, raw, now, min_seconds=0, max_seconds=settings.TOKEN_MAX_AGE_SECONDS)
    return raw if problem is None and isinstance(raw, str) else None


@dataclass
class NoJsStep:
    """What the upload page shows after one step: the form token, the uploads so far, a notice or a problem, and
    per kind a presigned POST into its next free slot (None when the kind is full). `window`: the page was opened
    beside a filled form (the applicant goes back there to submit)."""

    token: str
    files: list[Filed] = field(default_factory=list)
    notice: str = ""
    problem: str = ""
    tickets: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    window: bool = False

    def storage_origins(self) -> list[str]:
        """Where the page's forms post files (its CSP's form-action must name them)."""
        return sorted({"{0.scheme}://{0.netloc}".format(urlsplit(t["url"])) for t in self.tickets.values() if t})


# 移除's form on the upload page (the public one and a revision's): these fields only, a few hundred bytes at most.
REMOVAL_FIELDS = ("token", "w", "remove", "etag")
REMOVAL_BODY_BYTES = 2048


def removal_form(body: bytes) -> dict[str, str]:
    """The posted 移除 form's known fields. The body is cut to REMOVAL_BODY_BYTES before parsing, which bounds
    the work whatever it holds; unknown fields are dropped (no max_num_fields: over it parse_qsl raises)."""
    pairs = parse_qsl(body[:REMOVAL_BODY_BYTES].decode("utf-8", "replace"))
    return {k: v for k, v in pairs if k in REMOVAL_FIELDS}


def nojs_step(store: Store, cfg: settings.Settings, now: datetime, query: dict[str, str], base: str, *,
              removal: bool = False, page: str = "/api/apply/uploads", keep: Mapping[str, str] | None = None
              ) -> NoJsStep:
    """GET /api/apply/uploads (the caller has checked the window): take the file storage just redirected with, then
    presign the next ones. `base` is where storage sends the browser back to. With `removal` (POST
    /api/apply/remove, never a GET: a prefetched or replayed link must not empty a slot) `query` is the posted
    form and names the upload to remove instead. `page` and `keep` (parameters it needs besides the token: a
    revision's link) say where storage sends the browser back to: the applicants' page, or a revision's."""
    token = valid_token(cfg, query.get("token"), now)
    step = NoJsStep(token or tokens.issue(cfg.secret, now), window=query.get("w") == "1")
    if token is None and query.get("token"):
        step.problem = wording.text("intake.upload_page_expired")
    elif token is not None and query.get("key") and not removal:
        _arrived(store, cfg, step, query["key"])
    elif token is not None and query.get("remove") and removal:
        _remove(store, cfg, step, query["remove"], query.get("etag") or "")
    step.files = filed(store, cfg, step.token)
    owner, taken = owner_of(step.token), {f.upload_id for f in step.files}
    back = {**(keep or {}), "token": step.token, **({"w": "1"} if step.window else {})}
    for kind in TITLES:
        free = next((u for k, _, u in slots(cfg.secret, step.token) if k == kind and u not in taken), None)
        redirect = f"{base}{page}?" + urlencode(back)
        step.tickets[kind] = None if free is None else store.presign_upload(
            free, owner, max_bytes=settings.MAX_UPLOAD_BYTES, expires=settings.UPLOAD_EXPIRES_SECONDS,
            redirect=redirect, named=True)
    return step


def _slot(cfg: settings.Settings, token: str, upload_id: str) -> tuple[str, int] | None:
    return next(((k, n) for k, n, u in slots(cfg.secret, token) if u == upload_id), None)


def _arrived(store: Store, cfg: settings.Settings, step: NoJsStep, key: str) -> None:
    match = NAMED_KEY.fullmatch(key)
    slot = _slot(cfg, step.token, match.group(1)) if match else None
    if match is None or slot is None:
        # Not one of this form's slots: told exactly like a missing upload (ids reveal nothing).
        step.problem = wording.text("intake.upload_missing", label=wording.text("intake.upload_default_label"))
        return
    upload_id, name, title = match.group(1), match.group(2), TITLES[slot[0]]
    if filename_problem(name):
        step.problem = wording.text("intake.upload_name_invalid", title=title, max=MAX_FILENAME)
        return
    label = wording.text("intake.upload_label", title=title, filename=name)
    info = store.inspect_upload(upload_id, key)
    step.problem = upload_problem(info, owner_of(step.token), label) or ""
    if info is None or step.problem:
        return
    held = store.inspect_upload(upload_id)
    if held is not None and held.source == info.etag.strip('"') and (held.size or _not_after(info, held)):
        # This very file is filed already (the page reloaded), or was removed since: going back in history to
        # this page after 移除 (it is fetched again) must not bring the removed file back.
        return
    store.file_upload(key, upload_id, owner_of(step.token), name, info.etag)
    step.notice = wording.text("intake.upload_done", label=label, size=formats.size_text(info.size))


def _not_after(info: UploadInfo, held: UploadInfo) -> bool:
    """The upload is not newer than the slot's emptying (the same bytes uploaded again later are a new upload)."""
    return info.modified is None or held.modified is None or info.modified <= held.modified


def _remove(store: Store, cfg: settings.Settings, step: NoJsStep, upload_id: str, etag: str) -> None:
    """移除 empties the slot, if it still holds the file the link was drawn for (the link fetched again from
    history must not remove a later upload)."""
    slot = _slot(cfg, step.token, upload_id) if UPLOAD_ID.fullmatch(upload_id) else None
    info = store.inspect_upload(upload_id) if slot is not None else None
    if slot is not None and info is not None and info.size and info.etag.strip('"') == etag:
        store.withdraw_upload(upload_id, owner_of(step.token), info.source)
        label = wording.text("intake.upload_label", title=TITLES[slot[0]], filename=info.filename or TITLES[slot[0]])
        step.notice = wording.text("intake.upload_removed", label=label)
