"""The public Lambda function behind API Gateway (REST API): parse through the contract, call the intake, shape
the answer through the contract. The routes are bdpilot.web.contract.ROUTES; HTTP statuses are chosen here only
(STATUS), from the kind of refusal the intake raised. The event and the answer are bdpilot.web.proxy's.

/api/submissions also takes the /apply/ form posted urlencoded without JavaScript and answers it with a page;
/api/apply/uploads and /api/apply/form are the upload step and the form of that path (bdpilot.web.formdata and
.pages, imported when first used: a cold start needs neither).
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from bdpilot import settings
from bdpilot.domain import clock, formats, rules, tokens, wording
from bdpilot.intake import uploads
from bdpilot.intake.gate import admit
from bdpilot.intake.refusals import (
    AlreadyUsed,
    Closed,
    Invalid,
    Refused,
    TooFast,
    TooLarge,
    Unavailable,
    Unreadable,
    Unverified,
    malformed,
)
from bdpilot.store import StorageUnavailable, Store
from bdpilot.web import contract, limits, metrics
from bdpilot.web.proxy import Request, Response, proxy_result

if TYPE_CHECKING:  # imported when a submission arrives: a cold start's first answers do not need it
    from bdpilot.intake import submission

# Never log bodies or headers: they carry names, phones, emails and USCCs. Only references and outcomes.
logger = Logger(service="bdpilot")

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
# The no-JavaScript answer pages: inline styles only, no script, and the form may only post back here.
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
RETRY_AFTER = 5
FORM = "application/x-www-form-urlencoded"
# Every route and its method, as infra/template.yaml must declare it (tests/infra checks the two agree).
ROUTES = {route.path: route.method for route in contract.ROUTES}
UNAVAILABLE = wording.text("intake.unavailable")
INTERNAL = wording.text("intake.internal")


class UnsupportedMediaType(Unreadable):
    """A body that is not JSON: only HTTP has content types, so only the web layer refuses one."""


# The one mapping from a refusal to its HTTP status (the most specific class first, as `status_of` walks the MRO).
STATUS: dict[type[Refused], int] = {
    Unreadable: 400, UnsupportedMediaType: 415, Unverified: 403, Closed: 403, AlreadyUsed: 409, TooLarge: 413,
    Invalid: 422, TooFast: 429, Unavailable: 503,
}


def status_of(exc: Refused) -> int:
    return next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)


def _check_settings_at_start() -> None:
    """On Lambda, read and check the settings (and fetch the secret) while the container starts: a bad value
    fails the start loudly, counted by Lambda's Errors alarm, instead of answering every request with a 500."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return  # tests and the local run set their environment after importing this module
    try:
        settings.load()
    except settings.SettingsError as exc:
        logger.error("settings invalid: the function cannot start", extra={"outcome": "init_failed",
                                                                           "problem": str(exc)})
        raise


_check_settings_at_start()


@cache
def _store(table: str, bucket: str) -> Store:
    # One client pair per warm container: creating boto3 clients costs more than the request itself. The
    # session is the one the secret was read with, so its endpoint and model data are loaded once.
    return Store(table, bucket, session=settings.aws_session())


def store_for(cfg: settings.Settings) -> Store:
    return _store(cfg.table, cfg.bucket)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=body,
                    headers={"Cache-Control": "no-store", **(headers or {})})


def _body_bytes(request: Request) -> bytes:
    raw = request.body or ""
    data = base64.b64decode(raw) if request.is_base64_encoded else raw.encode("utf-8", "surrogatepass")
    if len(data) > settings.MAX_BODY_BYTES:
        raise TooLarge("payload_too_large",
                       wording.text("intake.body_too_large", limit=formats.size_text(settings.MAX_BODY_BYTES)))
    return data


