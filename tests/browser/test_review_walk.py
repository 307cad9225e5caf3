"""Review and recommend in Chromium against the README's local run (issue 13): one 推荐单位 takes its applicants
from 待审核 to a submitted 推荐汇总表 — returning one for revision, which the applicant revises through the link
the 退回修改 e-mail carries (read from the local outbox) — and MIIT then sees the unit on its progress page,
the recommended projects with their 推荐意见, and exports them. axe runs on every console page reached."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import requests
from playwright.sync_api import Page, expect

from bdpilot.domain import wording
from tests.browser.apply_support import Watched
from tests.browser.console_support import REFUSED, Account, axe_clean, code_at, download, invite, open_account, sign_in
from tests.browser.test_apply import to_review
from tests.factories import uscc
from tests.live import submit_over_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UNIT = "吉林省"  # a unit no other browser test submits for
REASON = "项目总投资构成说明不完整，请补充资金来源后重新提交。"
REVISED = "吉林省工业互联网数据平台（修改稿）"


def status(key: str) -> str:
    return wording.text(f"review.status.{key}")


def mail_with(live: Any, *needles: str, timeout: float = 15) -> str:
    """The text of the newest mail in the local run's outbox that contains every needle."""
    folder = Path(live.data_dir) / "outbox"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for path in sorted(folder.glob("*.eml"), reverse=True):
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            part = message.get_body(preferencelist=("plain",))
            text = part.get_content() if part is not None else ""
            if all(n in text for n in needles):
                return str(text)
        time.sleep(0.2)
    raise AssertionError(f"no mail with {needles} in {folder}")


def decide(page: Page, live: Any, ref: str, choice: str, *, reason: str = "", opinion: str = "",
           rank: str = "") -> None:
    page.goto(f"{live.url}staff/submissions/{ref}")
    axe_clean(page)
    page.check(f"#status-{choice}")
    if reason:
        page.fill("#reason", reason)
    if opinion:
        page.fill("#opinion", opinion)
    if rank:
        page.select_option("#rank", rank)
    page.locator('form[action$="/decision"] button[type=submit]').click()
    page.wait_for_load_state()
    expect(page.locator("#review")).to_be_visible()
    expect(page.locator("main")).to_contain_text(status(choice))


