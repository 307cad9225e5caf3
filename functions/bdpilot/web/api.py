"""The public Lambda function behind API Gateway (REST API): parse, call the domain, shape the response.

Routes:  GET  /api/campaign      window state, deadline, server time, directions, a fresh form token
         GET  /api/schema        the 申报书's JSON Schema (the site's form is generated from it)
         GET  /api/openapi.json  this API, described
         POST /api/uploads       a presigned POST for one PDF
         POST /api/submissions   store a 申报书 (Idempotency-Key header required)
                                 or the /apply/ form posted urlencoded without JavaScript → an HTML page
         GET  /api/apply/uploads  without JavaScript: upload attachments (plain forms posting to storage)
         GET  /api/apply/form     without JavaScript: the form with those uploads filled in
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from bdpilot import settings
from bdpilot.domain import clock, rules, tokens
from bdpilot.domain.application import form_schema
from bdpilot.intake import submission
from bdpilot.intake.submission import Rejection
from bdpilot.store import StorageUnavailable, Store
from bdpilot.web import limits, metrics

# Never log bodies or headers: they carry names, phones, emails and USCCs. Only references and outcomes.
logger = Logger(service="bdpilot")
app = APIGatewayRestResolver(serializer=lambda body: json.dumps(body, ensure_ascii=False, separators=(",", ":")))

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
# The no-JavaScript answer pages: inline styles only, no script, and the form may only post back here.
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
RETRY_AFTER = 5
UNAVAILABLE = "系统繁忙，您的申报书尚未保存，请稍后重新提交（已填写的内容不会丢失）"
# The path without JavaScript (bdpilot.web.formdata, .pages: imported when first used, a cold start needs neither).
FORM = "application/x-www-form-urlencoded"
# Every route, as infra/template.yaml must declare it (tests/infra checks the two agree). The /api/apply/ pages
# are the upload step and form of the path that works without JavaScript.
ROUTES = {"/api/campaign": "GET", "/api/schema": "GET", "/api/openapi.json": "GET",
          "/api/uploads": "POST", "/api/submissions": "POST",
          "/api/apply/uploads": "GET", "/api/apply/form": "GET"}
INTERNAL = "系统出现错误，您的申报书尚未保存，请稍后重新提交"


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


def _body_bytes() -> bytes:
    event = app.current_event
    raw = event.body or ""
    data = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8", "surrogatepass")
    if len(data) > settings.MAX_BODY_BYTES:
        raise Rejection(413, "payload_too_large", "提交的内容超过256KB。附件请通过上传功能提交，正文请精简后再提交")
    return data


def _json_body() -> Any:
    """The request body as JSON, after the checks API Gateway cannot do for us: type, size, encoding."""
    event = app.current_event
    content_type = (event.headers.get("content-type") or event.headers.get("Content-Type") or "").lower()
    if content_type.split(";")[0].strip() != "application/json":
        raise Rejection(415, "unsupported_media_type", "请求内容类型应为 application/json")
    data = _body_bytes()
    try:
        payload = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Rejection(400, "malformed", "请求内容不是有效的UTF-8文本") from exc
    except (ValueError, RecursionError) as exc:
        raise Rejection(400, "malformed", "请求内容不是有效的JSON") from exc
    # Sizes, counts and text checked against the route's models before anything walks the body (the replay hash,
    # pydantic): what a body costs must not grow with what a client packs into 256 KB. Not an object: a 400 later.
    refused = limits.refused(event.path, payload)
    if refused:
        raise Rejection(422, "validation_failed", *refused)
    return payload


def _header(name: str) -> str | None:
    headers = app.current_event.headers or {}
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


@app.get("/api/campaign")
def get_campaign() -> Response:
    return _json(200, submission.campaign_state(settings.load(), clock.now()))


@app.get("/api/schema")
def get_schema() -> Response:
    return Response(200, JSON, _schema_text(), headers={"Cache-Control": "public, max-age=300"})


@app.get("/api/openapi.json")
def get_openapi() -> Response:
    from bdpilot.web import contract  # its response models are needed by this rarely called route only

    return Response(200, JSON, contract.document_text(), headers={"Cache-Control": "public, max-age=300"})


@cache
def _schema_text() -> str:
    return json.dumps(form_schema(), ensure_ascii=False)


@app.post("/api/uploads")
def post_upload() -> Response:
    cfg = settings.load()
    payload = _json_body()
    if not isinstance(payload, dict):
        raise Rejection(400, "malformed", "请求内容应为一个JSON对象")
    if "upload_id" in payload:  # the file is in storage: is it a usable PDF? (the no-JS upload step checks too)
        return _json(200, submission.check_upload(store_for(cfg), cfg, clock.now(), payload))
    ticket = submission.request_upload(store_for(cfg), cfg, clock.now(), payload)
    logger.info("upload presigned", extra={"outcome": "presigned"})
    return _json(201, ticket)


@app.post("/api/submissions")
def post_submission() -> Response:
    cfg = settings.load()
    if (_header("Content-Type") or "").split(";")[0].strip().lower() == FORM:
        return _post_form(cfg)
    accepted = submission.submit(store_for(cfg), cfg, clock.now(), _json_body(), _header("Idempotency-Key"))
    # The honeypot outcome is logged as such; the client cannot tell it from a real acceptance.
    logger.info("submission", extra={"outcome": accepted.outcome, "reference": accepted.reference})
    _count(accepted)
    return _json(accepted.status, accepted.body)


def _count(accepted: submission.Accepted) -> None:
    # A stored submission counts once: its replays store nothing; a bot's honeypot post is a refusal in disguise.
    if accepted.outcome == "stored":
        metrics.count(metrics.ACCEPTED)
    elif accepted.outcome == "honeypot":
        metrics.rejected("honeypot")


@app.get("/api/apply/uploads")
def get_apply_uploads() -> Response:
    """Attachments for browsers without JavaScript (see bdpilot.web.formdata): also storage's redirect target."""
    from bdpilot.web import formdata
    cfg = settings.load()
    query = app.current_event.query_string_parameters or {}
    status, page, form_origins = formdata.upload_page(store_for(cfg), cfg, clock.now(), query,
                                                      formdata.site_base(app.current_event.headers or {}))
    return _html(status, page, form_origins)


