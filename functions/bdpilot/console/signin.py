"""Signing in (e-mail, password, and a TOTP code or a recovery code) and out.

One answer for every failure (unknown e-mail, wrong password, wrong or replayed code, disabled account, set-up not
finished), after the same work (argon2 runs against a decoy for an unknown e-mail): nothing tells whether an
account exists (ASVS V6.3.8). Failures are counted per e-mail (known or not) and per address; see auth.
"""

from __future__ import annotations

from typing import Any

from bdpilot.console import auth, views
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.views import escape, field, form, message
from bdpilot.domain import wording

MAX_EMAIL = 254


def t(key: str, /, **params: Any) -> str:
    return wording.text(f"console.{key}", **params)


def signin_page(ctx: Context, *, email: str = "", error: str = "", notice: str = "", status: int = 200) -> Answer:
    inner = (field("email", t("email"), kind="email", value=email, autocomplete="username")
             + field("password", t("password"), kind="password", autocomplete="current-password")
             + field("code", t("code"), hint=t("code_hint"), autocomplete="one-time-code",
                     extra=' inputmode="text" maxlength="20"')
             + f'<button type="submit">{escape(t("signin_button"))}</button>')
    body = (message(error, error=True) if error else "") + (message(notice) if notice else "")
    body += f'<p>{escape(t("signin_intro"))}</p>' + form(ctx, views.SIGNIN, inner)
    return views.page(ctx, t("signin_title"), body, status=status)


@route("GET", "/staff", roles=None)
def root(ctx: Context) -> Answer:
    return views.redirect(views.HOME)


@route("GET", "/staff/signin", roles=None)
def show(ctx: Context) -> Answer:
    if ctx.staff is not None:
        return views.redirect(views.HOME)
    notices = {"out": t("signed_out"), "expired": t("session_ended")}
    return signin_page(ctx, notice=notices.get(ctx.request.query.get("note", ""), ""))


def _second_factor(ctx: Context, account: dict[str, Any], code: str) -> bool:
    """Check the code, and use it up at once (a conditional write: a replayed or raced code loses)."""
    accounts = ctx.services.accounts
    email = str(account["email"])
    if auth.looks_like_totp(code):
        step = auth.verify_totp(str(account.get("totp_secret") or ""), code, _now(ctx),
                                int(account.get("totp_last_step") or 0))
        return step is not None and bool(accounts.use_totp_step(email, step))
    digest = auth.recovery_digest(code)
    kept = account.get("recovery") or set()
    return any(auth.same(k, digest) for k in kept) and bool(accounts.use_recovery_code(email, digest))


def _now(ctx: Context) -> Any:
    assert ctx.now is not None  # set by the handler for every request
    return ctx.now


def _fail(ctx: Context, email: str) -> Answer:
    now = auth.epoch(_now(ctx))
    accounts = ctx.services.accounts
    failures = accounts.record_failure("account", email, now, auth.ACCOUNT_LOCK_SECONDS)
    until = auth.lock_after(failures, _now(ctx))
    if until is not None:
        accounts.lock("account", email, until)
    if ctx.request.address:
        accounts.record_failure("address", ctx.request.address, now, auth.ADDRESS_WINDOW_SECONDS)
    ctx.audit("signin", email, "failed", actor=email)
    return signin_page(ctx, email=email, error=t("signin_failed"), status=401)


@route("POST", "/staff/signin", roles=None)
def submit(ctx: Context) -> Answer:
    fields = ctx.request.form
    email = fields.get("email", "").strip().lower()[:MAX_EMAIL]
    password = fields.get("password", "")[:auth.MAX_PASSWORD]
    code = fields.get("code", "").strip()[:20]
    accounts = ctx.services.accounts
    now = _now(ctx)
    locked_out = auth.address_blocked(accounts.get_throttle("address", ctx.request.address), now) \
        if ctx.request.address else False
    if locked_out or auth.account_locked(accounts.get_throttle("account", email), now):
        ctx.audit("signin", email, "locked", actor=email)
        minutes = auth.ACCOUNT_LOCK_SECONDS // 60
        return signin_page(ctx, email=email, error=t("signin_locked", minutes=minutes), status=429)
    account = accounts.get_account(email) if email else None
    stored = str(account["password_hash"]) if account and account.get("password_hash") else None
    password_ok = auth.verify_password(stored, password)
    if (account is None or not password_ok or account.get("disabled") or not auth.confirmed(account)
            or not _second_factor(ctx, account, code)):
        return _fail(ctx, email)
    assert stored is not None
    if auth.needs_rehash(stored):
        accounts.set_password(email, auth.hash_password(password))
    accounts.clear_throttle("account", email)
    # A new id at every sign-in (a session fixed by someone else before it is never raised to signed in).
    if ctx.session is not None:
        accounts.revoke_session(str(ctx.session["key"]))
    session_id = auth.token()
    created = auth.epoch(now)
    accounts.create_session(auth.digest(session_id), email=email, role=str(account["role"]),
                            unit=account.get("unit") or None, created_at=created, csrf=auth.token(),
                            expires_at=auth.session_expiry(created))
    ctx.audit("signin", email, "ok", actor=email)
    answer = views.redirect(views.HOME)
    answer.cookies.append(auth.session_cookie(session_id))
    return answer


@route("POST", "/staff/signout", roles=None)
def signout(ctx: Context) -> Answer:
    if ctx.session is not None:
        ctx.services.accounts.revoke_session(str(ctx.session["key"]))
        ctx.audit("signout", str(ctx.session["email"]), actor=str(ctx.session["email"]))
    answer = views.redirect(f"{views.SIGNIN}?note=out")
    answer.cookies.append(auth.clear_cookie())
    return answer