def test_a_unit_reviews_returns_one_for_revision_submits_its_list_and_miit_receives_it(
        watched: Watched, live: Any, tmp_path: Path) -> None:
    watched.expected.extend(f"status of {n}" for n in REFUSED)
    page = watched.page
    run = secrets.randbelow(10_000)
    refs, names = [], []
    for i in range(3):
        name = f"吉林{run}数据{i}有限公司"
        reply = submit_over_http(live.url, requests.Session(), 0, cover={"recommender": UNIT},
                                 applicant={"name": name, "uscc": uscc(81_000 + run * 3 + i)})
        refs.append(reply["reference"])
        names.append(name)
    first, second, third = refs

    clerk = Account(f"jilin.{secrets.token_hex(4)}@example.gov.cn", "吉林审核员", "unit", UNIT)
    open_account(page, invite(live, clerk), clerk)
    sign_in(page, live, clerk, code_at(clerk.secret, 30))
    for ref in refs:
        expect(page.locator("main")).to_contain_text(ref)

    # 退回修改 with a reason: the applicant is mailed the signed link and revises through it.
    decide(page, live, first, "returned", reason=REASON)
    text = mail_with(live, first, REASON)
    link = re.search(r"https?://\S+/api/receipt\?t=[\w.~-]+", text)
    assert link is not None, text
    page.goto(link.group(0))
    expect(page.locator("main")).to_contain_text(REASON)
    expect(page.locator("main")).to_contain_text(wording.text("review.applicant.returned"))
    page.locator("a.apply-continue").click()
    expect(page.locator("#revise-notice")).to_contain_text(first)
    page.locator('[name="application.cover.project_name"]').fill(REVISED)
    page.check('[name="application.pledge"]')
    to_review(page)
    page.wait_for_timeout(1100)  # the local run's minimum fill time
    page.click("#apply-confirm")
    expect(page.locator("#receipt-version")).to_contain_text("2", timeout=15_000)
    revised_digest = page.locator("#receipt-digest").inner_text()

    # Back on the console: the revision is 待审核 again, as version 2, with version 1 still readable.
    page.goto(f"{live.url}staff/submissions/{first}")
    expect(page.locator("#review")).to_be_visible()
    expect(page.locator("main")).to_contain_text(REVISED)
    expect(page.locator("main")).to_contain_text(revised_digest)
    page.locator(f'a[href="/staff/submissions/{first}/versions/1"]').click()
    expect(page.locator("main")).not_to_contain_text(REVISED)
    axe_clean(page)

    decide(page, live, first, "proposed", opinion="项目基础扎实，示范效应明显，同意推荐。", rank="1")
    decide(page, live, second, "proposed", opinion="数据治理成效突出，同意推荐。", rank="2")
    decide(page, live, third, "rejected", reason="项目尚处于规划阶段，未形成应用成效。")

    # 提交推荐: a confirmation step, then the list is locked and the 推荐汇总表 printed with its digest.
    page.goto(live.url + "staff/recommend")
    axe_clean(page)
    expect(page.locator("main")).to_contain_text(REVISED)
    page.locator('form[action="/staff/recommend/submit"] button[type=submit]').click()
    page.wait_for_load_state()
    axe_clean(page)
    page.locator('form[action="/staff/recommend/submit"] button[type=submit]').click()
    page.wait_for_load_state()
    page.goto(live.url + "staff/recommend/summary")
    axe_clean(page)
    rows = page.locator(".staff-summary-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(REVISED)
    expect(rows.nth(1)).to_contain_text(names[1])
    digest = page.locator(".staff-digest").inner_text().split()[-1].split("：")[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", digest), digest
    _, data = download(page, lambda: page.locator('a[href^="/staff/recommend/summary.xlsx"]').first.click(), tmp_path)
    cells = [[c for c in row if c is not None] for row in openpyxl.load_workbook(io.BytesIO(data)).active.values]
    assert [wording.text("common.digest"), digest] in cells
    assert any(REVISED in map(str, row) for row in cells) and any(names[1] in map(str, row) for row in cells)
    # The list is read-only now: the decision form is gone.
    page.goto(f"{live.url}staff/submissions/{third}")
    expect(page.locator('form[action$="/decision"]')).to_have_count(0)
    page.locator("header form button[type=submit]").click()
    page.wait_for_url("**/staff/signin?note=out")

    # MIIT: the unit is submitted on the progress page; its projects are among the recommended, and exported.
    chief = Account(f"miit.{secrets.token_hex(4)}@example.gov.cn", "工信部处室", "miit", None)
    open_account(page, invite(live, chief), chief)
    sign_in(page, live, chief, code_at(chief.secret, 30))
    page.goto(live.url + "staff/progress")
    axe_clean(page)
    row = page.locator("tr", has=page.locator(f'a[href="/staff/recommend?unit={UNIT}"]'))
    cells = row.locator("td")
    # 类别, 收到申报, 已审核, 拟推荐 / 名额, 提交推荐 (a time, not 未提交)
    expect(cells.nth(1)).to_have_text("3")
    expect(cells.nth(2)).to_have_text("3")
    expect(cells.nth(3)).to_have_text(wording.text("staff.progress.proposed_value", proposed=2, quota=10))
    expect(cells.nth(4)).not_to_contain_text(wording.text("staff.progress.not_submitted"))
    expect(cells.nth(4)).to_contain_text(":")
    page.goto(live.url + "staff/recommended")
    axe_clean(page)
    expect(page.locator("main")).to_contain_text("示范效应明显")
    expect(page.locator("main")).to_contain_text(REVISED)
    _, data = download(page, lambda: page.locator('a[href="/staff/recommended?format=csv"]').click(), tmp_path)
    exported = data.decode("utf-8-sig")
    assert first in exported and second in exported and third not in exported
    assert list(csv.reader(io.StringIO(exported)))
    # Every decision is in the audit trail.
    page.goto(live.url + "staff/audit")
    expect(page.locator("main")).to_contain_text(clerk.email)
    assert page.locator("main tr", has_text=first).count() >= 2
