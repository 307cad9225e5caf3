"""Attachments: presigned POSTs straight into storage, and the one rule for whether an upload can be used.

Attachments never pass through the function. The JSON API asks for a presigned POST per file; a browser without
JavaScript uploads on a page of plain forms that post each PDF to storage, which redirects back (see `NoJsStep`);
both are checked with `upload_problem`, the rule a submission applies again to the bytes actually stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from bdpilot import settings
from bdpilot.domain import formats, tokens, wording
from bdpilot.domain.application import ATTACHMENT_KINDS, MAX_ATTACHMENTS_PER_KIND
from bdpilot.domain.errors import FieldError
from bdpilot.intake.refusals import AlreadyUsed, Invalid
from bdpilot.store import Store, UploadInfo

PDF_MAGIC = b"%PDF-"
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
# The no-JavaScript state between steps: "kind:upload_id,…" in the query string; nothing is kept on the server.
STATE_ITEM = re.compile(r"^([a-z]+):([0-9a-f]{32})$")
MAX_STATE_ITEMS = 20
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


@dataclass(frozen=True)
class Ticket:
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
# A file cannot ride along a urlencoded form. So a browser without JavaScript uploads first, on a page of plain
# forms that post each PDF straight to storage (presigned POST); storage redirects back (success_action_redirect)
# with the object key, the upload is checked and listed, and 继续填写申报书 opens the form with the form token and
# the uploads filled in.

def parse_state(raw: str | None) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for part in (raw or "").split(",")[:MAX_STATE_ITEMS]:
        m = STATE_ITEM.fullmatch(part)
        if m and m.group(1) in TITLES and (m.group(1), m.group(2)) not in items:
            items.append((m.group(1), m.group(2)))
    return items


def state_text(items: list[tuple[str, str]]) -> str:
    return ",".join(f"{k}:{u}" for k, u in items)


def valid_token(cfg: settings.Settings, raw: str | None, now: datetime) -> str | None:
    problem = tokens.check(cfg.secret, raw, now, min_seconds=0, max_seconds=settings.TOKEN_MAX_AGE_SECONDS)
    return raw if problem is None else None


@dataclass
class NoJsStep:
    """What the upload page shows after one step: the form token, the uploads so far, a notice or a problem,
    and one presigned POST per kind (each redirecting back with the state)."""

    token: str
    items: list[tuple[str, str]]
    notice: str = ""
    problem: str = ""
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return state_text(self.items)


def nojs_step(store: Store, cfg: settings.Settings, now: datetime, query: dict[str, str], base: str) -> NoJsStep:
    """GET /api/apply/uploads (the caller has checked the window): take the file storage just redirected with,
    if any, and presign the next ones. `base` is where storage sends the browser back to."""
    token = valid_token(cfg, query.get("token"), now)
    step = NoJsStep(token or tokens.issue(cfg.secret, now), parse_state(query.get("a")) if token else [])
    if token is None and query.get("token"):
        step.problem = wording.text("intake.upload_page_expired")
    key = query.get("key") or ""
    arrived = key.rsplit("/", 1)[-1]
    kind = query.get("kind") or ""
    if key and STATE_ITEM.fullmatch(f"{kind}:{arrived}") and not step.problem:
        _arrived(store, step, kind, arrived)
    owner = owner_of(step.token)
    for k in TITLES:
        redirect = f"{base}/api/apply/uploads?" + urlencode({"token": step.token, "a": step.state, "kind": k})
        step.tickets[k] = store.presign_upload(secrets.token_hex(16), owner, max_bytes=settings.MAX_UPLOAD_BYTES,
                                               expires=settings.UPLOAD_EXPIRES_SECONDS, redirect=redirect)
    return step


def _arrived(store: Store, step: NoJsStep, kind: str, upload_id: str) -> None:
    info = store.inspect_upload(upload_id)
    title = TITLES.get(kind, "")
    step.problem = upload_problem(info, owner_of(step.token), title) or ""
    if info is None or step.problem:
        return
    if sum(1 for k, _ in step.items if k == kind) >= MAX_ATTACHMENTS_PER_KIND:
        step.problem = wording.text("intake.upload_per_kind", label=title)
    else:
        step.items.append((kind, upload_id))
        step.notice = wording.text("intake.upload_done", label=title, size=formats.size_text(info.size))


def attachment_values(items: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Without JavaScript the original file name never reaches us: each file is named after its kind."""
    values, seen = [], dict.fromkeys(TITLES, 0)
    for kind, upload_id in items:
        seen[kind] += 1
        name = TITLES[kind] + (f"-{seen[kind]}" if seen[kind] > 1 else "") + ".pdf"
        values.append({"kind": kind, "upload_id": upload_id, "filename": name})
    return values
