"""The applicant's journey in real Chromium (issue 14): a week-old draft, a single-use token, the receipt after a
reload, the paper copy as people read it, and the small things that strand people on the form."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from bdpilot.domain import campaign
from bdpilot.domain.application import form_schema
from bdpilot.web.printcopy import render_next_steps, render_record
from tests.browser.apply_support import Watched, as_dom, fill, new_page, open_form, pdf_file, upload
from tests.browser.test_apply import ready_to_confirm, unique

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "input[name=form_token]"
WHEN = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}:\d{2}（北京时间）")


def token(page: Page) -> str:
    return page.locator(TOKEN).input_value()


def wait_token_changed(page: Page, old: str) -> str:
    page.wait_for_function("old => { const v = document.querySelector('input[name=form_token]').value;"
                           " return v !== '' && v !== old; }", arg=old, timeout=10_000)
    return token(page)


def submit_and_capture(page: Page) -> dict[str, Any]:
    with page.expect_response(lambda r: r.url.endswith("/api/submissions") and r.request.method == "POST") as got:
        page.click("#apply-confirm")
    expect(page.locator("#receipt-title")).to_be_visible(timeout=15_000)
    assert got.value.status == 201
    return got.value.json()


def test_a_draft_older_than_the_token_gets_a_fresh_token_keeps_answers_and_names_uploads_to_redo(
        watched: Watched, live: Any, tmp_path: Path) -> None:
    page = watched.page
    open_form(page, live)
    issued = int((time.time() - 8 * 24 * 3600) * 1000)  # opened on day 1, finished on day 9
    old = f"{issued}.{'0' * 16}.{'0' * 32}"
    draft = {"values": {"application.cover.project_name": "八天前的草稿"}, "token": old, "key": "k" * 24,
             "attachments": [{"kind": "license", "upload_id": "u" * 32, "filename": "旧执照.pdf", "size": 2048}],
             "saved": "2026-11-21T09:00:00.000Z"}
    page.evaluate("d => localStorage.setItem('bdpilot.apply.draft', JSON.stringify(d))", draft)
    page.reload()
    page.click("#draft-restore")
    assert page.locator("[name='application.cover.project_name']").input_value() == "八天前的草稿"
    fresh = wait_token_changed(page, old)
    assert int(fresh.split(".")[0]) > issued + 7 * 24 * 3600 * 1000
    # The upload belongs to the old token: not silently kept, named for uploading again.
    expect(page.locator("#application-attachments-license-files li")).to_have_count(0)
    expect(page.locator("#application-attachments-license-error")).to_contain_text("请重新上传“旧执照.pdf”")
    expect(page.locator("#uploads-again")).to_contain_text("旧执照.pdf")
    page.wait_for_timeout(400)
    saved = json.loads(page.evaluate("localStorage.getItem('bdpilot.apply.draft')"))
    assert saved["token"] == fresh and saved["attachments"] == [] and saved["key"] == ""
    # And the loop is broken: the same page goes on to a stored submission.
    values = unique()
    values.pop("application.cover.project_name")
    ready_to_confirm(page, tmp_path, values)
    body = submit_and_capture(page)
    stored = json.loads(live.store().get_record(body["reference"]))
    assert stored["application"]["cover"]["project_name"] == "八天前的草稿"


def test_a_token_refused_at_submission_is_renewed_and_uploads_asked_for_again(watched: Watched, live: Any,
                                                                              tmp_path: Path) -> None:
    page = watched.page
    watched.expected.append("status of 403")
    open_form(page, live)
    ready_to_confirm(page, tmp_path, unique())
    old = token(page)

    def expired(route: Route) -> None:
        route.fulfill(status=403, content_type="application/json", body=json.dumps({"error": {
            "code": "form_token_invalid", "message": "页面已过期或无法验证来源，请刷新页面后重新提交"}}))

    page.route("**/api/submissions", expired)
    page.click("#apply-confirm")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("已填写的内容已保留")
    expect(page.locator("#application-attachments-license-error")).to_contain_text("营业执照.pdf")
    expect(page.locator("#application-attachments-ip-error")).to_contain_text("专利证书.pdf")
    assert wait_token_changed(page, old) != old
    assert page.locator("[name='application.contact.email']").input_value() != ""


def test_receipt_survives_a_reload_prints_for_people_and_a_second_post_points_to_it(
        watched: Watched, browser: Browser, live: Any, tmp_path: Path) -> None:
    page = watched.page
    watched.expected.append("status of 409")
    open_form(page, live)
    values = unique()
    # Amounts as people write them (item 10): thousands separators, ASCII and full-width.
    values["application.applicant.employees"] = "1，500"
    values["application.applicant.revenue"] = "356,000.50"
    ready_to_confirm(page, tmp_path, values)
    used = token(page)
    body = submit_and_capture(page)
    stored = json.loads(live.store().get_record(body["reference"]))
    assert stored["application"]["applicant"]["employees"] == 1500
    assert stored["application"]["applicant"]["revenue"] == "356000.50"

    # Item 7: the time for people; the paper copy is the server's, drawn from the stored record by the one
    # renderer (printcopy.render_record, as on the no-JS receipt) and inserted as it is; no empty conditional row.
    receipt = page.locator(".apply-receipt").inner_text()
    assert WHEN.search(receipt) and body["received_at"] not in receipt
    from_store = render_record(form_schema(), {**body, "record": stored})
    assert body["printable"] == from_store
    assert page.locator("#apply-print").evaluate("e => e.outerHTML") == as_dom(page, from_store)
    # The next steps are the server's too (the build embeds printcopy.render_next_steps for apply.js).
    assert page.locator(".apply-receipt .apply-next-steps").evaluate("e => e.outerHTML") == \
        as_dom(page, render_next_steps("h3"))
    js_copy = page.locator("#apply-print").inner_text()
    assert len(WHEN.findall(js_copy)) == 2  # the cover and the footer (repeated on every printed page)
    assert "其他有关单位名称" not in js_copy and "中央企业集团" not in js_copy
    page.emulate_media(media="print")
    assert page.locator(".apply-print-opinion").evaluate("e => getComputedStyle(e).breakInside") == "avoid"
    numbered = page.evaluate("""() => [...document.styleSheets].flatMap(s => { try { return [...s.cssRules]; }
        catch (e) { return []; } }).flatMap(r => r.cssRules ? [r, ...r.cssRules] : [r])
        .filter(r => r instanceof CSSPageRule).some(r => /counter\\(page\\)/.test(r.cssText))""")
    assert numbered
    page.emulate_media(media="screen")

    # Item 1: the token is single-use; the page has a fresh one and no draft holds the used one.
    assert wait_token_changed(page, used) != used
    page.wait_for_timeout(400)
    assert page.evaluate("localStorage.getItem('bdpilot.apply.draft')") is None
    # A field that loses focus after the form was emptied still fires "change": an empty form keeps no draft.
    page.locator("[name='application.cover.project_name']").dispatch_event("change")
    page.wait_for_timeout(400)
    assert page.evaluate("localStorage.getItem('bdpilot.apply.draft')") is None

    # Item 2: after a reload (or a closed tab) the receipt comes back from this browser.
    page.reload()
    expect(page.locator("#draft-offer")).to_have_count(0)
    expect(page.locator("#receipt-offer")).to_contain_text(body["reference"])
    page.click("#receipt-last")
    expect(page.locator("#receipt-reference")).to_have_text(body["reference"])
    assert page.locator("#apply-print").evaluate("e => e.outerHTML") == as_dom(page, from_store)
    page.click("#receipt-back")
    expect(page.locator("#apply-form")).to_be_visible()

    # Posting again for the same USCC: the 409 points to the saved receipt.
    ready_to_confirm(page, tmp_path, values)
    page.click("#apply-confirm")
    expect(page.locator("#review-status")).to_contain_text("已提交过")
    page.click("#duplicate-receipt")
    expect(page.locator("#receipt-reference")).to_have_text(body["reference"])

    # On a 375 px phone the reference stays on one line and nothing scrolls sideways.
    phone = new_page(browser, live, width=375)
    try:
        open_form(phone.page, live)
        phone.page.evaluate("b => localStorage.setItem('bdpilot.apply.receipt', JSON.stringify(b))", body)
        phone.page.reload()
        phone.page.click("#receipt-last")
        ref = phone.page.locator("#receipt-reference")
        expect(ref).to_have_text(body["reference"])
        assert ref.evaluate("e => e.getClientRects().length") == 1
        assert ref.evaluate("e => e.getBoundingClientRect().right") <= 375
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        phone.context.close()


def test_after_a_refresh_the_draft_offer_is_in_view_and_focused(watched: Watched, live: Any) -> None:
    page = watched.page
    open_form(page, live)
    fill(page, {"application.cover.project_name": "草稿项目"})
    page.locator("#apply-submit").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.reload()
    offer = page.locator("#draft-offer")
    expect(offer).to_be_focused()
    expect(offer).to_be_in_viewport()


def test_a_still_uploading_error_clears_when_the_upload_finishes(watched: Watched, live: Any,
                                                                 tmp_path: Path) -> None:
    page = watched.page
    open_form(page, live)
    held: list[Route] = []
    storage = live.target["aws_endpoint"].rstrip("/") + "/**"
    page.route(storage, lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    upload(page, "license", pdf_file(tmp_path, "慢执照.pdf"))
    page.wait_for_function("() => document.querySelector('.apply-uploading') !== null")
    page.click("#apply-submit")
    error = page.locator("#application-attachments-license-error")
    expect(error).to_contain_text("正在上传")
    page.wait_for_timeout(200)
    while held:
        held.pop().continue_()
    expect(page.locator("#application-attachments-license-files li")).to_contain_text("慢执照.pdf", timeout=15_000)
    expect(error).to_have_count(0)
    expect(page.locator('#error-summary a[href="#application-attachments-license"]')).to_have_count(0)


def test_form_details_that_strand_people(watched: Watched, live: Any) -> None:
    page = watched.page
    open_form(page, live)
    # 项目名称 is not cut at 60: the whole paste stays, the count and the error say what to shorten.
    name = page.locator("#application-cover-project_name")
    name.fill("项" * 61)
    assert name.input_value() == "项" * 61
    expect(page.locator("#application-cover-project_name-count")).to_have_text("已超出1个字")
    # Enter in a one-line field does not jump to the review.
    page.locator("#application-contact-name").fill("张三")
    page.locator("#application-contact-name").press("Enter")
    page.wait_for_timeout(300)
    expect(page.locator("#review-title")).to_have_count(0)
    expect(page.locator("#error-summary")).to_have_count(0)
    # The conditional 推荐单位 fields carry the required mark when shown.
    page.select_option("#application-cover-recommender", campaign.OTHER_RECOMMENDER)
    expect(page.locator("#application-cover-recommender_group-label .apply-req")).to_be_visible()
    page.select_option("#application-cover-recommender_group", campaign.UNLISTED_RECOMMENDER)
    expect(page.locator("#application-cover-recommender_other-label .apply-req")).to_be_visible()
    assert page.locator("#application-cover-recommender_other").get_attribute("aria-required") == "true"
    # "1,500" is a number on the client too.
    fill(page, {"application.applicant.employees": "1,500", "application.applicant.revenue": "12，345.5"})
    page.locator("#apply-submit").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.click("#apply-submit")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#application-applicant-employees-error")).to_have_count(0)
    expect(page.locator("#application-applicant-revenue-error")).to_have_count(0)
    expect(page.locator("#application-cover-project_name-error")).to_contain_text("不能超过60个字（现为61个字）")
    # Material's back-to-top button does not cover the summary's heading.
    page.wait_for_timeout(800)  # the button fades in as the page jumps up to the summary
    top = page.locator(".md-top")
    expect(top).to_be_visible()
    assert top.evaluate("e => getComputedStyle(e).opacity") == "1"
    a, b = top.bounding_box(), page.locator("#error-summary-title").bounding_box()
    assert a and b
    assert a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"], (a, b)


def test_units_stay_beside_money_fields_on_a_phone(browser: Browser, live: Any) -> None:
    w = new_page(browser, live, width=375)
    try:
        open_form(w.page, live)
        units = w.page.locator(".apply-unit > span")
        assert units.count() >= 4
        for i in range(units.count()):
            assert units.nth(i).evaluate("e => e.getClientRects().length === 1 && e.offsetWidth > e.offsetHeight")
        assert w.errors == []
    finally:
        w.context.close()
