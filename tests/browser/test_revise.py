"""Revise through the receipt link in real Chromium (issue 14): the form opens filled from the stored record with
its attachments, one attachment is kept and one replaced, and the new receipt shows version 2 with its own
digest; version 1 stays stored beside it."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.apply_support import Watched
from tests.browser.test_apply import attach, to_review
from tests.live import submit_over_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVISED = "修改后的项目名称（第二版）"


def test_revise_through_the_link_keeps_one_file_replaces_another_and_shows_version_2(
        watched: Watched, live: Any, tmp_path: Path) -> None:
    first = submit_over_http(live.url, requests.Session(), random.randrange(10**12))
    ref = first["reference"]
    token = parse_qs(urlsplit(first["receipt_url"]).query)["t"][0]
    page = watched.page
    page.goto(live.url + "apply/?revise=" + token)
    expect(page.locator("#revise-notice")).to_contain_text(ref)
    project = page.locator('[name="application.cover.project_name"]')
    assert project.input_value() == first["record"]["application"]["cover"]["project_name"]
    # Both stored files are listed; the license is kept, the patent removed and a new one uploaded.
    expect(page.locator("#application-attachments-license-files li")).to_have_count(1)
    patent = page.locator("#application-attachments-ip-files li")
    expect(patent).to_have_count(1)
    patent.get_by_role("button", name="删除").click()
    expect(patent).to_have_count(0)
    attach(page, tmp_path, "ip", "新的专利证书.pdf", 4096)  # other bytes than the first patent
    project.fill(REVISED)
    page.check('[name="application.pledge"]')
    to_review(page)
    page.wait_for_timeout(1100)  # the local run's minimum fill time, counted from the token the record gave
    with page.expect_response(lambda r: "/api/receipt/revision" in r.url and r.request.method == "POST") as got:
        page.click("#apply-confirm")
    expect(page.locator("#receipt-title")).to_be_visible(timeout=15_000)
    assert got.value.status == 201, got.value.text()
    body = got.value.json()
    assert body["version"] == 2 and body["digest"] != first["digest"]
    expect(page.locator("#receipt-version")).to_contain_text("第2版")
    expect(page.locator("#receipt-digest")).to_have_text(body["digest"])
    expect(page.locator("#receipt-link")).to_have_attribute("href", body["receipt_url"])

    store = live.store()
    current = json.loads(store.get_record(ref))
    assert current["version"] == 2 and current["supersedes"] == first["digest"]
    assert current["application"]["cover"]["project_name"] == REVISED
    kept = {f["kind"]: f for f in current["files"]}
    before = {f["kind"]: f for f in first["record"]["files"]}
    assert kept["license"]["sha256"] == before["license"]["sha256"]
    assert kept["ip"]["filename"] == "新的专利证书.pdf" and kept["ip"]["sha256"] != before["ip"]["sha256"]
    assert json.loads(store.get_record(ref, 1))["application"]["cover"]["project_name"] != REVISED
