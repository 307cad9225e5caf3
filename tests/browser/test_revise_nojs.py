"""Revise through the receipt link in real Chromium with JavaScript disabled (issue 14): the receipt page offers the
server-rendered form instead of apply.js's revise mode, the form opens filled from the stored record with its
attachments, a refusal brings it back with every answer kept, and the post answers with version 2's receipt."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, expect

from bdpilot.domain import wording
from tests.browser.apply_support import Watched, new_page, pdf_file
from tests.browser.test_apply_nojs import axe_clean, upload_plain
from tests.live import submit_over_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVISED = "修改后的项目名称（无脚本版）"
PROJECT = '[name="application.cover.project_name"]'


@pytest.fixture
def nojs(browser: Browser, live: Any) -> Iterator[Watched]:
    w = new_page(browser, live, javascript=False)
    yield w
    w.context.close()
    assert w.unexpected_errors() == [], w.errors
    assert w.external == [], w.external


def test_revise_without_javascript_from_the_receipt_link_to_version_2(nojs: Watched, browser: Browser,
                                                                      live: Any) -> None:
    first = submit_over_http(live.url, requests.Session(), random.randrange(10**12))
    ref, stored = first["reference"], first["record"]
    token = parse_qs(urlsplit(first["receipt_url"]).query)["t"][0]
    page = nojs.page
    nojs.expected.append("status of 4")  # the refused post below answers 422 (its page is the form again)
    page.goto(live.url + "api/receipt?t=" + token)
    # Without JavaScript the script's link is hidden and the server's form is offered under the same name.
    expect(page.locator(".revise-js")).to_be_hidden()
    expect(page.locator("#revise-nojs")).to_have_text(wording.text("receipt.revise"))
    page.click("#revise-nojs")
    expect(page.locator("h1")).to_contain_text(ref)
    assert page.locator(PROJECT).input_value() == stored["application"]["cover"]["project_name"]
    assert page.locator('[name="application.applicant.name"]').input_value() == \
        stored["application"]["applicant"]["name"]
    expect(page.locator('[name="application.pledge"]')).to_be_checked()
    for kind in ("license", "ip"):
        files = page.locator(f"#application-attachments-{kind}-files li")
        expect(files).to_have_count(1)
        expect(files.get_by_role("checkbox")).not_to_be_checked()
    checker = new_page(browser, live)  # axe is a script: the same HTML is checked in a page that runs one
    try:
        axe_clean(checker.page, live, page)
    finally:
        checker.context.close()

    # A refusal (项目名称 emptied) brings the form back with the other answers and the error.
    page.fill(PROJECT, "")
    page.fill('[name="application.contact.name"]', "李四")
    page.wait_for_timeout(1100)  # the local run's minimum fill time, counted from the form's fresh token
    page.click("#apply-submit")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator('[name="application.contact.name"]')).to_have_value("李四")
    expect(page.locator("#application-attachments-ip-files li")).to_have_count(1)

    page.fill(PROJECT, REVISED)
    with page.expect_response(lambda r: "/api/receipt/revision" in r.url and r.request.method == "POST") as got:
        page.click("#apply-submit")
    assert got.value.status == 201, got.value.text()[:500]
    expect(page.locator("main")).to_contain_text(wording.text("receipt.version_line", version=2))
    store = live.store()
    index = store.get_index(ref)
    assert index["version"] == 2 and index["digest"] != first["digest"]
    expect(page.locator(".apply-screen code").first).to_have_text(index["digest"])
    current = json.loads(store.get_record(ref))
    assert current["application"]["cover"]["project_name"] == REVISED
    assert current["application"]["contact"]["name"] == "李四"
    assert {f["kind"]: f["sha256"] for f in current["files"]} == {f["kind"]: f["sha256"] for f in stored["files"]}
    # The new receipt page offers revising again, still without JavaScript.
    expect(page.locator("#revise-nojs")).to_be_visible()


def test_without_javascript_a_file_is_replaced_through_the_revision_s_own_upload_window(
        nojs: Watched, browser: Browser, live: Any, tmp_path: Path) -> None:
    """A unit returns the 申报书 for a better 营业执照: without JavaScript the applicant ticks the old one, uploads
    the new one in the window the form opens, comes back and submits version 2 with it."""
    first = submit_over_http(live.url, requests.Session(), random.randrange(10**12))
    ref, stored = first["reference"], first["record"]
    token = parse_qs(urlsplit(first["receipt_url"]).query)["t"][0]
    page = nojs.page
    page.goto(live.url + "api/receipt/form?t=" + token)
    old = page.locator("#application-attachments-license-files li")
    expect(old).to_have_count(1)
    old.get_by_role("checkbox").check()
    with nojs.context.expect_page() as opened:
        page.get_by_role("link", name=wording.text("revision.form.files_link")).click()
    window = opened.value
    window.wait_for_load_state()
    expect(window.locator("h1")).to_have_text("上传附件")
    upload_plain(window, "营业执照", pdf_file(tmp_path, "营业执照（新）.pdf", 2048))
    expect(window.locator("[role=status]")).to_contain_text("“营业执照（新）.pdf”")
    expect(window.locator("a.apply-continue")).to_have_count(0)  # the way on is the revise form's window
    checker = new_page(browser, live)  # axe is a script: the same HTML is checked in a page that runs one
    try:
        axe_clean(checker.page, live, window)
    finally:
        checker.context.close()
    window.close()

    page.wait_for_timeout(1100)  # the local run's minimum fill time, counted from the form's fresh token
    with page.expect_response(lambda r: "/api/receipt/revision" in r.url and r.request.method == "POST") as got:
        page.click("#apply-submit")
    assert got.value.status == 201, got.value.text()[:500]
    expect(page.locator("main")).to_contain_text(wording.text("receipt.version_line", version=2))
    current = json.loads(live.store().get_record(ref))
    files = {f["kind"]: f for f in current["files"]}
    assert files["license"]["filename"] == "营业执照（新）.pdf"
    assert files["license"]["sha256"] != next(f for f in stored["files"] if f["kind"] == "license")["sha256"]
    assert files["ip"]["sha256"] == next(f for f in stored["files"] if f["kind"] == "ip")["sha256"]


def test_with_javascript_the_receipt_page_links_the_scripted_form(watched: Watched, live: Any) -> None:
    first = submit_over_http(live.url, requests.Session(), random.randrange(10**12))
    token = parse_qs(urlsplit(first["receipt_url"]).query)["t"][0]
    page = watched.page
    page.goto(live.url + "api/receipt?t=" + token)
    expect(page.locator(".revise-js a")).to_be_visible()
    expect(page.locator(".revise-js a")).to_have_attribute("href", "/apply/?revise=" + token)
    expect(page.locator("#revise-nojs")).to_have_count(0)  # <noscript> content is not parsed when scripts run
