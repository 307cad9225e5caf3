"""Opening an invited account: the one-time link -> a password (twice) -> the authenticator (secret as text and
a QR code drawn as inline SVG) -> a first code -> the recovery codes, shown once.

The invitation is consumed (a conditional delete) when the password is accepted; the account is then created
with its password and a fresh TOTP secret, and a set-up session carries the browser to the next step. That
session reaches nothing else: an account counts as set up only once a first code was accepted (auth.confirmed).
"""

from __future__ import annotations

from typing import Any

import segno

from bdpilot.console import auth, views
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.views import escape, field, form, message
from bdpilot.domain import formats, wording

SETUP = "/staff/setup"
MAX_TOKEN = 100


def t(key: str, /, **params: Any) -> str:
    return wording.text(f"console.{key}", **params)


def _unit_label(role: str, unit: str | None) -> str:
    return unit if role == "unit" and unit else t("role_miit")


def _gone(ctx: Context) -> Answer:
    return views.page(ctx, t("invitation_title"), message(t("invitation_gone"), error=True), status=410)


def _invitation(ctx: Context) -> tuple[str, dict[str, Any] | None]:
    token = ctx.request.params.get("token", "")[:MAX_TOKEN]
    found = ctx.services.accounts.get_invitation(auth.digest(token)) if token else None
    if found is None or int(found.get("expires_at") or 0) <= auth.epoch(_now(ctx)):
        return token, None
    return token, found


def _now(ctx: Context) -> Any:
    assert ctx.now is not None  # set by the handler for every request
    return ctx.now


def _password_form(ctx: Context, token: str, invite: dict[str, Any], error: str = "", status: int = 200) -> Answer:
    intro = t("invitation_intro", name=invite.get("name", ""), email=invite.get("email", ""),
              unit=_unit_label(str(invite.get("role")), invite.get("unit")))
    hint = t("new_password_hint", min=auth.MIN_PASSWORD, max=auth.MAX_PASSWORD)
    # The e-mail rides along (read-only, hidden from view) so password managers file the new password under it.
    inner = (f'<input type="hidden" name="username" value="{escape(str(invite.get("email", "")))}"'
             ' autocomplete="username">'
             + field("password", t("new_password"), kind="password", hint=hint, autocomplete="new-password",
                     extra=f' minlength="{auth.MIN_PASSWORD}" maxlength="{auth.MAX_PASSWORD}"')
             + field("repeat", t("repeat_password"), kind="password", autocomplete="new-password")
             + f'<button type="submit">{escape(t("continue_button"))}</button>')
    body = (message(error, error=True) if error else "") + f"<p>{escape(intro)}</p>"
    return views.page(ctx, t("invitation_title"), body + form(ctx, f"/staff/invitation/{token}", inner),
                      status=status)


@route("GET", "/staff/invitation/{token}", roles=None)
def show(ctx: Context) -> Answer:
    token, invite = _invitation(ctx)
    return _password_form(ctx, token, invite) if invite else _gone(ctx)


@route("POST", "/staff/invitation/{token}", roles=None)
def set_password(ctx: Context) -> Answer:
    token, invite = _invitation(ctx)
    if invite is None:
        return _gone(ctx)
    password = ctx.request.form.get("password", "")
    problem = auth.password_problem(password, str(invite["email"]))
    if problem is None and password != ctx.request.form.get("repeat", ""):
        problem = "console.password_mismatch"
    if problem:
        text = wording.text(problem, min=auth.MIN_PASSWORD, max=auth.MAX_PASSWORD)
        return _password_form(ctx, token, invite, text, status=422)
    now = _now(ctx)
    taken = ctx.services.accounts.consume_invitation(auth.digest(token), auth.epoch(now))
    email = str(invite["email"])
    if taken is None or not ctx.services.accounts.create_account(
            email, name=str(taken["name"]), role=str(taken["role"]), unit=taken.get("unit") or None,
            invited_by=str(taken.get("invited_by") or ""), created_at=formats.beijing_time(now),
            password_hash=auth.hash_password(password), totp_secret=auth.new_totp_secret()):
        ctx.audit("invitation_used", email, "refused", actor=email)
        return _gone(ctx)  # used by a second click meanwhile, or an account with this e-mail exists
    ctx.audit("invitation_used", email, actor=email)
    session_id = auth.token()
    created = auth.epoch(now)
    if ctx.session is not None:
        ctx.services.accounts.revoke_session(str(ctx.session["key"]))
    ctx.services.accounts.create_session(auth.digest(session_id), email=email, role=str(taken["role"]),
                                         unit=taken.get("unit") or None, created_at=created, csrf=auth.token(),
                                         expires_at=created + auth.SETUP_SECONDS)
    answer = views.redirect(SETUP)
    answer.cookies.append(auth.session_cookie(session_id))
    return answer