def _json_body(request: Request) -> Any:
    """The request body as JSON, after the checks API Gateway cannot do for us: type, size, encoding."""
    content_type = (request.header("Content-Type") or "").lower()
    if content_type.split(";")[0].strip() != "application/json":
        raise UnsupportedMediaType("unsupported_media_type", wording.text("intake.not_json_type"))
    data = _body_bytes(request)
    try:
        payload = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise malformed("intake.not_utf8") from exc
    except (ValueError, RecursionError) as exc:
        raise malformed("intake.not_json") from exc
    # Sizes, counts and text checked against the route's models before anything walks the body (the replay hash,
    # pydantic): what a body costs must not grow with what a client packs into 256 KB. Not an object: a 400 later.
    limits.enforce(request.path, payload)
    return payload


def get_campaign(request: Request) -> Response:
    return _json(200, contract.answer(contract.campaign_state(settings.load(), clock.now())))


def get_schema(request: Request) -> Response:
    return Response(200, JSON, _schema_text(), headers={"Cache-Control": "public, max-age=300"})


def get_openapi(request: Request) -> Response:
    return Response(200, JSON, contract.document_text(), headers={"Cache-Control": "public, max-age=300"})


@cache
def _schema_text() -> str:
    from bdpilot.domain.application import form_schema  # the 申报书's models: built when first needed

    return json.dumps(form_schema(), ensure_ascii=False)


def post_upload(request: Request) -> Response:
    cfg, now = settings.load(), clock.now()
    payload = _json_body(request)
    if not isinstance(payload, dict):
        raise malformed()
    checking = "upload_id" in payload  # the file is in storage: is it a usable PDF? (the no-JS step checks too)
    # The form token and the window before the fields: a stale page is told to reload, not what to rename.
    token = admit(cfg, now, payload.get("form_token"), window=not checking)
    if checking:
        check = contract.parse(contract.UploadCheck, payload)
        info = uploads.check_upload(store_for(cfg), token, check.upload_id, check.title)
        return _json(200, contract.answer(contract.UploadChecked(ok=True, upload_id=check.upload_id, size=info.size)))
    contract.parse(contract.UploadRequest, payload)
    ticket = uploads.request_upload(store_for(cfg), token)
    logger.info("upload presigned", extra={"outcome": "presigned"})
    return _json(201, contract.answer(contract.UploadTicket(**ticket._asdict())))


def _take(cfg: settings.Settings, payload: Any, key: str | None) -> submission.Accepted:
    """One submission, JSON or a plain form: the key, the replay check, the envelope, then the intake."""
    from bdpilot.intake import submission

    store, checked = store_for(cfg), submission.check_idempotency_key(key)
    if not isinstance(payload, dict):
        raise malformed()
    replay = submission.replayed(store, checked, payload.get("application"))
    if replay is not None:
        return replay
    request = contract.parse(contract.submission_request(), payload)
    envelope = submission.Envelope(request.application, request.form_token, request.website)
    return submission.submit(store, cfg, clock.now(), envelope, checked)


def receipt(accepted: submission.Accepted, link: str | None = None) -> dict[str, Any]:
    """The 201 answer: the stored body plus the print copy, drawn from it (so a replay draws the same one; the
    idempotency record keeps only the body), and the receipt page's signed link."""
    from bdpilot.domain.application import form_schema
    from bdpilot.web.printcopy import render_record

    printable = render_record(form_schema(), accepted.body)
    return contract.answer(contract.Receipt(**accepted.body, printable=printable, receipt_url=link))


def receipt_link(cfg: settings.Settings, accepted: submission.Accepted) -> str:
    """The receipt page's signed link, issued as of the submission's received time: a replay gets the same."""
    from datetime import datetime

    from bdpilot.domain import receipts

    issued = datetime.fromisoformat(str(accepted.body["received_at"]))
    return receipts.link(cfg.secret, cfg.site_url, accepted.reference, issued)


def _mail_receipt(cfg: settings.Settings, accepted: submission.Accepted, link: str) -> None:
    """The receipt e-mail after the commit, for a stored submission only; the 201 stands whatever the mail does."""
    if accepted.outcome == "stored":
        from bdpilot.web import mailqueue

        mailqueue.receipt(cfg, accepted.body, link)


