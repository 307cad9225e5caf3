"""Taking in a 申报书: the steps between a parsed request and a stored, indexed record.

Order matters and is chosen so that nothing half-written is ever visible:
  Idempotency-Key → replay check (`replayed`) → the envelope (parsed by bdpilot.web.contract) → form token
  → window → validation → honeypot → form-token-used pre-check → upload checks
  → applicant pre-check → claim the reference → copy attachments (S3 hashes each copy) → put record.json
  → one DynamoDB transaction (index + USCC guard + idempotency record + used form token + the
  推荐单位's item in the units table).
The index item is the last thing written, so admins (who list through the index) never see a record that is
missing a file, and a failed transaction leaves at most unindexed objects under the same reference, which a
retry with the same Idempotency-Key overwrites. The reference is claimed for that key before any object is
written, so no post can overwrite another applicant's objects. Whether a USCC has applied is only told to a post
that is valid in every other respect, uploads included.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bdpilot import settings
from bdpilot.domain import bounds, campaign, errors, reference, rules, wording
from bdpilot.domain.application import ATTACHMENT_KINDS, Application
from bdpilot.domain.digests import canonical, digest
from bdpilot.domain.errors import FieldError, field_errors
from bdpilot.intake.gate import check_token, require_open
from bdpilot.intake.refusals import AlreadyUsed, Invalid, Unreadable, invalid
from bdpilot.intake.uploads import form_key, form_used, owner_of, upload_problem
from bdpilot.store import IDEMPOTENCY_DAYS, Conflict, StorageUnavailable, Store

__all__ = ["Accepted", "Envelope", "canonical", "digest", "owner_of", "replayed", "submit"]

KEY_CHARS = (16, 128)
IDEMPOTENCY_KEY = re.compile(rf"^[A-Za-z0-9_-]{{{KEY_CHARS[0]},{KEY_CHARS[1]}}}$")
REFERENCE_ATTEMPTS = 4
HONEYPOT = "website"


@dataclass(frozen=True)
class Envelope:
    """A submission request as the web layer parsed it (bdpilot.web.contract.SubmissionRequest): the 申报书 is
    still raw, validated here after the form token and the window, so those refusals come first."""

    application: Any
    form_token: str
    website: str


@dataclass(frozen=True)
class Accepted:
    body: dict[str, Any]  # {reference, digest, received_at, record}: what the 201 answer and its replays carry
    reference: str
    outcome: str  # "stored" | "replayed" | "honeypot"


def check_idempotency_key(key: str | None) -> str:
    if not key:
        raise Unreadable("idempotency_key_missing", wording.text("intake.key_missing"))
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Unreadable("idempotency_key_invalid",
                         wording.text("intake.key_invalid", min=KEY_CHARS[0], max=KEY_CHARS[1]))
    return key


def validate(raw: Any) -> Application:
    """The 申报书, or Invalid listing at most errors.MAX_LISTED failing fields (the no-JS pages use it too)."""
    if not isinstance(raw, dict):
        raise invalid("application", wording.text("intake.missing_application"))
    summary = wording.text("intake.summary")
    # Sizes and counts first, whichever way the 申报书 came (JSON or a plain form): pydantic's time and its list
    # of errors grow with what it is given. Then at most errors.MAX_LISTED field errors in the answer.
    problems = bounds.check(raw, bounds.shape_of(Application), "application")
    if problems:
        raise Invalid("validation_failed", *errors.listed(summary, problems))
    try:
        return Application.model_validate(raw)
    except ValidationError as exc:
        problems = field_errors(Application, exc, "application")
        raise Invalid("validation_failed", *errors.listed(summary, problems)) from exc


def _check_uploads(store: Store, app: Application, owner: str) -> list[dict[str, Any]]:
    """Every referenced upload exists, belongs to this form, is within the upload limit and really is a PDF."""
    problems: list[FieldError] = []
    files: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for i, item in enumerate(app.attachments):
        title = ATTACHMENT_KINDS[item.kind][0]
        info = store.inspect_upload(item.upload_id)
        problem = upload_problem(info, owner, wording.text("intake.upload_label", title=title, filename=item.filename))
        if problem or info is None:
            problems.append(FieldError(f"application.attachments.{i}.upload_id", problem or ""))
        else:
            numbers[item.kind] = numbers.get(item.kind, 0) + 1
            files.append({"kind": item.kind.value, "title": title, "filename": item.filename,
                          "upload_id": item.upload_id, "size": info.size, "etag": info.etag,
                          "name": f"{item.kind.value}-{numbers[item.kind]}.pdf"})
    if problems:
        raise Invalid("validation_failed", wording.text("intake.attachments_summary"), problems)
    return files


def request_hash(application: Any) -> str:
    return digest(canonical(application))


def replayed(store: Store, key: str, application: Any) -> Accepted | None:
    """The first answer to this Idempotency-Key, when the same 申报书 comes again; checked before anything else
    (a retry after the deadline, or after its form token expired, still gets its receipt)."""
    replay = store.replay(key)
    if replay is None:
        return None
    first_hash, response = replay
    if first_hash != request_hash(application):
        raise _key_reused()
    return Accepted(response, response["reference"], "replayed")


def submit(store: Store, cfg: settings.Settings, now: datetime, request: Envelope, key: str) -> Accepted:
    """Take in a 申报书 whose replay check (`replayed`) found nothing, in the order the module's note gives."""
    token = check_token(cfg, request.form_token, now, min_seconds=cfg.min_fill_seconds)
    require_open(cfg, now)
    app = validate(request.application)
    received_at = now.astimezone(campaign.TZ).isoformat(timespec="milliseconds")
    if request.website:
        # A bot filled the invisible field: answer exactly as if it worked, store nothing.
        fake = reference.reference_for(secrets.token_bytes(16), key)
        record: dict[str, Any] = {"reference": fake, "received_at": received_at,
                                  "application": app.model_dump(mode="json"), "files": []}
        body = {"reference": fake, "digest": digest(canonical(record)), "received_at": received_at, "record": record}
        return Accepted(body, fake, "honeypot")
    fingerprint = request_hash(request.application)
    form = form_key(token)
    if store.form_used(form):
        raise form_used()
    files = _check_uploads(store, app, owner_of(token))
    guard = rules.applicant_key(app.applicant.uscc)
    if store.applicant_taken(guard):
        raise _duplicate()

    ref = _claim_reference(store, cfg, key)
    for f in files:
        f["sha256"] = store.copy_upload(f["upload_id"], ref, f["name"], f["etag"])
    record = {
        "reference": ref,
        "received_at": received_at,
        "application": app.model_dump(mode="json"),
        "files": [{k: f[k] for k in RECORD_FILE_FIELDS} for f in files],
    }
    data = canonical(record)
    sha = digest(data)
    store.put_record(ref, data, sha)

    body = {"reference": ref, "digest": sha, "received_at": received_at, "record": record}
    index: dict[str, str | int] = {
        "reference": ref, "entity": "SUB", "received_at": received_at, "digest": sha, "status": "received",
        "direction": str(app.cover.direction), "recommender": app.cover.recommender_name,
        "unit_name": app.applicant.name, "uscc": app.applicant.uscc, "project_name": app.cover.project_name,
        "attachments": len(files),
    }
    expires = int((now + timedelta(days=IDEMPOTENCY_DAYS)).timestamp())
    # A used token is remembered for as long as it could be presented again.
    form_expires = int(now.timestamp()) + settings.TOKEN_MAX_AGE_SECONDS + 86400
    try:
        store.commit(index, guard, key, fingerprint, body, expires, form, form_expires,
                     rules.unit_of(app.cover.recommender_name))
    except Conflict as exc:
        if exc.what == "applicant":
            raise _duplicate() from exc
        if exc.what == "form":
            raise form_used() from exc
        # The same key won a race with us: answer as the winner did, or refuse a different body.
        replay = store.replay(key)
        if replay is not None and replay[0] == fingerprint:
            return Accepted(replay[1], replay[1]["reference"], "replayed")
        raise _key_reused() from exc
    return Accepted(body, ref, "stored")


# What the record says of each stored attachment; sha256 puts the file's bytes under the record's digest.
RECORD_FILE_FIELDS = ("kind", "title", "filename", "size", "name", "sha256")


def _claim_reference(store: Store, cfg: settings.Settings, key: str) -> str:
    """The reference for this Idempotency-Key, held for it before anything is written. A reference already held
    by another key (a collision: 75 bits make it all but impossible) moves on to the key's next candidate."""
    for attempt in range(REFERENCE_ATTEMPTS):
        ref = reference.reference_for(cfg.secret, key, attempt)
        if store.claim_reference(ref, key):
            return ref
    raise StorageUnavailable("ReferenceExhausted")


def _key_reused() -> Invalid:
    return Invalid("idempotency_key_reused", wording.text("intake.key_reused"))


def _duplicate() -> AlreadyUsed:
    return AlreadyUsed("duplicate_applicant", wording.text("intake.duplicate"))
