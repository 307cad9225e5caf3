"""Shared by the staff console's browser tests: invitations made the way `bdpilot staff invite --local` makes them,
opening an account through its pages (password, authenticator, recovery codes), signing in, axe on every page,
and downloads followed through the presigned 303.

TOTP codes come from pyotp and the secret the set-up page shows as text. The set-up step uses up the current
30-second step, so signing in right after uses the next step's code (the console accepts ±1 step, never a step at
or before the last one accepted): no test waits for the clock.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from bdpilot.ops.staff import cli

PASSWORD = "长城 长江 黄河 泰山 华山 2020"
REFUSED = ("404", "401", "410")  # console errors Chromium logs for pages answered so on purpose


@dataclass
class Account:
    email: str
    name: str
    role: str
    unit: str | None
    secret: str = ""
    recovery: list[str] = field(default_factory=list)


def invite(live: Any, account: Account) -> str:
    """The invitation link, printed by `bdpilot staff invite --local-dir <the live run's folder>`."""
    argv = ["invite", "--email", account.email, "--name", account.name, "--role", account.role,
            "--local-dir", str(live.data_dir)]
    if account.unit:
        argv += ["--unit", account.unit]
    out = io.StringIO()
    assert cli.invite(cli.parser().parse_args(argv), out) == 0
    links = [line for line in out.getvalue().splitlines() if "/staff/invitation/" in line]
    assert len(links) == 1, out.getvalue()
    assert links[0].startswith(live.url.rstrip("/") + "/staff/invitation/")
    return links[0].strip()


def axe_clean(page: Page) -> None:
    results = Axe().run(page)
    assert results.response["passes"], page.url  # axe ran on the page (the console's CSP did not stop it)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def code_at(secret: str, offset: float = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset)


def open_account(page: Page, link: str, account: Account) -> None:
    """Invitation link -> password twice -> authenticator (secret read as text) -> first code -> recovery codes;
    the link is then used up."""
    page.goto(link)
    expect(page.locator("main")).to_contain_text(account.email)
    axe_clean(page)
    page.locator("#password").fill(PASSWORD)
    page.locator("#repeat").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/staff/setup")
    expect(page.locator("svg[role=img]")).to_have_count(1)  # the QR code, drawn inline
    account.secret = page.locator(".staff-secret code").inner_text().replace(" ", "")
    assert len(account.secret) >= 16, account.secret
    axe_clean(page)
    page.locator("#code").fill(code_at(account.secret))
    page.locator("main button[type=submit]").click()
    codes = page.locator(".staff-codes li code")
    expect(codes).to_have_count(10)
    account.recovery = [c.strip() for c in codes.all_inner_texts()]
    assert len(set(account.recovery)) == 10
    axe_clean(page)
    page.locator('main a[href="/staff/signin"]').click()
    page.wait_for_url("**/staff/signin")
    again = page.goto(link)
    assert again is not None and again.status == 410  # one-time: the second visit finds it gone
    expect(page.locator("main [role=alert]")).to_be_visible()
    axe_clean(page)


def sign_in(page: Page, live: Any, account: Account, code: str) -> None:
    page.goto(live.url + "staff/signin")
    axe_clean(page)
    page.locator("#email").fill(account.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill(code)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(live.url + "staff/")
    expect(page.locator(".staff-who")).to_contain_text(account.name)


def download(page: Page, click: Any, folder: Path) -> tuple[str, bytes]:
    """Click something whose answer is the console's 303 to a presigned GET; the file Chromium saved."""
    with page.expect_download() as started:
        click()
    got = started.value
    assert got.failure() is None, got.failure()
    path = folder / got.suggested_filename
    got.save_as(path)
    return got.suggested_filename, path.read_bytes()


def sign_out_and_back(page: Page) -> None:
    """Sign out from the header, then go back in history: the page asks to sign in again (no-store, no session)."""
    before = page.url
    page.locator("header form button[type=submit]").click()
    page.wait_for_url("**/staff/signin?note=out")
    page.go_back()
    page.wait_for_load_state()
    assert "/staff/signin" in page.url, page.url
    expect(page.locator("#password")).to_be_visible()
    assert page.locator("header form").count() == 0  # no signed-in header, no sign-out button
    page.goto(before)
    assert "/staff/signin" in page.url, page.url