def _setup_account(ctx: Context) -> dict[str, Any] | None:
    """The account being set up by this browser's set-up session, or None (no session, or set up already)."""
    session = ctx.session
    if session is None or ctx.staff is not None:
        return None
    account: dict[str, Any] = session["account"]
    return None if auth.confirmed(account) else account


def qr_svg(uri: str, title: str) -> str:
    """The otpauth URI as an inline SVG QR code (no script, no external image: the CSP allows neither)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, title=title, dark="#000", light="#fff")
    return str(svg).replace("<svg ", '<svg role="img" focusable="false" ', 1)


def _setup_page(ctx: Context, account: dict[str, Any], error: str = "", status: int = 200) -> Answer:
    secret = str(account["totp_secret"])
    uri = auth.totp_uri(secret, str(account["email"]), wording.text("console.brand"))
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    inner = (field("code", t("setup_code"), autocomplete="one-time-code",
                   extra=' inputmode="numeric" pattern="[0-9]{6}" maxlength="6"')
             + f'<button type="submit">{escape(t("confirm_button"))}</button>')
    body = ((message(error, error=True) if error else "") + f'<p>{escape(t("setup_intro"))}</p>'
            + f'<figure class="staff-qr">{qr_svg(uri, t("setup_qr"))}</figure>'
            + f'<p>{escape(t("setup_secret"))}</p><p class="staff-secret"><code>{escape(grouped)}</code></p>'
            + form(ctx, SETUP, inner))
    return views.page(ctx, t("setup_title"), body, status=status)


@route("GET", "/staff/setup", roles=None)
def setup(ctx: Context) -> Answer:
    account = _setup_account(ctx)
    return _setup_page(ctx, account) if account else views.redirect(views.SIGNIN)


@route("POST", "/staff/setup", roles=None)
def confirm(ctx: Context) -> Answer:
    account = _setup_account(ctx)
    if account is None:
        return views.redirect(views.SIGNIN)
    secret = str(account["totp_secret"])
    step = auth.verify_totp(secret, ctx.request.form.get("code", ""), _now(ctx), 0)
    if step is None:
        return _setup_page(ctx, account, t("setup_code_wrong"), status=422)
    codes = auth.new_recovery_codes()
    email = str(account["email"])
    ctx.services.accounts.set_totp(email, secret, {auth.recovery_digest(c) for c in codes}, step)
    assert ctx.session is not None
    # The set-up session ends here: signing in for real proves the password and the authenticator together.
    ctx.services.accounts.revoke_session(str(ctx.session["key"]))
    ctx.audit("account_activated", email, actor=email)
    items = "".join(f"<li><code>{escape(code)}</code></li>" for code in codes)
    body = (f'<p>{escape(t("recovery_intro"))}</p><ol class="staff-codes">{items}</ol>'
            f'<p><a href="{views.SIGNIN}">{escape(t("recovery_done"))}</a></p>')
    answer = views.page(ctx, t("recovery_title"), body)
    answer.cookies.append(auth.clear_cookie())
    return answer