@app.get("/api/apply/form")
def get_apply_form() -> Response:
    from bdpilot.web import formdata
    cfg = settings.load()
    status, page = formdata.form_with_uploads(cfg, clock.now(), app.current_event.query_string_parameters or {})
    return _html(status, page)


def _html(status: int, page: str, form_origins: list[str] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    csp = HTML_CSP.replace("form-action 'self'", " ".join(["form-action 'self'", *(form_origins or [])]))
    return Response(status_code=status, content_type=HTML, body=page,
                    headers={"Cache-Control": "no-store", "Content-Security-Policy": csp, **(headers or {})})


def _post_form(cfg: settings.Settings) -> Response:
    """The /apply/ form posted by a browser without JavaScript: the same submission, the same status codes,
    answered with a page (the receipt, or the form again with the answers and what to fix)."""
    from bdpilot.web import formdata, pages
    now = clock.now()
    posted = None
    try:
        posted = formdata.parse(_body_bytes(), _header("Idempotency-Key"))
        accepted = submission.submit(store_for(cfg), cfg, now, posted.payload, posted.key)
    except StorageUnavailable as exc:
        # Same as the JSON answer, but as the form again with every answer kept, so nothing typed is lost.
        logger.warning("storage unavailable", extra={"outcome": "unavailable", "aws_error": str(exc), "form": "html"})
        metrics.count(metrics.UNAVAILABLE)
        busy = Rejection(503, "unavailable", UNAVAILABLE, retry_after=RETRY_AFTER)
        page = pages.rejected(busy, posted.payload if posted else None, tokens.issue(cfg.secret, now))
        return _html(503, page, headers={"Retry-After": str(RETRY_AFTER)})
    except Rejection as exc:
        logger.info("rejected", extra={"outcome": exc.code, "status": exc.status, "form": "html"})
        metrics.rejected(exc.code)
        # A closed window is said on the first post, even when the token (checked first) was refused.
        is_open = rules.window(now, cfg.deadline).open
        page = pages.rejected(exc, posted.payload if posted else None, tokens.issue(cfg.secret, now),
                              window_open=is_open)
        return _html(exc.status if is_open else 403, page)
    logger.info("submission", extra={"outcome": accepted.outcome, "reference": accepted.reference, "form": "html"})
    _count(accepted)
    return _html(accepted.status, pages.receipt_page(accepted.body))


@app.exception_handler(Rejection)
def rejected(exc: Rejection) -> Response:
    logger.info("rejected", extra={"outcome": exc.code, "status": exc.status})
    if app.current_event.path == "/api/submissions":
        metrics.rejected(exc.code)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return _json(exc.status, exc.body(), headers)


@app.exception_handler(StorageUnavailable)
def unavailable(exc: StorageUnavailable) -> Response:
    logger.warning("storage unavailable", extra={"outcome": "unavailable", "aws_error": str(exc)})
    metrics.count(metrics.UNAVAILABLE)
    return _json(503, {"error": {"code": "unavailable", "message": UNAVAILABLE}}, {"Retry-After": str(RETRY_AFTER)})


@app.exception_handler(Exception)
def failed(exc: Exception) -> Response:
    # A bug. The applicant gets an ordinary 500, so Lambda's Errors never counts it: the UnexpectedError metric
    # (alarmed within a minute) and this line are how operators learn of it. Type and code location only:
    # messages, tracebacks and local values may quote the request.
    path = app.current_event.path
    logger.error("unexpected error", extra={"outcome": "error", "route": path if path in ROUTES else "other",
                                            **metrics.code_location(exc)})
    metrics.count(metrics.UNEXPECTED)
    return _json(500, {"error": {"code": "internal", "message": INTERNAL}})


@app.not_found
def not_found(exc: NotFoundError) -> Response:
    path = app.current_event.path
    if path in ROUTES:
        return _json(405, {"error": {"code": "method_not_allowed", "message": f"该地址只接受 {ROUTES[path]} 请求"}},
                     {"Allow": ROUTES[path]})
    return _json(404, {"error": {"code": "not_found", "message": "没有这个接口"}})


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return app.resolve(event, context)
    finally:
        metrics.flush(context)
