"""Revising a stored 申报书 through its receipt link: a new version with its own digest, the old ones kept.

Allowed while the units item says received and the applicants' deadline (cfg.deadline) has not passed, or says
returned (退回修改) and the units' deadline (cfg.unit_deadline) has not (domain.review.revisable). The same checks
as a first submission (bdpilot.intake.submission: Idempotency-Key and replay, form token, validation, upload
checks), and two of its own: the USCC and the 推荐单位 cannot change (the guard and the unit's list are keyed by
them).

Nothing half-written is ever current: version n + 1 is claimed for the request's Idempotency-Key (REV#), its
objects go under submissions/<ref>/v<n+1>/ (kept attachments copied there with their SHA-256 checked against the
earlier record, new ones copied from the uploads as at submission), then ONE transaction makes it current
(Store.commit_revision: SUB# under the condition that it still names version n, the units item back to received
with rev + 1 and a history entry, the idempotency record, the used form token). A failed commit leaves version n
current and v<n+1>/ unreferenced; a retry with the same key reuses the claim and overwrites those objects.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from bdpilot import settings
from bdpilot.domain import campaign, formats, review, rules, tokens, wording
from bdpilot.domain.application import ATTACHMENT_KINDS, Application
from bdpilot.domain.errors import FieldError
from bdpilot.domain.review import ReviewRefused
from bdpilot.intake.gate import check_token
from bdpilot.intake.refusals import AlreadyUsed, Closed, Invalid, Refused
from bdpilot.intake.submission import (
    RECORD_FILE_FIELDS,
    Accepted,
    Envelope,
    canonical,
    digest,
    replayed,
    request_hash,
    validate,
)
from bdpilot.intake.uploads import form_key, form_used, owner_of, upload_problem
from bdpilot.store import IDEMPOTENCY_DAYS, Conflict
from bdpilot.store.layout import version_of
from bdpilot.store.reader import Reader
from bdpilot.store.review import Reviews
from bdpilot.store.writer import KeptAltered, with_fields

_COVER: type[BaseModel] = Application.model_fields["cover"].annotation  # type: ignore[assignment]
# What the form may show of a stored attachment (never its storage name's version or the file's bytes).
SHOWN_FILE_FIELDS = ("kind", "title", "filename", "size", "name")


class Missing(Refused):
    """No submission (or no readable record) under the reference: the web layer answers it as a bad link."""


@dataclass(frozen=True)
class Current:
    """A submission as its receipt link sees it: the current version's record, the units item and its status."""

    reference: str
    index: dict[str, Any]
    item: dict[str, Any] | None  # the units item (None when there is none: nothing can be revised)
    version: int
    record: dict[str, Any]

    @property
    def status(self) -> str:
        return str((self.item or {}).get("status") or review.RECEIVED)


def keep_id(entry: dict[str, Any]) -> str:
    """The upload_id that stands for a stored attachment in the form (32 hex, as an upload's): the form sends it
    back to keep the file. Derived from the stored name and SHA-256, so it names a file of this version only."""
    return hashlib.sha256(f"keep:{entry.get('name')}:{entry.get('sha256')}".encode()).hexdigest()[:32]


def load(store: Reader, reference: str) -> Current:
    """The current version of a submission, or Missing when there is none to show."""
    index = store.get_index(reference)
    if index is None:
        raise Missing("not_found", wording.text("revision.not_found"))
    version = version_of(index)
    got = store.get_record_object(reference, version)
    record = json.loads(got[0]) if got is not None else None
    if not isinstance(record, dict):
        raise Missing("not_found", wording.text("revision.not_found"))
    item = Reviews(store.dynamodb, store.units_table).item(rules.unit_of(str(index.get("recommender") or "")),
                                                           reference)
    return Current(reference, index, item, version, record)


