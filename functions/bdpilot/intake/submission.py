"""Taking in a 申报书: the steps between a parsed request and a stored, indexed record.

Order matters and is chosen so that nothing half-written is ever visible:
  replay check → form token → window → validation → honeypot → form-token-used pre-check → upload checks
  → applicant pre-check → claim the reference → copy attachments (S3 hashes each copy) → put record.json
  → one DynamoDB transaction (index + USCC guard + idempotency record + used form token).
The index item is the last thing written, so admins (who list through the index) never see a record that is
missing a file, and a failed transaction leaves at most unindexed objects under the same reference, which a
retry with the same Idempotency-Key overwrites. The reference is claimed for that key before any object is
written, so no post can overwrite another applicant's objects. Whether a USCC has applied is only told to a post
that is valid in every other respect, uploads included.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bdpilot import settings
from bdpilot.domain import campaign, reference, rules, tokens
from bdpilot.domain.application import ATTACHMENT_KINDS, Application
from bdpilot.domain.errors import FieldError, field_errors
from bdpilot.store import Conflict, StorageUnavailable, Store, UploadInfo

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
REFERENCE_ATTEMPTS = 4
HONEYPOT = "website"
PDF_MAGIC = b"%PDF-"


@dataclass
class Rejection(Exception):
    """A request we refuse, with its HTTP status and a Chinese message for the person who sent it."""

    status: int
    code: str
    message: str
    fields: list[FieldError] = field(default_factory=list)
    retry_after: int | None = None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = [f.as_dict() for f in self.fields]
        return {"error": error}


@dataclass(frozen=True)
class Accepted:
    status: int
    body: dict[str, Any]
    reference: str
    outcome: str  # "stored" | "replayed" | "honeypot"


def canonical(value: Any) -> bytes:
    """The bytes a record is stored as, and hashed from: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def owner_of(form_token: str) -> str:
    """Uploads are tagged with a hash of the form token, so a submission can only use its own uploads."""
    return hashlib.sha256(b"owner:" + form_token.encode()).hexdigest()[:32]


def invalid(path: str, message: str) -> Rejection:
    return Rejection(422, "validation_failed", "申报书有需要修改的地方，请按提示修改后重新提交",
                     [FieldError(path, message)])


def check_idempotency_key(key: str | None) -> str:
    if not key:
        raise Rejection(400, "idempotency_key_missing",
                        "缺少 Idempotency-Key 请求头，无法保证重复提交不会产生两份申报书")
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Rejection(400, "idempotency_key_invalid", "Idempotency-Key 应为16至128位字母、数字、“-”或“_”")
    return key


def _check_token(cfg: settings.Settings, token: object, now: datetime, *, min_seconds: int) -> str:
    problem = tokens.check(cfg.secret, token, now, min_seconds=min_seconds,
                           max_seconds=settings.TOKEN_MAX_AGE_SECONDS)
    if problem is None:
        return str(token)
    if problem.code == "too_fast":
        raise Rejection(429, "too_fast", f"提交过快，请核对填写内容，{problem.retry_after}秒后再提交",
                        retry_after=problem.retry_after)
    raise Rejection(403, "form_token_invalid",
                    "页面已过期或无法验证来源，请刷新页面后重新提交（已填写的内容会保留在本机草稿中）")


def campaign_state(cfg: settings.Settings, now: datetime) -> dict[str, Any]:
    return {
        "window": rules.window(now, cfg.deadline).as_dict(),
        "form_token": tokens.issue(cfg.secret, now),
        "min_fill_seconds": cfg.min_fill_seconds,
        "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
        "directions": [{"number": d.number, "category": d.category.name, "name": d.name, "label": d.label}
                       for d in campaign.DIRECTIONS],
    }


