"""在线申报 with JavaScript disabled: the plain HTML form posts to the API, which answers with pages; attachments
go through the no-JavaScript upload step (plain forms posting straight to storage, redirected back)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from bdpilot.domain import campaign
from bdpilot.domain.application import form_schema
from bdpilot.web.printcopy import render_record
from bdpilot.web.schemawalk import flatten
from tests.browser.apply_support import Watched, answers, as_dom, fill, new_page, pdf_file
from tests.factories import uscc

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def nojs(browser: Browser, live: Any) -> Iterator[Watched]:
    w = new_page(browser, live, javascript=False)
    checker = new_page(browser, live)
    w.axe = lambda page: axe_clean(checker.page, live, page)  # type: ignore[attr-defined]
    yield w
    w.context.close()
    checker.context.close()
    assert w.unexpected_errors() == [], w.errors
    assert w.external == [], w.external


def axe_clean(checker: Page, live: Any, page: Page) -> None:
    """axe-core is a script and never finishes in a page without JavaScript: check the same HTML, on the same
    origin, in a page that runs scripts."""
    checker.goto(live.url + "404.html")
    checker.set_content(page.content())
    results = Axe().run(checker)
    assert results.violations_count == 0, results.generate_report()


def upload_plain(page: Page, heading: str, path: Path) -> None:
    section = page.locator("section", has=page.locator("h2", has_text=heading))
    section.locator("input[type=file]").set_input_files(str(path))
    section.locator("button", has_text="上传").click()
    page.wait_for_load_state()


def test_empty_form_posts_and_the_answer_lists_every_problem(nojs: Watched, live: Any) -> None:
    page = nojs.page
    nojs.expected.append("status of 4")
    page.goto(live.url + "apply/")
    expect(page.locator("noscript").first).to_have_count(1)
    page.click("#apply-submit")
    expect(page.locator("h1")).to_have_text("在线申报：请修改后重新提交")
    # The static page has no token: the answer gives a fresh one and asks to check and post again.
    expect(page.locator("#error-summary")).to_contain_text("请确认填写内容后再次提交")
    page.fill("[name='application.cover.project_name']", "无脚本项目")
    page.fill("[name='application.contact.email']", "not-an-email")
    page.wait_for_timeout(1100)  # the fresh token's minimum fill time
    page.click("#apply-submit")
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("请选择申报方向")
    expect(summary).to_contain_text("请输入有效的电子邮箱地址")
    expect(summary.locator('a[href="#application-contact-email"]')).to_have_count(1)
    expect(page.locator("#application-contact-email-error")).to_be_visible()
    assert page.locator("[name='application.cover.project_name']").input_value() == "无脚本项目"
    nojs.axe(page)


def test_upload_step_then_form_then_receipt(nojs: Watched, live: Any, tmp_path: Path) -> None:
    page = nojs.page
    page.goto(live.url + "apply/")
    page.get_by_role("link", name="附件上传页面").first.click()  # the <noscript> notice, shown without JS
    expect(page.locator("h1")).to_have_text("上传附件")
    nojs.axe(page)
    upload_plain(page, "营业执照", pdf_file(tmp_path, "执照.pdf", 2 * 1024 * 1024))
    expect(page.locator("[role=status]")).to_contain_text("已上传营业执照（或法人证书）")
    upload_plain(page, "知识产权证明", pdf_file(tmp_path, "假的.pdf", data=b"MZ\x90\x00" + b"\x00" * 64))
    expect(page.locator("[role=alert]")).to_contain_text("不是有效的PDF文件")
    upload_plain(page, "知识产权证明", pdf_file(tmp_path, "专利.pdf"))
    expect(page.locator("[role=status]")).to_contain_text("已上传知识产权证明")
    page.get_by_role("link", name="继续填写申报书").click()
    expect(page.locator("h1")).to_contain_text("已上传2个附件")
    # A central enterprise, chosen from its list: the second list is there without JavaScript too.
    values = answers(applicant={"uscc": uscc(random.randrange(10**12))},
                     cover={"recommender": campaign.OTHER_RECOMMENDER, "recommender_group": "中国电子科技集团有限公司"})
    fill(page, values)
    page.check("[name='application.pledge']")
    nojs.axe(page)
    page.click("#apply-submit")
    expect(page.locator("h1")).to_have_text("申报书已提交")
    reference = page.locator(".apply-reference strong").inner_text()
    text = page.locator("body").inner_text()
    digest = re.search(r"[0-9a-f]{64}", text).group(0)
    nojs.axe(page)
    stored = json.loads(live.store().get_record(reference))
    flat = flatten(stored["application"])
    for path, value in values.items():
        assert flat[path] == value, path
        if value not in ("", True) and not path.endswith("direction"):
            assert str(value) in text, path
    assert [f["kind"] for f in stored["files"]] == ["license", "ip"]
    # The print copy is the one renderer's, from the stored record (the JS receipt inserts the same HTML).
    body = {"reference": reference, "digest": digest, "received_at": stored["received_at"], "record": stored}
    assert page.locator("#apply-print").evaluate("e => e.outerHTML") == as_dom(page, render_record(form_schema(), body))
    page.emulate_media(media="print")
    printed = page.evaluate("document.body.innerText")
    assert digest in printed and "申报书已提交" not in printed.split("2020年大数据产业发展试点示范项目申报书")[0]


def test_filling_first_loses_nothing_and_the_first_answer_lists_every_problem(nojs: Watched, live: Any) -> None:
    """Issue 14, items 3 and 5: a person without JavaScript who fills the form before uploading posts it once and
    gets every answer back with everything to fix, cross-field rules included, and the upload advice on top."""
    page = nojs.page
    nojs.expected.append("status of 4")
    page.goto(live.url + "apply/")
    values = answers(applicant={"uscc": uscc(random.randrange(10**12)), "employees": 320, "rd_staff": 500},
                     project={"start_date": "2021-06-30", "end_date": "2020-01-01"})
    fill(page, values)
    page.click("#apply-submit")
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("请确认填写内容后再次提交")
    expect(summary).to_contain_text("研发人员数不能超过职工人数")
    expect(summary).to_contain_text("项目结束时间应晚于开始时间")
    expect(summary).to_contain_text("请上传附件材料")
    for path, value in values.items():
        if isinstance(value, str) and value:
            assert page.locator(f'[name="{path}"]').input_value() == value, path
    advice = page.locator("#upload-first")
    expect(advice).to_be_visible()
    assert advice.bounding_box()["y"] < page.locator("fieldset").first.bounding_box()["y"]
    nojs.axe(page)


def test_an_upload_can_be_removed_without_javascript(nojs: Watched, live: Any, tmp_path: Path) -> None:
    page = nojs.page
    page.goto(live.url + "api/apply/uploads")
    upload_plain(page, "营业执照", pdf_file(tmp_path, "执照.pdf"))
    upload_plain(page, "营业执照", pdf_file(tmp_path, "执照2.pdf"))
    section = page.locator("section", has=page.locator("h2", has_text="营业执照"))
    expect(section.get_by_role("button", name=re.compile("移除"))).to_have_count(2)
    section.get_by_role("button", name=re.compile("移除")).first.click()
    expect(section.get_by_role("button", name=re.compile("移除"))).to_have_count(1)
    page.get_by_role("link", name="继续填写申报书").click()
    expect(page.locator("h1")).to_contain_text("已上传1个附件")
    nojs.axe(page)


def test_filling_first_then_uploading_in_a_new_window_keeps_every_answer(nojs: Watched, live: Any,
                                                                         tmp_path: Path) -> None:
    """Issue 14, items 3 and 8: the form filled first, the upload page opened beside it in a new window, two PDFs
    with Chinese names uploaded there, then back: every answer is still in the form, and the post takes the files
    under their own names."""
    page = nojs.page
    nojs.expected.append("status of 4")
    page.goto(live.url + "apply/")
    values = answers(applicant={"uscc": uscc(random.randrange(10**12))})
    fill(page, values)
    page.check("[name='application.pledge']")
    page.click("#apply-submit")  # the site's page has no form token: the answers come back with one
    expect(page.locator("#error-summary")).to_contain_text("请确认填写内容后再次提交")
    with nojs.context.expect_page() as opened:
        page.locator("#upload-first").get_by_role("link", name="附件上传页面（在新窗口打开）").click()
    window = opened.value
    window.wait_for_load_state()
    expect(window.locator("h1")).to_have_text("上传附件")
    expect(window.locator("main")).to_contain_text("回到申报书窗口")
    upload_plain(window, "营业执照", pdf_file(tmp_path, "营业执照（副本）.pdf"))
    expect(window.locator("[role=status]")).to_contain_text("已上传营业执照（或法人证书）“营业执照（副本）.pdf”")
    upload_plain(window, "知识产权证明", pdf_file(tmp_path, "发明专利证书 第2号.pdf", 300 * 1024))
    expect(window.locator("[role=status]")).to_contain_text("“发明专利证书 第2号.pdf”")
    expect(window.locator("main")).to_contain_text("“营业执照（副本）.pdf”")
    nojs.axe(window)
    window.close()

    for path, value in values.items():  # the first window was never left
        if isinstance(value, str) and value:
            assert page.locator(f'[name="{path}"]').input_value() == value, path
    page.wait_for_timeout(1100)  # the fresh token's minimum fill time
    page.click("#apply-submit")
    expect(page.locator("h1")).to_have_text("申报书已提交")
    text = page.locator("body").inner_text()
    assert "营业执照（副本）.pdf" in text and "发明专利证书 第2号.pdf" in text
    stored = json.loads(live.store().get_record(page.locator(".apply-reference strong").inner_text()))
    assert [(f["kind"], f["filename"]) for f in stored["files"]] == [
        ("license", "营业执照（副本）.pdf"), ("ip", "发明专利证书 第2号.pdf")]
    flat = flatten(stored["application"])
    assert all(flat[path] == value for path, value in values.items())
