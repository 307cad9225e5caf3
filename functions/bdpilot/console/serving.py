"""The staff function's request cycle: event -> Request -> session -> CSRF check -> view -> headers.

Who the caller is comes only from the session cookie, checked against the stored session and account on every
request (idle and absolute timeouts, disabled accounts, sessions revoked by an account change). Any failure of a
view becomes a plain Chinese 500 page: no stack trace, no detail, nothing personal in the log.
"""

from __future__ import annotations

from traceback import extract_tb
from typing import Any

from aws_lambda_powertools import Logger

from bdpilot.console import auth, services, views
from bdpilot.console.app import Answer, BadRequest, Context, Request, Staff, match, parse_request
from bdpilot.domain import clock, wording

# The view modules register their routes when imported (the reading pages add themselves here).
from bdpilot.console import accounts, invitation, reading, reviewing, signin  # noqa: F401  isort: skip

logger = Logger(service="bdpilot-staff")

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
HEADERS = {
    "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _session(request: Request, found: services.Services, now: Any) -> tuple[dict[str, Any] | None, Staff | None]:
    """The caller's live session and, once the account's two factors are set up, who signed in (a session of an
    account still setting up its authenticator reaches only the set-up page). A dead session is deleted."""
    session_id = request.cookies.get(auth.COOKIE, "")
    if not session_id or len(session_id) > 100:
        return None, None
    key = auth.digest(session_id)
    session = found.accounts.get_session(key)
    if session is None:
        return None, None
    account = found.accounts.get_account(str(session["email"]))
    if (account is None or account.get("disabled")
            or not auth.session_alive(int(session["created_at"]), int(session["last_seen"]), now)):
        found.accounts.revoke_session(key)
        return None, None
    if auth.needs_touch(int(session["last_seen"]), now):
        found.accounts.touch_session(key, auth.epoch(now))
    session = {**session, "key": key, "account": account}
    if not auth.confirmed(account):
        return session, None
    unit = account.get("unit") or None
    return session, Staff(email=str(account["email"]), name=str(account.get("name") or ""),
                          role=str(account["role"]), unit=str(unit) if unit else None)


def _auditor(request: Request, found: services.Services, staff: Staff | None, now: Any) -> Any:
    def audit(action: str, target: str = "", outcome: str = "ok", actor: str = "") -> None:
        found.audit.append({
            "actor": actor or (staff.email if staff else ""), "role": staff.role if staff else "",
            "unit": (staff.unit or "") if staff else "", "action": action, "target": target,
            "address": request.address, "outcome": outcome,
        }, now)

    return audit


def _error_page(status: int) -> Answer:
    pages = {400: ("console.bad_request_title", "console.bad_request"),
             403: ("console.forbidden_title", "console.forbidden"),
             413: ("console.too_large_title", "console.too_large")}
    title, text = pages.get(status, ("console.internal_title", "console.internal"))
    ctx = Context(request=Request(method="GET", path="/"), staff=None, csrf="", services=None,
                  audit=lambda *a, **k: None)
    return views.page(ctx, wording.text(title),
                      f'<p>{views.escape(wording.text(text))}</p><p><a href="{views.HOME}">'
                      f'{views.escape(wording.text("console.home"))}</a></p>', status=status)


def _dispatch(request: Request) -> Answer:
    if request.path == views.CSS_PATH:
        return Answer(200, views.STYLESHEET, headers={"Content-Type": "text/css; charset=utf-8",
                                                      "Cache-Control": "max-age=3600"})
    now = clock.now()
    found = services.current()
    session, staff = _session(request, found, now)
    cookies: list[str] = []
    if request.cookies.get(auth.COOKIE) and session is None:
        cookies.append(auth.clear_cookie())  # a dead, forged or revoked cookie is dropped at once
    if session is not None:
        csrf = str(session["csrf"])
    else:
        csrf = request.cookies.get(auth.PRE_COOKIE, "")
        if not csrf or len(csrf) > 100:
            csrf = auth.token()
            cookies.append(auth.session_cookie(csrf, auth.PRE_COOKIE))
    ctx = Context(request=request, staff=staff, csrf=csrf, services=found,
                  audit=_auditor(request, found, staff, now), now=now, session=session)
    if request.method == "POST" and not auth.same(csrf, request.form.get("csrf", "")):
        answer = _error_page(403)
    else:
        answer = _route(ctx)
    answer.cookies[:0] = cookies
    return answer


def _route(ctx: Context) -> Answer:
    request = ctx.request
    found = match(request.method, request.path)
    if found is None:
        return views.not_found(ctx)
    chosen, params = found
    if chosen.roles is not None:
        if ctx.staff is None:
            expired = auth.COOKIE in request.cookies
            return views.redirect(f"{views.SIGNIN}?note=expired" if expired else views.SIGNIN)
        if ctx.staff.role not in chosen.roles:
            return views.not_found(ctx)
    ctx.request = Request(method=request.method, path=request.path, params=params, query=request.query,
                          form=request.form, headers=request.headers, cookies=request.cookies,
                          address=request.address)
    return chosen.view(ctx)


def respond(answer: Answer) -> dict[str, Any]:
    """The proxy integration's answer; cookies go in multiValueHeaders (one Set-Cookie each)."""
    body = answer.body.decode("utf-8") if isinstance(answer.body, bytes) else answer.body
    result: dict[str, Any] = {"statusCode": answer.status, "headers": {**HEADERS, **answer.headers},
                              "body": body, "isBase64Encoded": False}
    if answer.cookies:
        result["multiValueHeaders"] = {"Set-Cookie": list(answer.cookies)}
    return result


def handle(event: dict[str, Any]) -> dict[str, Any]:
    try:
        return respond(_dispatch(parse_request(event)))
    except BadRequest as exc:
        return respond(_error_page(exc.status))
    except Exception as exc:
        # The exception's type and where it was raised go to the log, never its message (it may quote a name or
        # an e-mail); the caller sees a plain page.
        frames = [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in extract_tb(exc.__traceback__)]
        logger.error("staff request failed", extra={"outcome": "error", "error": type(exc).__name__,
                                                    "where": frames[-5:]})
        return respond(_error_page(500))
