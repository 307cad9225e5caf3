"""MIIT's accounts page: who has an account, inviting a MIIT or 推荐单位 account (a one-time link, shown once),
disabling and enabling accounts (disabling ends every session of the account at once). No self sign-up.
"""

from __future__ import annotations

import re
from typing import Any

from bdpilot.console import auth, views
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.views import escape, field, form, message
from bdpilot.domain import campaign, wording

PAGE = "/staff/accounts"
MIIT = ("miit",)
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
MAX_NAME = 50


def t(key: str, /, **params: Any) -> str:
    return wording.text(f"console.{key}", **params)


def units() -> list[str]:
    """The units an account may belong to: the campaign's 推荐单位, and the one unlisted submissions go to."""
    return [r.name for r in campaign.LISTED_RECOMMENDERS] + [campaign.UNLISTED_RECOMMENDER]


def _status(account: dict[str, Any]) -> str:
    if account.get("disabled"):
        return t("disabled")
    # Invited, password perhaps chosen, authenticator never confirmed: it cannot sign in yet.
    return t("active") if account.get("set_up") else t("pending")


def _row(ctx: Context, account: dict[str, Any]) -> str:
    email = str(account.get("email", ""))
    disabled = bool(account.get("disabled"))
    action = ""
    if ctx.staff is not None and email != ctx.staff.email:  # nobody disables themselves (the last MIIT account)
        label = t("enable_button") if disabled else t("disable_button")
        action = form(ctx, f"{PAGE}/status",
                      f'<input type="hidden" name="email" value="{escape(email)}">'
                      f'<input type="hidden" name="disabled" value="{"0" if disabled else "1"}">'
                      f'<button type="submit" aria-label="{escape(label)} {escape(email)}">{escape(label)}</button>')
    role = t("role_miit") if account.get("role") == "miit" else t("role_unit")
    cells = [email, str(account.get("name", "")), role, str(account.get("unit") or ""), _status(account),
             str(account.get("invited_by") or "")]
    return "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + f"<td>{action}</td></tr>"


def _invite_form(ctx: Context, values: dict[str, str]) -> str:
    role = values.get("role", "unit")
    labels = {"unit": t("invite_role_unit"), "miit": t("invite_role_miit")}
    roles = "".join(f'<option value="{r}"{" selected" if r == role else ""}>{escape(label)}</option>'
                    for r, label in labels.items())
    chosen = values.get("unit", "")
    options = '<option value=""></option>' + "".join(
        f'<option{" selected" if u == chosen else ""}>{escape(u)}</option>' for u in units())
    inner = (field("email", t("email"), kind="email", value=values.get("email", ""))
             + field("name", t("name"), value=values.get("name", ""), extra=f' maxlength="{MAX_NAME}"')
             + f'<div class="staff-field"><label for="role">{escape(t("role"))}</label>'
             f'<select id="role" name="role">{roles}</select></div>'
             f'<div class="staff-field"><label for="unit">{escape(t("unit"))}</label>'
             f'<p class="staff-hint" id="unit-hint">{escape(t("invite_unit_hint"))}</p>'
             f'<select id="unit" name="unit" aria-describedby="unit-hint">{options}</select></div>'
             f'<button type="submit">{escape(t("invite_button"))}</button>')
    return f'<h2>{escape(t("invite_title"))}</h2>' + form(ctx, f"{PAGE}/invite", inner)


def _page(ctx: Context, *, top: str = "", values: dict[str, str] | None = None, status: int = 200) -> Answer:
    found = ctx.services.accounts.list_accounts()
    heads = ["email", "name", "role", "unit", "status", "invited_by", "action"]
    head = "".join(f'<th scope="col">{escape(t(h))}</th>' for h in heads)
    rows = "".join(_row(ctx, a) for a in found)
    table = (f'<table class="staff-table"><caption>{escape(t("accounts_title"))}</caption>'
             f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>") if found else \
        f'<p>{escape(t("accounts_empty"))}</p>'
    body = top + f'<p>{escape(t("accounts_intro"))}</p>' + table + _invite_form(ctx, values or {})
    return views.page(ctx, t("accounts_title"), body, status=status)


@route("GET", PAGE, roles=MIIT)
def show(ctx: Context) -> Answer:
    return _page(ctx)


def _link(ctx: Context, token: str) -> str:
    headers = ctx.request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or ""
    scheme = headers.get("x-forwarded-proto") or "https"
    path = f"/staff/invitation/{token}"
    return f"{scheme}://{host}{path}" if host else path


@route("POST", f"{PAGE}/invite", roles=MIIT)
def invite(ctx: Context) -> Answer:
    form_in = ctx.request.form
    values = {k: form_in.get(k, "").strip() for k in ("email", "name", "role", "unit")}
    email = values["email"].lower()
    role = values["role"] if values["role"] in ("miit", "unit") else "unit"
    unit = values["unit"] if role == "unit" else ""
    problem = ("invite_bad_email" if len(email) > 254 or not EMAIL.fullmatch(email)
               else "invite_bad_name" if not values["name"] or len(values["name"]) > MAX_NAME
               else "invite_bad_unit" if role == "unit" and unit not in units()
               else None)
    existing = ctx.services.accounts.get_account(email) if problem is None else None
    if existing is not None and auth.confirmed(existing):
        problem = "invite_exists"
    if problem:
        return _page(ctx, top=message(t(problem), error=True), values=values, status=422)
    assert ctx.staff is not None and ctx.now is not None
    if existing is not None:
        # Never set up: start it over. The half-opened account and its set-up session go, so only the new link
        # can open it; an authenticator confirmed meanwhile keeps the account (the delete is conditional).
        if not ctx.services.accounts.remove_unconfirmed(email):
            return _page(ctx, top=message(t("invite_exists"), error=True), values=values, status=422)
        ctx.services.accounts.revoke_sessions(email)
        ctx.audit("reinvite", email)
    token = auth.token()
    ctx.services.accounts.create_invitation(
        auth.digest(token), email=email, name=values["name"], role=role, unit=unit or None,
        invited_by=ctx.staff.email, expires_at=auth.epoch(ctx.now) + auth.INVITATION_SECONDS)
    ctx.audit("invite", email)
    link = _link(ctx, token)
    shown = message(t("invite_done", email=email, hours=auth.INVITATION_SECONDS // 3600)) + \
        f'<p class="staff-link"><code>{escape(link)}</code></p>'
    return _page(ctx, top=shown)


@route("POST", f"{PAGE}/status", roles=MIIT)
def status(ctx: Context) -> Answer:
    email = ctx.request.form.get("email", "").strip().lower()[:254]
    disabled = ctx.request.form.get("disabled") == "1"
    assert ctx.staff is not None
    if email == ctx.staff.email or ctx.services.accounts.get_account(email) is None:
        return views.not_found(ctx)
    ctx.services.accounts.set_disabled(email, disabled)
    if disabled:
        ctx.services.accounts.revoke_sessions(email)
    ctx.audit("account_disabled" if disabled else "account_enabled", email)
    return _page(ctx, top=message(t("account_changed", email=email)))