def post_submission(request: Request) -> Response:
    cfg = settings.load()
    if (request.header("Content-Type") or "").split(";")[0].strip().lower() == FORM:
        return _post_form(request, cfg)
    accepted = _take(cfg, _json_body(request), request.header("Idempotency-Key"))
    # The honeypot outcome is logged as such; the client cannot tell it from a real acceptance.
    logger.info("submission", extra={"outcome": accepted.outcome, "reference": accepted.reference})
    _count(accepted)
    link = receipt_link(cfg, accepted)
    _mail_receipt(cfg, accepted, link)
    return _json(201, receipt(accepted, link))


def _count(accepted: submission.Accepted) -> None:
    # A stored submission counts once: its replays store nothing; a bot's honeypot post is a refusal in disguise.
    if accepted.outcome == "stored":
        metrics.count(metrics.ACCEPTED)
    elif accepted.outcome == "honeypot":
        metrics.rejected("honeypot")


def get_apply_uploads(request: Request, removal: dict[str, str] | None = None) -> Response:
    """Attachments for browsers without JavaScript (see bdpilot.intake.uploads): also storage's redirect target.
    `removal`: the fields of a POST /api/apply/remove."""

    from bdpilot.web import formdata, pages

    cfg, now = settings.load(), clock.now()
    if not rules.window(now, cfg.deadline).open:
        return _html(403, pages.closed_page())
    base = formdata.site_base(request.headers)
    step = uploads.nojs_step(store_for(cfg), cfg, now, request.query if removal is None else removal, base,
                             removal=removal is not None)
    return _html(200, pages.upload_page(step), step.storage_origins())


def post_apply_remove(request: Request) -> Response:
    """移除 on the upload page: a small urlencoded form (token, w, remove, etag); answered with the page itself."""
    if (request.header("Content-Type") or "").split(";")[0].strip().lower() != FORM:
        raise UnsupportedMediaType("unsupported_media_type", wording.text("intake.not_form_type"))
    return get_apply_uploads(request, uploads.removal_form(_body_bytes(request)))


def get_apply_form(request: Request) -> Response:
    """The form for a form token, with the uploads its slots hold (see bdpilot.intake.uploads)."""
    from bdpilot.web import pages

    cfg, now = settings.load(), clock.now()
    if not rules.window(now, cfg.deadline).open:
        return _html(403, pages.closed_page())
    token = uploads.valid_token(cfg, request.query.get("token"), now)
    if token is None:
        return _html(200, pages.form_page(None, [], tokens.issue(cfg.secret, now),
                                          wording.text("intake.form_page_expired"), uploaded=0))
    files = uploads.filed(store_for(cfg), cfg, token)
    return _html(200, pages.form_page({"attachments": uploads.attachment_values(files)}, [], token, "",
                                      uploaded=len(files)))


