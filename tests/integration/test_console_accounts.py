"""MIIT's accounts page through console.app.handler in moto: an invited account whose authenticator was never
set up shows as 待开通 (the listing carries a set-up flag, never a secret), and MIIT may invite that e-mail again
(the half-opened account starts over, audited); an account that was set up is still refused."""

from __future__ import annotations

from bdpilot.console import auth, services
from bdpilot.store.accounts import Accounts
from tests.integration.test_console_signin import MIIT_EMAIL, PASSWORD, Browser, enrol, invite, sign_in, staff

assert staff  # the fixture, used by name below

UNIT_EMAIL = "wang.fang@hebei.example.gov.cn"
SECRETS = ("password_hash", "totp_secret", "recovery", "totp_last_step")


def miit_browser(accounts: Accounts, now) -> Browser:
    browser = Browser()
    secret, _ = enrol(browser, invite(accounts, now), now)
    now.advance(seconds=30)
    assert sign_in(browser, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))["statusCode"] == 303
    return browser


def half_open(accounts: Accounts, now) -> Browser:
    """A unit account invited and given its password, its authenticator never confirmed."""
    browser = Browser("198.51.100.9")
    token = invite(accounts, now, UNIT_EMAIL, "unit", "河北省")
    browser.get(f"/staff/invitation/{token}")
    answer = browser.post(f"/staff/invitation/{token}", {"password": PASSWORD, "repeat": PASSWORD})
    assert answer["statusCode"] == 303 and answer["headers"]["Location"] == "/staff/setup"
    return browser


def row_of(page: str, email: str) -> str:
    return page.split(f"<td>{email}</td>", 1)[1].split("</tr>", 1)[0]


def audit_events(aws) -> list[tuple[str, str]]:
    items = aws.dynamodb.scan(TableName=services.current().audit.table)["Items"]
    return sorted((i["action"]["S"], i.get("target", {}).get("S", "")) for i in items)


def test_an_account_never_set_up_is_listed_as_pending_without_secrets(staff, now, aws) -> None:
    miit = miit_browser(staff, now)
    half_open(staff, now)
    listed = {a["email"]: a for a in staff.list_accounts()}
    assert listed[UNIT_EMAIL]["set_up"] is False and listed[MIIT_EMAIL]["set_up"] is True
    assert not any(key in a for a in listed.values() for key in SECRETS)
    page = miit.get("/staff/accounts")["body"]
    assert "待开通" in row_of(page, UNIT_EMAIL) and "正常" not in row_of(page, UNIT_EMAIL)
    assert "正常" in row_of(page, MIIT_EMAIL) and "待开通" not in row_of(page, MIIT_EMAIL)


def test_miit_may_invite_again_an_email_never_set_up_and_only_that(staff, now, aws) -> None:
    miit = miit_browser(staff, now)
    stale = half_open(staff, now)
    form = {"email": UNIT_EMAIL, "name": "王芳", "role": "unit", "unit": "河北省"}
    miit.get("/staff/accounts")
    again = miit.post("/staff/accounts/invite", form)
    assert again["statusCode"] == 200 and "/staff/invitation/" in again["body"] and "已有账号" not in again["body"]
    assert ("reinvite", UNIT_EMAIL) in audit_events(aws) and ("invite", UNIT_EMAIL) in audit_events(aws)
    # The half-opened account is gone, and with it the set-up session the first link started.
    assert staff.get_account(UNIT_EMAIL) is None
    assert stale.get("/staff/setup")["headers"]["Location"] == "/staff/signin"
    # The new link opens the account afresh; once set up, the e-mail is refused as before.
    token = again["body"].split("/staff/invitation/", 1)[1].split("<", 1)[0]
    fresh = Browser("198.51.100.10")
    secret, _ = enrol(fresh, token, now)
    assert secret and staff.list_accounts()[-1]["set_up"] is True
    miit.get("/staff/accounts")
    refused = miit.post("/staff/accounts/invite", form)
    assert refused["statusCode"] == 422 and "这个电子邮箱已有账号。" in refused["body"]
    assert sum(1 for action, _ in audit_events(aws) if action == "reinvite") == 1


def test_the_conditional_removal_keeps_an_account_set_up_meanwhile(staff, now) -> None:
    staff.create_account(UNIT_EMAIL, name="王芳", role="unit", unit="河北省", invited_by="t", created_at="x",
                         password_hash="h", totp_secret="S", totp_last_step=7)
    assert staff.remove_unconfirmed(UNIT_EMAIL) is False and staff.get_account(UNIT_EMAIL) is not None
    assert staff.remove_unconfirmed("nobody@example.gov.cn") is False