def deadline_for(cfg: settings.Settings, status: str) -> datetime | None:
    """Until when a submission in `status` may be revised (None: never again)."""
    return {review.RECEIVED: cfg.deadline, review.RETURNED: cfg.unit_deadline}.get(status)


def revisable(cfg: settings.Settings, now: datetime, current: Current) -> bool:
    return current.item is not None and review.revisable(current.status, now, cfg.deadline, cfg.unit_deadline)


def record_body(cfg: settings.Settings, now: datetime, current: Current) -> dict[str, Any]:
    """GET /api/receipt/record: what the form needs to open in revise mode (a fresh form token when revisable,
    since uploads belong to the token they were made with)."""
    allowed = revisable(cfg, now, current)
    deadline = deadline_for(cfg, current.status)
    files = [{**{k: f.get(k) for k in SHOWN_FILE_FIELDS}, "upload_id": keep_id(f)}
             for f in current.record.get("files") or [] if isinstance(f, dict)]
    return {"reference": current.reference, "version": current.version, "digest": current.index.get("digest"),
            "status": current.status, "application": current.record.get("application"), "files": files,
            "revisable": allowed, "deadline": deadline.isoformat() if deadline else None,
            "form_token": tokens.issue(cfg.secret, now) if allowed else None}


def require_revisable(cfg: settings.Settings, now: datetime, current: Current) -> None:
    if revisable(cfg, now, current):
        return
    deadline = deadline_for(cfg, current.status)
    if current.item is None or deadline is None:
        raise Closed("revision_closed", wording.text("revision.reviewed"))
    when = formats.beijing_time(deadline.isoformat(), seconds=False)
    key = "revision.closed_returned" if current.status == review.RETURNED else "revision.closed_received"
    raise Closed("revision_closed", wording.text(key, deadline=when))


def _unchanged(app: Application, record: dict[str, Any]) -> None:
    """The USCC and the 推荐单位 are the submission's keys: refused, naming the field, when they differ."""
    stored = record.get("application") or {}
    problems = []
    if app.applicant.uscc != (stored.get("applicant") or {}).get("uscc"):
        problems.append(_fixed("application.applicant.uscc", type(app.applicant).model_fields["uscc"].title))
    try:
        before = _COVER.model_validate(stored.get("cover") or {}).recommender_name  # type: ignore[attr-defined]
    except ValueError:
        before = None
    if app.cover.recommender_name != before:
        problems.append(_fixed("application.cover.recommender", type(app.cover).model_fields["recommender"].title))
    if problems:
        raise Invalid("revision_fixed_field", wording.text("revision.fixed_summary"), problems)


def _fixed(path: str, title: str | None) -> FieldError:
    return FieldError(path, wording.text("revision.fixed", field=title or path))


def _files(store: Reader, app: Application, owner: str, current: Current) -> list[dict[str, Any]]:
    """Each attachment of the revised 申报书: a kept one (its keep_id) with its stored entry, or an upload checked
    as at submission. Renumbered per kind in the order given."""
    stored = {keep_id(f): f for f in current.record.get("files") or [] if isinstance(f, dict)}
    problems: list[FieldError] = []
    files: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for i, item in enumerate(app.attachments):
        title = ATTACHMENT_KINDS[item.kind][0]
        path = f"application.attachments.{i}.upload_id"
        kept = stored.get(item.upload_id)
        entry: dict[str, Any] = {"kind": item.kind.value, "title": title, "filename": item.filename}
        if kept is not None and kept.get("kind") == item.kind.value:
            entry |= {"kept": str(kept["name"]), "size": kept["size"], "sha256": kept["sha256"]}
        else:
            info = store.inspect_upload(item.upload_id)
            label = wording.text("intake.upload_label", title=title, filename=item.filename)
            problem = upload_problem(info, owner, label)
            if problem or info is None:
                problems.append(FieldError(path, problem or ""))
                continue
            entry |= {"upload_id": item.upload_id, "size": info.size, "etag": info.etag}
        numbers[item.kind] = numbers.get(item.kind, 0) + 1
        files.append(entry | {"name": f"{item.kind.value}-{numbers[item.kind]}.pdf", "index": i})
    if problems:
        raise Invalid("validation_failed", wording.text("intake.attachments_summary"), problems)
    return files


