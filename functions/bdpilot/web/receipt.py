"""The applicant function: API Gateway REST events for /api/receipt* in, pages and JSON out.

Not the public intake function: that one never reads stored submissions; this one does, and only for the holder
of a signed receipt link (bdpilot.domain.receipts) — or, for resend, only to mail the address on file.

Interface shared by its view modules (helper D's revision registers here too):
- `route(method, path)` registers a view `view(call: Call) -> Reply` for one of the declared ROUTES.
- `Call` is the parsed request: method, path, query, headers (lower-case names), body bytes, `json()`.
- `reply(status, body, headers)` builds the answer: a str body is HTML, bytes are sent as given (set
  Content-Type), anything else is JSON.
"""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from bdpilot import settings
from bdpilot.domain import wording
from bdpilot.web import metrics

# Never log bodies, headers, query strings or tokens: a token opens an application. Only routes and outcomes.
logger = Logger(service="bdpilot")

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
# The pages: the site's CSS inline, no script, forms post back here only. The link's token sits in the URL, so no
# page may pass it on in a Referer.
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
BASE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}

# Every route and its method, as infra/template.yaml must declare it (under /api/receipt and /api/receipt/{proxy+}).
ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/api/receipt"),
    ("GET", "/api/receipt/form"),  # the revise form without JavaScript (web.reviseform)
    ("GET", "/api/receipt/files"),  # its new files without JavaScript (web.revisefiles)
    ("POST", "/api/receipt/files"),
    ("GET", "/api/receipt/record"),
    ("GET", "/api/receipt/resend"),
    ("POST", "/api/receipt/resend"),
    ("POST", "/api/receipt/revision"),
    ("POST", "/api/receipt/uploads"),  # presigned uploads for a revision (the window may be closed: 退回修改)
)
# The modules whose views fill ROUTES, imported when the first request arrives (a cold start loads only these).
VIEW_MODULES = ("bdpilot.web.receiptpage", "bdpilot.web.revision", "bdpilot.web.revisefiles")
# A revision carries a whole application, as a submission does: the same bound, checked before decoding.
MAX_BODY_BYTES = settings.MAX_BODY_BYTES


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON; BadRequest(400) when it is not UTF-8 JSON (415 when not declared as JSON)."""
        if self.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise BadRequest(415)
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BadRequest(400) from None


@dataclass
class Reply:
    status: int
    body: str | bytes
    headers: dict[str, str]


View = Callable[[Call], Reply]
VIEWS: dict[tuple[str, str], View] = {}


class BadRequest(Exception):
    """A request refused before (or while) a view reads it: `status` is 400, 413 or 415."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def reply(status: int, body: Any = "", headers: dict[str, str] | None = None) -> Reply:
    """A str body is an HTML page; bytes go out as given (the caller sets Content-Type); anything else is JSON."""
    base = dict(BASE_HEADERS)
    if isinstance(body, str):
        base.update({"Content-Type": HTML, "Content-Security-Policy": HTML_CSP})
        return Reply(status, body, {**base, **(headers or {})})
    if isinstance(body, bytes):
        return Reply(status, body, {**base, **(headers or {})})
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Reply(status, text, {**base, "Content-Type": JSON, **(headers or {})})


def route(method: str, path: str) -> Callable[[View], View]:
    """Register `view` for (method, path); the pair must be declared in ROUTES (so infra declares it too)."""
    key = (method.upper(), path)
    if key not in ROUTES:
        raise ValueError(f"undeclared receipt route {key}")

    def register(view: View) -> View:
        VIEWS[key] = view
        return view

    return register


def _load_views() -> None:
    if len(VIEWS) < len(ROUTES):
        for name in VIEW_MODULES:
            importlib.import_module(name)