def request_upload(store: Store, cfg: settings.Settings, now: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    """A presigned POST for one PDF. The declared size and type are checked here to refuse early; the real
    bytes are checked again when a submission refers to the upload."""
    token = _check_token(cfg, payload.get("form_token"), now, min_seconds=0)
    if not rules.window(now, cfg.deadline).open:
        raise _closed(cfg)
    problems = []
    size = payload.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        problems.append(FieldError("size", "请提供文件大小（字节）"))
    elif size > settings.MAX_UPLOAD_BYTES:
        raise Rejection(413, "file_too_large", "文件超过20MB，请压缩或拆分后再上传")
    name = payload.get("filename")
    if not isinstance(name, str) or not name.lower().endswith(".pdf") or len(name) > 255:
        problems.append(FieldError("filename", "只能上传PDF文件（文件名以.pdf结尾）"))
    if payload.get("content_type") not in ("application/pdf", None):
        problems.append(FieldError("content_type", "只能上传PDF文件"))
    if problems:
        raise Rejection(422, "validation_failed", "无法上传该文件", problems)
    if store.form_used(form_key(token)):
        raise _form_used()
    upload_id = secrets.token_hex(16)
    post = store.presign_upload(upload_id, owner_of(token), max_bytes=settings.MAX_UPLOAD_BYTES,
                                expires=settings.UPLOAD_EXPIRES_SECONDS)
    return {"upload_id": upload_id, "url": post["url"], "fields": post["fields"],
            "max_bytes": settings.MAX_UPLOAD_BYTES, "expires_in": settings.UPLOAD_EXPIRES_SECONDS}


UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def check_upload(store: Store, cfg: settings.Settings, now: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    """POST /api/uploads with {"form_token", "upload_id"} once the file is in storage: the same check as at
    submission (upload_problem), so a fake PDF is refused right after its upload, not after 确认提交."""
    token = _check_token(cfg, payload.get("form_token"), now, min_seconds=0)
    upload_id = payload.get("upload_id")
    title = payload.get("title") if isinstance(payload.get("title"), str) else "附件"
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise invalid("upload_id", "上传编号无效")
    info = store.inspect_upload(upload_id)
    problem = upload_problem(info, owner_of(token), title[:60])
    if problem or info is None:
        raise Rejection(422, "upload_invalid", problem or "", [FieldError("upload_id", problem or "")])
    return {"ok": True, "upload_id": upload_id, "size": info.size}


def _closed(cfg: settings.Settings) -> Rejection:
    deadline = cfg.deadline.astimezone(campaign.TZ)
    return Rejection(403, "window_closed",
                     f"申报已截止（截止时间：{deadline:%Y年%m月%d日 %H:%M}，北京时间），不再接受新的申报")


def _validate(raw: Any) -> Application:
    from bdpilot.domain import bounds, errors

    if not isinstance(raw, dict):
        raise invalid("application", "缺少申报书内容")
    summary = "申报书有需要修改的地方，请按提示修改后重新提交"
    # Sizes and counts first, whichever way the 申报书 came (JSON or a plain form): pydantic's time and its list
    # of errors grow with what it is given. Then at most errors.MAX_LISTED field errors in the answer.
    problems = bounds.check(raw, bounds.shape_of(Application), "application")
    if problems:
        raise Rejection(422, "validation_failed", *errors.listed(summary, problems))
    try:
        return Application.model_validate(raw)
    except ValidationError as exc:
        problems = field_errors(Application, exc, "application")
        raise Rejection(422, "validation_failed", *errors.listed(summary, problems)) from exc


def upload_problem(info: UploadInfo | None, owner: str, label: str) -> str | None:
    """Why an upload cannot be used (the one rule for the JSON API and the no-JavaScript upload step), or None.
    `label` names the file for the person, e.g. 知识产权证明“专利.pdf”."""
    if info is None or info.owner != owner:
        # Someone else's upload is reported exactly like a missing one: ids reveal nothing.
        return f"{label}未找到或已过期，请重新上传"
    if info.size > settings.MAX_UPLOAD_BYTES:
        return f"{label}超过20MB，请压缩后重新上传"
    if not info.head.startswith(PDF_MAGIC):
        return f"{label}不是有效的PDF文件，请重新上传"
    return None


def _check_uploads(store: Store, app: Application, owner: str) -> list[dict[str, Any]]:
    """Every referenced upload exists, belongs to this form, is ≤ 20 MB and really is a PDF."""
    problems: list[FieldError] = []
    files: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for i, item in enumerate(app.attachments):
        title = ATTACHMENT_KINDS[item.kind][0]
        info = store.inspect_upload(item.upload_id)
        problem = upload_problem(info, owner, f"{title}“{item.filename}”")
        if problem or info is None:
            problems.append(FieldError(f"application.attachments.{i}.upload_id", problem or ""))
        else:
            numbers[item.kind] = numbers.get(item.kind, 0) + 1
            files.append({"kind": item.kind.value, "title": title, "filename": item.filename,
                          "upload_id": item.upload_id, "size": info.size, "etag": info.etag,
                          "name": f"{item.kind.value}-{numbers[item.kind]}.pdf"})
    if problems:
        raise Rejection(422, "validation_failed", "附件需要重新上传", problems)
    return files


def request_hash(payload: dict[str, Any]) -> str:
    return digest(canonical(payload.get("application")))


def submit(store: Store, cfg: settings.Settings, now: datetime, payload: Any, key: str | None) -> Accepted:
    key = check_idempotency_key(key)
    if not isinstance(payload, dict):
        raise Rejection(400, "malformed", "请求内容应为一个JSON对象")
    fingerprint = request_hash(payload)
    replay = store.replay(key)
    if replay is not None:
        first_hash, response = replay
        if first_hash != fingerprint:
            raise _key_reused()
        return Accepted(201, response, response["reference"], "replayed")

    if not isinstance(payload.get(HONEYPOT), str):
        raise invalid(HONEYPOT, "表单不完整，请刷新页面后重新填写提交")
    token = _check_token(cfg, payload.get("form_token"), now, min_seconds=cfg.min_fill_seconds)
    if not rules.window(now, cfg.deadline).open:
        raise _closed(cfg)
    app = _validate(payload.get("application"))
    received_at = now.astimezone(campaign.TZ).isoformat(timespec="milliseconds")
    if payload[HONEYPOT]:
        # A bot filled the invisible field: answer exactly as if it worked, store nothing.
        fake = reference.reference_for(secrets.token_bytes(16), key)
        record = {"reference": fake, "received_at": received_at, "application": app.model_dump(mode="json"),
                  "files": []}
        body = {"reference": fake, "digest": digest(canonical(record)), "received_at": received_at, "record": record}
        return Accepted(201, body, fake, "honeypot")
    form = form_key(token)
    if store.form_used(form):
        raise _form_used()
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
    index = {
        "reference": ref, "entity": "SUB", "received_at": received_at, "digest": sha, "status": "received",
        "direction": str(app.cover.direction), "recommender": app.cover.recommender_name,
        "unit_name": app.applicant.name, "uscc": app.applicant.uscc, "project_name": app.cover.project_name,
        "attachments": len(files),
    }
    expires = int((now + timedelta(days=30)).timestamp())
    # A used token is remembered for as long as it could be presented again.
    form_expires = int(now.timestamp()) + settings.TOKEN_MAX_AGE_SECONDS + 86400
    try:
        store.commit(index, guard, key, fingerprint, body, expires, form, form_expires)
    except Conflict as exc:
        if exc.what == "applicant":
            raise _duplicate() from exc
        if exc.what == "form":
            raise _form_used() from exc
        # The same key won a race with us: answer as the winner did, or refuse a different body.
        replay = store.replay(key)
        if replay is not None and replay[0] == fingerprint:
            return Accepted(201, replay[1], replay[1]["reference"], "replayed")
        raise _key_reused() from exc
    return Accepted(201, body, ref, "stored")


# What the record says of each stored attachment; sha256 puts the file's bytes under the record's digest.
RECORD_FILE_FIELDS = ("kind", "title", "filename", "size", "name", "sha256")


def form_key(token: str) -> str:
    """The table item that marks a form token as used: its signed random part names it."""
    return f"FORM#{token.split('.')[1]}"


def _claim_reference(store: Store, cfg: settings.Settings, key: str) -> str:
    """The reference for this Idempotency-Key, held for it before anything is written. A reference already held
    by another key (a collision: 75 bits make it all but impossible) moves on to the key's next candidate."""
    for attempt in range(REFERENCE_ATTEMPTS):
        ref = reference.reference_for(cfg.secret, key, attempt)
        if store.claim_reference(ref, key):
            return ref
    raise StorageUnavailable("ReferenceExhausted")


def _form_used() -> Rejection:
    return Rejection(409, "form_token_used",
                     "此页面已提交过一份申报书，不能再次提交。如需为其他单位申报，请刷新页面后重新填写；"
                     "已提交的申报书以回执中的申报编号为准")


def _key_reused() -> Rejection:
    return Rejection(422, "idempotency_key_reused",
                     "该 Idempotency-Key 已用于另一份内容不同的申报书，请刷新页面后重新提交")


def _duplicate() -> Rejection:
    return Rejection(409, "duplicate_applicant",
                     "该统一社会信用代码已提交过申报书。按通知要求，每个申报主体限申报1个项目；"
                     "如需更正，请联系推荐单位或工业和信息化部联系人")