def _copy(store: Reader, ref: str, files: list[dict[str, Any]], version: int) -> None:
    for f in files:
        if "kept" not in f:
            f["sha256"] = store.copy_upload(f["upload_id"], ref, f["name"], f["etag"], version)
            continue
        try:
            store.copy_kept(ref, (f["kept"], version - 1), f["name"], version, f["sha256"])
        except KeptAltered as exc:
            message = wording.text("revision.kept_altered", filename=f["filename"])
            raise Invalid("validation_failed", wording.text("intake.attachments_summary"),
                          [FieldError(f"application.attachments.{f['index']}.upload_id", message)]) from exc


def revise(store: Reader, cfg: settings.Settings, now: datetime, reference: str, request: Envelope,
           key: str) -> Accepted:
    """Store a new version of `reference` (the caller has checked the receipt link and the Idempotency-Key)."""
    replay = replayed(store, key, request.application)
    if replay is not None:
        if replay.reference != reference:
            raise Invalid("idempotency_key_reused", wording.text("intake.key_reused"))
        return replay
    token = check_token(cfg, request.form_token, now, min_seconds=cfg.min_fill_seconds)
    current = load(store, reference)
    require_revisable(cfg, now, current)
    app = validate(request.application)
    _unchanged(app, current.record)
    form = form_key(token)
    if store.form_used(form):
        raise form_used()
    files = _files(store, app, owner_of(token), current)

    version = current.version + 1
    if not store.claim_version(reference, version, key, int(now.timestamp())):
        raise _stale()
    _copy(store, reference, files, version)
    revised_at = now.astimezone(campaign.TZ).isoformat(timespec="milliseconds")
    record: dict[str, Any] = {
        "reference": reference, "received_at": current.record.get("received_at"), "revised_at": revised_at,
        "version": version, "supersedes": current.index.get("digest"), "application": app.model_dump(mode="json"),
        "files": [{k: f[k] for k in RECORD_FILE_FIELDS} for f in files],
    }
    data = canonical(record)
    sha = digest(data)
    store.put_record(reference, data, sha, version)
    body = {"reference": reference, "digest": sha, "received_at": record["received_at"], "record": record}
    summary = {"direction": str(app.cover.direction), "unit_name": app.applicant.name,
               "project_name": app.cover.project_name}
    index: dict[str, str | int] = {"version": version, "digest": sha, "revised_at": revised_at, **summary,
                                   "attachments": len(files)}
    assert current.item is not None  # require_revisable refused a submission without one
    try:
        units = Reviews(store.dynamodb, store.units_table).revised_update(current.item, version, sha, now)
    except ReviewRefused as exc:
        raise _stale() from exc
    units = with_fields(units, {"direction": summary["direction"], "applicant": summary["unit_name"],
                                "project": summary["project_name"]})
    expires = int((now + timedelta(days=IDEMPOTENCY_DAYS)).timestamp())
    form_expires = int(now.timestamp()) + settings.TOKEN_MAX_AGE_SECONDS + 86400
    try:
        store.commit_revision(reference, version, index, units, key, request_hash(request.application), body,
                              expires, form, form_expires)
    except Conflict as exc:
        if exc.what == "form":
            raise form_used() from exc
        if exc.what == "key":
            again = replayed(store, key, request.application)
            if again is not None and again.reference == reference:
                return again
            raise Invalid("idempotency_key_reused", wording.text("intake.key_reused")) from exc
        raise _stale() from exc
    return Accepted(body, reference, "stored")


def _stale() -> AlreadyUsed:
    return AlreadyUsed("revision_stale", wording.text("revision.stale"))
