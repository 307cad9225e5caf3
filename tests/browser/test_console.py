"""The staff console in Chromium against the README's local run (real HTTP, moto): for a unit account and for an
MIIT account, the invitation link printed by `bdpilot staff invite --local` -> password -> authenticator -> sign
in -> list -> detail -> PDF download -> CSV export -> sign out, with axe on every page reached. Two units'
applicants are stored through the public API; the unit account never sees the other unit's on any page it can
reach, in a download or in an export, and the other unit's references answer exactly as references that do not
exist."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import openpyxl
import pytest
import requests
from playwright.sync_api import Page, expect

from bdpilot.domain import reference
from tests.browser.apply_support import Watched
from tests.browser.console_support import (
    PASSWORD,
    REFUSED,
    Account,
    axe_clean,
    code_at,
    download,
    invite,
    open_account,
    sign_in,
    sign_out_and_back,
)
from tests.factories import PDF, uscc
from tests.live import submit_over_http

pytestmark = pytest.mark.browser

OURS, THEIRS = "山西省", "辽宁省"  # units no other browser test submits for (the factory's is 河北省)


@dataclass
class Seeded:
    refs: dict[str, list[str]]  # unit -> references
    names: dict[str, str]  # reference -> applicant name
    usccs: dict[str, str]  # reference -> USCC

    def secrets_of(self, unit: str) -> list[str]:
        """What must never reach another unit: the references, applicant names and USCCs of `unit`."""
        return [x for ref in self.refs[unit] for x in (ref, self.names[ref], self.usccs[ref])]


@pytest.fixture(scope="module")
def seeded(live: Any) -> Seeded:
    refs: dict[str, list[str]] = {OURS: [], THEIRS: []}
    names, usccs = {}, {}
    run = secrets.randbelow(10_000)  # the live run is the session's: keep this module's applicants apart
    for i, unit in enumerate([OURS, OURS, THEIRS]):
        name, code = f"控制台{unit}{run}企业{i}有限公司", uscc(70_000 + run * 3 + i)
        reply = submit_over_http(live.url, requests.Session(), 0, cover={"recommender": unit},
                                 applicant={"name": name, "uscc": code})
        refs[unit].append(reply["reference"])
        names[reply["reference"]], usccs[reply["reference"]] = name, code
    return Seeded(refs, names, usccs)


@pytest.fixture
def console(watched: Watched) -> Iterator[Page]:
    watched.expected.extend(f"status of {n}" for n in REFUSED)  # answers provoked on purpose
    yield watched.page


def new_email(who: str) -> str:
    return f"{who}.{secrets.token_hex(4)}@example.gov.cn"


def absent_reference() -> str:
    return reference.reference_for(b"no-such-submission", "no-such-key")


def reachable(page: Page, start: str, limit: int = 40) -> list[str]:
    """Every console page reachable by GET links from `start` (downloads, exports and sign-out excepted)."""
    origin = urlsplit(start).netloc
    seen, queue = [start], [start]
    while queue and len(seen) < limit:
        page.goto(queue.pop(0))
        for href in page.locator("a[href]").evaluate_all("els => els.map(e => e.href)"):
            url = urljoin(page.url, href).split("#")[0]
            parts = urlsplit(url)
            if (parts.netloc == origin and parts.path.startswith("/staff/") and "/files/" not in parts.path
                    and parts.path != "/staff/export" and "format=" not in parts.query and url not in seen):
                seen.append(url)
                queue.append(url)
    return seen


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def answer_of(page: Page, url: str) -> tuple[int, str]:
    """The status and the page as Chromium shows it, after following any redirect."""
    response = page.goto(url)
    assert response is not None
    return response.status, page.content()


def test_unit_account_walks_the_console_and_sees_only_its_own(console: Page, live: Any, seeded: Seeded,
                                                              tmp_path: Path) -> None:
    page = console
    account = Account(new_email("sx"), "山西经办人", "unit", OURS)
    open_account(page, invite(live, account), account)
    sign_in(page, live, account, code_at(account.secret, 30))  # the set-up used this step: the next one

    # The list: its own applicants, never the other unit's.
    expect(page.locator("main h1")).to_contain_text(OURS)
    for ref in seeded.refs[OURS]:
        expect(page.locator("main table")).to_contain_text(seeded.names[ref])
    axe_clean(page)
    hidden = seeded.secrets_of(THEIRS)

    # Every page the account can reach by following links holds nothing of the other unit.
    pages = reachable(page, live.url + "staff/")
    assert any("/staff/submissions/" in p for p in pages), pages
    for url in pages:
        page.goto(url)
        content = page.content()
        assert [s for s in hidden if s in content] == [], url
    # Searching for the other unit's applicant by name or USCC finds nothing; asking for its unit changes nothing.
    other = seeded.refs[THEIRS][0]
    for key, value in (("q", seeded.names[other]), ("q", seeded.usccs[other]), ("unit", THEIRS)):
        page.goto(live.url + f"staff/?{key}={quote(value)}")
        shown = page.content().replace(value, "")  # the search box and its heading repeat what was typed
        assert [s for s in hidden if s in shown] == [], value
    axe_clean(page)  # the list with a search

    # The other unit's reference, on every route that takes one, answers as one that does not exist.
    missing = absent_reference()
    for suffix in ("", "/files/license-1.pdf", "/files/ip-1.pdf"):
        nowhere = answer_of(page, live.url + f"staff/submissions/{missing}{suffix}")
        foreign = answer_of(page, live.url + f"staff/submissions/{other}{suffix}")
        assert nowhere[0] == foreign[0] == 404
        assert nowhere[1] == foreign[1] and other not in foreign[1]
    for miit_only in ("staff/accounts", "staff/audit"):
        assert answer_of(page, live.url + miit_only) == answer_of(page, live.url + "staff/no-such-page")
    axe_clean(page)  # the not-found page

    # Detail, with its digest check, and an attachment under its original name.
    page.goto(live.url + "staff/")
    ours = seeded.refs[OURS][0]
    page.locator(f'main a[href="/staff/submissions/{ours}"]').click()
    expect(page.locator("main h1")).to_contain_text(ours)
    expect(page.locator("main")).to_contain_text(seeded.names[ours])
    axe_clean(page)
    name, data = download(page, page.locator(f'a[href="/staff/submissions/{ours}/files/license-1.pdf"]').click,
                          tmp_path)
    assert name == "营业执照.pdf" and data.startswith(b"%PDF") and data == PDF

    # Exports: its own applicants only, whatever unit the address asks for.
    page.goto(live.url + "staff/")
    name, data = download(page, page.locator('main a[href="/staff/export?format=csv"]').click, tmp_path)
    assert name.startswith(f"申报汇总-{OURS}-") and name.endswith(".csv"), name
    text = "\n".join(",".join(r) for r in csv_rows(data))
    assert all(ref in text for ref in seeded.refs[OURS]) and [s for s in hidden if s in text] == []
    page.goto(live.url + "staff/")
    asked = f"/staff/export?format=xlsx&unit={quote(THEIRS)}"
    name, _ = download(page, lambda: page.evaluate(f"() => {{ location.href = '{asked}'; }}"), tmp_path)
    assert name.startswith(f"申报汇总-{OURS}-") and name.endswith(".xlsx"), name
    book = openpyxl.load_workbook(tmp_path / name, read_only=True)
    cells = " ".join(str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row)
    assert all(ref in cells for ref in seeded.refs[OURS]) and [s for s in hidden if s in cells] == []

    page.goto(live.url + "staff/")
    sign_out_and_back(page)
    axe_clean(page)


def test_miit_account_walks_the_console_across_units(console: Page, live: Any, seeded: Seeded,
                                                     tmp_path: Path) -> None:
    page = console
    account = Account(new_email("miit"), "部里经办人", "miit", None)
    open_account(page, invite(live, account), account)
    # A wrong code first: one clear message, then a recovery code instead of the authenticator.
    page.goto(live.url + "staff/signin")
    page.locator("#email").fill(account.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill("000000" if code_at(account.secret) != "000000" else "111111")
    page.locator("main button[type=submit]").click()
    expect(page.locator("main [role=alert]")).to_be_visible()
    assert "/staff/signin" in page.url
    axe_clean(page)
    sign_in(page, live, account, account.recovery[0])

    # All units at once, then one chosen unit.
    for ref in seeded.refs[OURS] + seeded.refs[THEIRS]:
        expect(page.locator("main table")).to_contain_text(seeded.names[ref])
    axe_clean(page)
    page.locator("#unit").select_option(THEIRS)
    page.locator("#unit").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    page.wait_for_url("**/staff/?unit=*")
    expect(page.locator("main h1")).to_contain_text(THEIRS)
    theirs = seeded.refs[THEIRS][0]
    assert [s for s in seeded.secrets_of(OURS) if s in page.content()] == []
    axe_clean(page)

    # Detail and a download from another unit's applicant: MIIT sees every unit.
    page.locator(f'main a[href="/staff/submissions/{theirs}"]').click()
    expect(page.locator("main")).to_contain_text(seeded.names[theirs])
    axe_clean(page)
    name, data = download(page, page.locator(f'a[href="/staff/submissions/{theirs}/files/ip-1.pdf"]').click,
                          tmp_path)
    assert name == "专利证书.pdf" and data.startswith(b"%PDF")  # the name the applicant's record gives it

    # The export of everything.
    page.goto(live.url + "staff/")
    name, data = download(page, page.locator('main a[href="/staff/export?format=csv"]').click, tmp_path)
    assert name.startswith("申报汇总-全部推荐单位-") and name.endswith(".csv"), name
    text = data.decode("utf-8-sig")
    assert all(ref in text for ref in seeded.refs[OURS] + seeded.refs[THEIRS])

    # Accounts: the list, and an invitation made from the page (its link shown once).
    page.locator('header a[href="/staff/accounts"]').click()
    expect(page.locator("main table")).to_contain_text(account.email)
    axe_clean(page)
    page.locator("#email").fill(new_email("ln"))
    page.locator("#name").fill("辽宁经办人")
    page.locator("#role").select_option("unit")
    page.locator("#unit").select_option(THEIRS)
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator(".staff-link")).to_contain_text("/staff/invitation/")
    axe_clean(page)

    # The audit trail holds this account's sign-in, view, download and export.
    page.goto(live.url + "staff/audit")
    main = page.locator("main")
    expect(main).to_contain_text(account.email)
    for target in (theirs, f"{theirs}/ip-1.pdf"):
        expect(main).to_contain_text(target)
    axe_clean(page)

    sign_out_and_back(page)