def parse(event: dict[str, Any]) -> Call:
    """An API Gateway REST (v1) proxy event as a Call; BadRequest(413) for a body over the bound, measured before
    decoding (base64 grows a body by a third)."""
    raw = event.get("body") or ""
    encoded = bool(event.get("isBase64Encoded"))
    if len(raw) > (MAX_BODY_BYTES * 4 // 3 + 4 if encoded else MAX_BODY_BYTES):
        raise BadRequest(413)
    try:
        body = base64.b64decode(raw, validate=True) if encoded else raw.encode("utf-8", "surrogatepass")
    except ValueError:
        raise BadRequest(400) from None
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(413)
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
    return Call(method=str(event.get("httpMethod") or "GET").upper(), path=str(event.get("path") or "/"),
                query=query, headers=headers, body=body)


def _refusal(status: int, code: str, html: bool) -> Reply:
    """A refusal as a page for a browser's GET, as the intake's JSON error body otherwise."""
    message = wording.text(f"receipt.refused.{code}")
    if html:
        from bdpilot.web import receiptpage

        return reply(status, receiptpage.message_page(message))
    return reply(status, {"error": {"code": code, "message": message}})


def dispatch(call: Call) -> Reply:
    _load_views()
    view = VIEWS.get((call.method, call.path))
    if view is not None:
        return view(call)
    allowed = [m for m, p in ROUTES if p == call.path]
    if allowed:
        answer = _refusal(405, "method_not_allowed", call.method == "GET")
        answer.headers["Allow"] = ", ".join(allowed)
        return answer
    return _refusal(404, "not_found", call.method == "GET")


def _answer(event: dict[str, Any]) -> Reply:
    from bdpilot.intake.refusals import Refused, Unavailable
    from bdpilot.store import StorageUnavailable

    html = str(event.get("httpMethod") or "GET").upper() == "GET"
    path = str(event.get("path") or "")
    route_name = path if any(p == path for _, p in ROUTES) else "other"
    try:
        return dispatch(parse(event))
    except BadRequest as exc:
        code = {413: "too_large", 415: "not_json"}.get(exc.status, "unreadable")
        return _refusal(exc.status, code, html)
    except Refused as exc:  # the intake's refusals (a revision), with the public API's statuses
        from bdpilot.web.api import status_of

        logger.info("rejected", extra={"outcome": exc.code, "route": route_name})
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return reply(status_of(exc), exc.body(), headers)
    except StorageUnavailable as exc:
        logger.warning("storage unavailable", extra={"outcome": "unavailable", "aws_error": str(exc)})
        metrics.count(metrics.UNAVAILABLE)
        if html:
            return _refusal(503, "unavailable", True)
        return reply(503, Unavailable("unavailable", wording.text("intake.unavailable")).body(), {"Retry-After": "5"})
    except Exception as exc:
        # A bug: type and code location only (messages and locals may quote the request or the token).
        logger.error("unexpected error", extra={"outcome": "error", "route": route_name,
                                                **metrics.code_location(exc)})
        metrics.count(metrics.UNEXPECTED)
        return _refusal(500, "internal", html)


def _job(job: Any, context: Any) -> dict[str, Any]:
    """A resend's lookup and mail. An error propagates: Lambda counts it and retries the asynchronous event (at
    most twice); nothing is sent before the last storage read, and a failed mail is queued, never raised."""
    from bdpilot.web import receiptpage

    try:
        receiptpage.resend_job(job)
    finally:
        metrics.flush(context)
    logger.info("resend job", extra={"outcome": "done"})
    return {}


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from bdpilot.store.resends import JOB

    if JOB in event:  # a resend's lookup and mail, handed on by this function itself (store.resends.hand_off)
        return _job(event[JOB], context)
    try:
        answer = _answer(event)
    finally:
        metrics.flush(context)
    body = answer.body
    if isinstance(body, bytes):
        return {"statusCode": answer.status, "headers": answer.headers, "isBase64Encoded": True,
                "body": base64.b64encode(body).decode("ascii")}
    return {"statusCode": answer.status, "headers": answer.headers, "isBase64Encoded": False, "body": body}