def _html(status: int, page: str, form_origins: list[str] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    csp = HTML_CSP.replace("form-action 'self'", " ".join(["form-action 'self'", *(form_origins or [])]))
    return Response(status_code=status, content_type=HTML, body=page,
                    headers={"Cache-Control": "no-store", "Content-Security-Policy": csp, **(headers or {})})


def _post_form(request: Request, cfg: settings.Settings) -> Response:
    """The /apply/ form posted by a browser without JavaScript: the same submission, the same status codes,
    answered with a page (the receipt, or the form again with the answers and what to fix)."""
    from bdpilot.web import formdata, pages
    now = clock.now()
    posted = None
    try:
        posted = formdata.parse(_body_bytes(request), request.header("Idempotency-Key"))
        uploads.posted_attachments(store_for(cfg), cfg, now, posted.payload)  # uploaded beside the form
        accepted = _take(cfg, posted.payload, posted.key)
    except StorageUnavailable as exc:
        # Same as the JSON answer, but as the form again with every answer kept, so nothing typed is lost.
        logger.warning("storage unavailable", extra={"outcome": "unavailable", "aws_error": str(exc), "form": "html"})
        metrics.count(metrics.UNAVAILABLE)
        busy = Unavailable("unavailable", UNAVAILABLE, retry_after=RETRY_AFTER)
        page = pages.rejected(busy, posted.payload if posted else None, tokens.issue(cfg.secret, now))
        return _html(503, page, headers={"Retry-After": str(RETRY_AFTER)})
    except Refused as exc:
        status = status_of(exc)
        logger.info("rejected", extra={"outcome": exc.code, "status": status, "form": "html"})
        metrics.rejected(exc.code)
        # A closed window is said on the first post, even when the token (checked first) was refused.
        is_open = rules.window(now, cfg.deadline).open
        page = pages.rejected(exc, posted.payload if posted else None, tokens.issue(cfg.secret, now),
                              window_open=is_open)
        return _html(status if is_open else 403, page)
    logger.info("submission", extra={"outcome": accepted.outcome, "reference": accepted.reference, "form": "html"})
    _count(accepted)
    link = receipt_link(cfg, accepted)
    _mail_receipt(cfg, accepted, link)
    return _html(201, pages.receipt_page({**accepted.body, "receipt_url": link}))


# The handlers of contract.ROUTES by operation: the one list of routes.
HANDLERS = {"getCampaign": get_campaign, "getSchema": get_schema, "getOpenapi": get_openapi,
            "createUpload": post_upload, "createSubmission": post_submission,
            "applyUploads": get_apply_uploads, "applyRemove": post_apply_remove, "applyForm": get_apply_form}
DISPATCH = {(route.method, route.path): HANDLERS[route.operation] for route in contract.ROUTES}


def rejected(request: Request, exc: Refused) -> Response:
    status = status_of(exc)
    logger.info("rejected", extra={"outcome": exc.code, "status": status})
    if request.path == "/api/submissions":
        metrics.rejected(exc.code)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    body = exc.body()
    if exc.code == "duplicate_applicant":  # the receipt link can be sent again to the address on file
        body = {"error": {"code": exc.code, "message": exc.message, "resend": True}}
    return _json(status, body, headers)


def unavailable(request: Request, exc: StorageUnavailable) -> Response:
    logger.warning("storage unavailable", extra={"outcome": "unavailable", "aws_error": str(exc)})
    metrics.count(metrics.UNAVAILABLE)
    return _json(503, Unavailable("unavailable", UNAVAILABLE).body(), {"Retry-After": str(RETRY_AFTER)})


def failed(request: Request, exc: Exception) -> Response:
    # A bug. The applicant gets an ordinary 500, so Lambda's Errors never counts it: the UnexpectedError metric
    # (alarmed within a minute) and this line are how operators learn of it. Type and code location only:
    # messages, tracebacks and local values may quote the request.
    path = request.path
    logger.error("unexpected error", extra={"outcome": "error", "route": path if path in ROUTES else "other",
                                            **metrics.code_location(exc)})
    metrics.count(metrics.UNEXPECTED)
    return _json(500, Refused("internal", INTERNAL).body())


def not_found(request: Request) -> Response:
    path = request.path
    if path in ROUTES:
        refused = Refused("method_not_allowed", wording.text("intake.method_not_allowed", method=ROUTES[path]))
        return _json(405, refused.body(), {"Allow": ROUTES[path]})
    return _json(404, Refused("not_found", wording.text("intake.not_found")).body())


def answer(request: Request) -> Response:
    """The route's answer, or the answer to what it raised: a refusal, storage trouble or a bug."""
    route = DISPATCH.get((request.method, request.path))  # an event without them fails, as under any router
    try:
        return route(request) if route else not_found(request)
    except Refused as exc:
        return rejected(request, exc)
    except StorageUnavailable as exc:
        return unavailable(request, exc)
    except Exception as exc:
        return failed(request, exc)


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return proxy_result(answer(Request(event)))
    finally:
        metrics.flush(context)


def _hook_snapshots() -> None:
    """SnapStart (infra/adr/0021-snapstart.md): warmup.prepare before the snapshot, warmup.reseed after each
    restore. Only Lambda's managed runtime has snapshot_restore_py; locally and in tests nothing is hooked."""
    try:
        import snapshot_restore_py as runtime  # type: ignore[import-not-found]
    except ImportError:
        return
    from bdpilot.web import warmup

    runtime.register_before_snapshot(warmup.prepare)
    runtime.register_after_restore(warmup.reseed)


_hook_snapshots()
