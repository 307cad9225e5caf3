"""The staff console's identity end to end in moto: invitation -> password -> authenticator -> sign-in ->
sign-out, and every way in that must fail (wrong password or code, replayed code, expired invitation or session,
forged cookie, a post without its CSRF token, lockout and its end), driving console.app.handler with API Gateway
REST events."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from bdpilot.console import app, auth, services
from bdpilot.ops.local import rest_event
from bdpilot.store.accounts import Accounts

MIIT_EMAIL = "li.ming@miit.example.cn"
PASSWORD = "长城 长江 黄河 泰山 华山"


class Browser:
    """Cookies kept between requests, as a browser keeps them (Set-Cookie with Max-Age=0 removes one)."""

    def __init__(self, address: str = "203.0.113.7") -> None:
        self.cookies: dict[str, str] = {}
        self.address = address

    def request(self, method: str, path: str, form: dict[str, str] | None = None, *, csrf: bool = True,
                query: str = "") -> dict[str, Any]:
        headers = {"Host": "console.example.cn"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method == "POST":
            fields = dict(form or {})
            if csrf:
                fields.setdefault("csrf", self.csrf)
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        event = rest_event(method, path, headers=headers, body=body, query=query)
        event["requestContext"]["identity"]["sourceIp"] = self.address
        result = app.handler(event, None)
        for cookie in (result.get("multiValueHeaders") or {}).get("Set-Cookie", []):
            name, _, rest = cookie.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in cookie:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        self.last = result
        found = re.search(r'name="csrf" value="([^"]+)"', result["body"])
        if found:
            self.csrf = unescape(found[1])
        return result

    def get(self, path: str, **kw: Any) -> dict[str, Any]:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
        return self.request("POST", path, form, **kw)


@pytest.fixture
def staff(aws, now, monkeypatch) -> Accounts:
    outputs = boto3.client("cloudformation").describe_stacks(StackName="bdpilot-test")["Stacks"][0]["Outputs"]
    names = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    monkeypatch.setenv("BDPILOT_STAFF_TABLE", names["StaffTableName"])
    monkeypatch.setenv("BDPILOT_AUDIT_TABLE", names["AuditTableName"])
    monkeypatch.setenv("BDPILOT_UNITS_TABLE", names["UnitsTableName"])
    services.reset()
    yield services.current().accounts
    services.reset()


def invite(accounts: Accounts, now, email: str = MIIT_EMAIL, role: str = "miit", unit: str | None = None,
           hours: int = 72) -> str:
    token = auth.token()
    accounts.create_invitation(auth.digest(token), email=email, name="李明", role=role, unit=unit,
                               invited_by="cli", expires_at=auth.epoch(now()) + hours * 3600)
    return token


def enrol(browser: Browser, token: str, now, password: str = PASSWORD) -> tuple[str, list[str]]:
    """Walk an invitation through; the TOTP secret and the recovery codes shown."""
    assert browser.get(f"/staff/invitation/{token}")["statusCode"] == 200
    answer = browser.post(f"/staff/invitation/{token}", {"password": password, "repeat": password})
    assert answer["statusCode"] == 303 and answer["headers"]["Location"] == "/staff/setup"
    page = browser.get("/staff/setup")["body"]
    assert "<svg" in page and "<script" not in page
    secret = re.search(r'class="staff-secret"><code>([A-Z2-7 ]+)</code>', page)[1].replace(" ", "")
    done = browser.post("/staff/setup", {"code": auth.totp_code(secret, now())})
    assert done["statusCode"] == 200
    codes = re.findall(r"<li><code>([A-Z0-9]{5}-[A-Z0-9]{5})</code></li>", done["body"])
    assert len(codes) == 10
    return secret, codes


def sign_in(browser: Browser, email: str, password: str, code: str) -> dict[str, Any]:
    browser.get("/staff/signin")
    return browser.post("/staff/signin", {"email": email, "password": password, "code": code})


def sign_out(browser: Browser) -> None:
    browser.get("/staff/accounts")  # a page with the signed-in header, whose sign-out form holds the session's token
    assert browser.post("/staff/signout")["statusCode"] == 303
    assert auth.COOKIE not in browser.cookies


def audit_actions(aws) -> list[tuple[str, str]]:
    table = services.current().audit.table
    items = aws.dynamodb.scan(TableName=table)["Items"]
    return sorted((i["action"]["S"], i["outcome"]["S"]) for i in items)


def test_invitation_to_signed_in_and_out(staff, now, aws):
    browser = Browser()
    secret, codes = enrol(browser, invite(staff, now), now)
    assert auth.COOKIE not in browser.cookies  # the set-up session ended with the codes shown
    now.advance(seconds=30)
    answer = sign_in(browser, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))
    assert answer["statusCode"] == 303 and answer["headers"]["Location"] == "/staff/"
    cookie = next(c for c in answer["multiValueHeaders"]["Set-Cookie"] if c.startswith(auth.COOKIE + "="))
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    page = browser.get("/staff/accounts")
    assert page["statusCode"] == 200 and "李明" in page["body"] and MIIT_EMAIL in page["body"]
    headers = page["headers"]
    assert headers["Cache-Control"] == "no-store" and headers["X-Frame-Options"] == "DENY"
    assert "noindex" in headers["X-Robots-Tag"] and "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    session_id = browser.cookies[auth.COOKIE]
    browser.get("/staff/accounts")
    out = browser.post("/staff/signout")
    assert out["statusCode"] == 303 and auth.COOKIE not in browser.cookies
    # The old cookie, replayed, is worth nothing: the session is gone from the table.
    replay = Browser()
    replay.cookies[auth.COOKIE] = session_id
    assert replay.get("/staff/accounts")["statusCode"] == 303
    # A recovery code works once.
    now.advance(seconds=30)
    assert sign_in(browser, MIIT_EMAIL, PASSWORD, codes[3])["statusCode"] == 303
    sign_out(browser)
    assert sign_in(browser, MIIT_EMAIL, PASSWORD, codes[3])["statusCode"] == 401
    actions = audit_actions(aws)
    assert ("signin", "ok") in actions and ("signin", "failed") in actions
    assert ("invitation_used", "ok") in actions and ("account_activated", "ok") in actions


def test_wrong_password_code_and_unknown_account_get_one_answer(staff, now, aws):
    browser = Browser()
    secret, _ = enrol(browser, invite(staff, now), now)
    now.advance(seconds=30)
    good = auth.totp_code(secret, now())
    answers = [sign_in(browser, MIIT_EMAIL, "wrong password here", good),
               sign_in(browser, MIIT_EMAIL, PASSWORD, "000000" if good != "000000" else "111111"),
               sign_in(browser, "nobody@example.cn", PASSWORD, good)]
    bodies = {re.sub(r'name="(csrf|email)" value="[^"]*"', "", a["body"]) for a in answers}
    assert {a["statusCode"] for a in answers} == {401} and len(bodies) == 1
    assert "电子邮箱、密码或验证码不正确" in answers[0]["body"]
    # The code was not used by the failed attempts; once used, the same code is refused (replay).
    assert sign_in(browser, MIIT_EMAIL, PASSWORD, good)["statusCode"] == 303
    sign_out(browser)
    assert sign_in(browser, MIIT_EMAIL, PASSWORD, good)["statusCode"] == 401


def test_invitation_is_one_time_and_expires(staff, now):
    token = invite(staff, now)
    enrol(Browser(), token, now)
    again = Browser()
    assert again.get(f"/staff/invitation/{token}")["statusCode"] == 410
    late = invite(staff, now, email="wang.fang@example.cn", hours=1)
    now.advance(hours=1)
    browser = Browser()
    page = browser.get(f"/staff/invitation/{late}")
    assert page["statusCode"] == 410 and "已过期" in page["body"]
    assert browser.get("/staff/invitation/not-a-token")["statusCode"] == 410


def test_password_rules_and_mismatch_keep_the_invitation(staff, now):
    token = invite(staff, now)
    browser = Browser()
    browser.get(f"/staff/invitation/{token}")
    short = browser.post(f"/staff/invitation/{token}", {"password": "short", "repeat": "short"})
    assert short["statusCode"] == 422 and "至少12个字符" in short["body"]
    differ = browser.post(f"/staff/invitation/{token}", {"password": PASSWORD, "repeat": PASSWORD + "x"})
    assert differ["statusCode"] == 422 and "不一致" in differ["body"]
    enrol(browser, token, now)  # still usable


def test_wrong_setup_code_is_refused_and_setup_session_reaches_nothing_else(staff, now):
    token = invite(staff, now)
    browser = Browser()
    browser.get(f"/staff/invitation/{token}")
    browser.post(f"/staff/invitation/{token}", {"password": PASSWORD, "repeat": PASSWORD})
    browser.get("/staff/setup")
    assert browser.post("/staff/setup", {"code": "12345x"})["statusCode"] == 422
    assert browser.get("/staff/accounts")["statusCode"] == 303
    # Not set up: password alone (or with any code) does not sign in.
    assert sign_in(Browser(), MIIT_EMAIL, PASSWORD, "123456")["statusCode"] == 401


def test_session_idle_and_absolute_timeouts(staff, now):
    browser = Browser()
    secret, _ = enrol(browser, invite(staff, now), now)
    now.advance(seconds=30)
    sign_in(browser, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))
    for _ in range(30):  # active every 29 minutes: the idle timeout never strikes...
        now.advance(minutes=29)
        if browser.get("/staff/accounts")["statusCode"] != 200:
            break
    # ...but 12 hours after sign-in the session ends anyway.
    assert browser.last["statusCode"] == 303
    assert browser.last["headers"]["Location"] == "/staff/signin?note=expired"
    now.advance(seconds=30)
    sign_in(browser, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))
    now.advance(minutes=31)
    assert browser.get("/staff/accounts")["statusCode"] == 303


def test_forged_cookie_and_csrf_less_post(staff, now):
    browser = Browser()
    secret, _ = enrol(browser, invite(staff, now), now)
    forged = Browser()
    forged.cookies[auth.COOKIE] = auth.token()
    answer = forged.get("/staff/accounts")
    assert answer["statusCode"] == 303
    assert any(c.startswith(f"{auth.COOKIE}=;") for c in answer["multiValueHeaders"]["Set-Cookie"])
    now.advance(seconds=30)
    sign_in(browser, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))
    browser.get("/staff/accounts")
    no_token = browser.post("/staff/accounts/invite", {"email": "x@example.cn", "name": "王芳", "role": "miit"},
                            csrf=False)
    assert no_token["statusCode"] == 403 and "表单已失效" in no_token["body"]
    wrong = browser.post("/staff/accounts/invite", {"email": "x@example.cn", "name": "王芳", "role": "miit",
                                                    "csrf": auth.token()})
    assert wrong["statusCode"] == 403
    # Sign-in itself needs the pre-session token too (no login CSRF).
    fresh = Browser()
    assert fresh.post("/staff/signin", {"email": MIIT_EMAIL, "password": PASSWORD}, csrf=False)["statusCode"] == 403


def test_lockout_after_five_failures_ends_by_itself(staff, now, aws):
    browser = Browser()
    secret, _ = enrol(browser, invite(staff, now), now)
    for _ in range(5):
        assert sign_in(browser, MIIT_EMAIL, "wrong password here", "000000")["statusCode"] == 401
    now.advance(seconds=30)
    locked = sign_in(browser, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))
    assert locked["statusCode"] == 429 and "15分钟后再试" in locked["body"]
    # Unknown e-mails lock the same way: a lock tells nobody that an account exists.
    for _ in range(5):
        sign_in(Browser(address="198.51.100.9"), "nobody@example.cn", "wrong password here", "000000")
    assert sign_in(Browser(), "nobody@example.cn", "x" * 12, "000000")["statusCode"] == 429
    now.advance(minutes=15)
    assert sign_in(browser, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))["statusCode"] == 303
    assert ("signin", "locked") in audit_actions(aws)


def test_address_throttle(staff, now):
    guesser = Browser(address="192.0.2.50")
    for n in range(30):
        sign_in(guesser, f"guess{n}@example.cn", "wrong password here", "000000")
    assert sign_in(guesser, "another@example.cn", "wrong password here", "000000")["statusCode"] == 429
    assert sign_in(Browser(), "another@example.cn", "wrong password here", "000000")["statusCode"] == 401
    now.advance(minutes=15)
    assert sign_in(guesser, "another@example.cn", "wrong password here", "000000")["statusCode"] == 401


def test_miit_invites_a_unit_account_and_disabling_ends_its_sessions(staff, now, aws):
    miit = Browser()
    secret, _ = enrol(miit, invite(staff, now), now)
    now.advance(seconds=30)
    sign_in(miit, MIIT_EMAIL, PASSWORD, auth.totp_code(secret, now()))
    page = miit.get("/staff/accounts")["body"]
    assert "河北省" in page
    bad = miit.post("/staff/accounts/invite", {"email": "zhao@hebei.example.cn", "name": "赵", "role": "unit",
                                               "unit": "火星"})
    assert bad["statusCode"] == 422 and "请选择推荐单位" in bad["body"]
    done = miit.post("/staff/accounts/invite", {"email": "zhao@hebei.example.cn", "name": "赵", "role": "unit",
                                                "unit": "河北省"})
    link = re.search(r"https://console\.example\.cn(/staff/invitation/[A-Za-z0-9_-]+)", done["body"])[1]
    unit = Browser(address="203.0.113.99")
    unit_secret, _ = enrol(unit, link.rsplit("/", 1)[1], now)
    now.advance(seconds=30)
    assert sign_in(unit, "zhao@hebei.example.cn", PASSWORD, auth.totp_code(unit_secret, now()))["statusCode"] == 303
    # A unit account may not see the accounts page: the same answer as for a page that does not exist.
    denied, missing = unit.get("/staff/accounts"), unit.get("/staff/no-such-page")
    assert denied["statusCode"] == missing["statusCode"] == 404 and denied["body"] == missing["body"]
    miit.get("/staff/accounts")
    miit.post("/staff/accounts/status", {"email": "zhao@hebei.example.cn", "disabled": "1"})
    assert unit.get("/staff/")["statusCode"] == 303  # its session ended at once
    now.advance(seconds=30)
    assert sign_in(unit, "zhao@hebei.example.cn", PASSWORD, auth.totp_code(unit_secret, now()))["statusCode"] == 401
    miit.post("/staff/accounts/status", {"email": "zhao@hebei.example.cn", "disabled": "0"})
    now.advance(seconds=30)
    assert sign_in(unit, "zhao@hebei.example.cn", PASSWORD, auth.totp_code(unit_secret, now()))["statusCode"] == 303
    actions = audit_actions(aws)
    assert ("invite", "ok") in actions and ("account_disabled", "ok") in actions
    assert ("account_enabled", "ok") in actions


def test_bad_requests_and_failures_get_plain_pages(staff, now, monkeypatch):
    browser = Browser()
    browser.get("/staff/signin")
    huge = browser.post("/staff/signin", {"email": "a" * 20000})
    assert huge["statusCode"] == 413 and "<!doctype html>" in huge["body"]

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("li.ming@miit.example.cn")

    monkeypatch.setattr(Accounts, "get_throttle", broken)
    failed = browser.post("/staff/signin", {"email": MIIT_EMAIL, "password": PASSWORD, "code": "000000"})
    assert failed["statusCode"] == 500 and "Traceback" not in failed["body"] and "li.ming" not in failed["body"]
    assert "服务暂时出现问题" in failed["body"]
