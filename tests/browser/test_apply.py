"""在线申报 in real Chromium against the README's local run: fill, upload, review, submit, print; and every way
it can go wrong. The form is filled from the test factory by control name (the API's paths)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, expect

from bdpilot.domain import campaign
from bdpilot.domain.application import MAX_UPLOAD_BYTES
from bdpilot.domain.formats import size_text
from bdpilot.web.schemawalk import flatten
from tests.browser.apply_support import (
    ARTIFACTS,
    Watched,
    answers,
    fill,
    new_page,
    open_form,
    pdf_file,
    upload,
)
from tests.conftest import start_live, stop_live
from tests.factories import uscc

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KINDS = ("license", "ip")


def unique() -> dict[str, Any]:
    """A valid 申报书 for an applicant no other test uses (one project per 统一社会信用代码)."""
    return answers(applicant={"uscc": uscc(random.randrange(10**12))})


def axe_clean(page: Page) -> None:
    page.wait_for_timeout(400)  # let Material's fades (the back-to-top button) finish: axe reads mid-fade colours
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def record_statuses(page: Page) -> None:
    page.evaluate("""() => { window.__statuses = [];
      new MutationObserver(() => document.querySelectorAll('.apply-upload-status')
        .forEach(s => window.__statuses.push(s.textContent)))
        .observe(document.getElementById('apply-form'), {subtree: true, childList: true, characterData: true}); }""")


def attach(page: Page, tmp_path: Path, kind: str, name: str, size: int = 0, data: bytes | None = None) -> None:
    path = pdf_file(tmp_path, name, size, **({"data": data} if data is not None else {}))
    upload(page, kind, path)
    expect(page.locator(f"#application-attachments-{kind}-files li", has_text=name)).to_be_visible(timeout=30_000)


def ready_to_confirm(page: Page, tmp_path: Path, values: dict[str, Any]) -> None:
    """The form filled and attached, the pledge given, and the check-your-answers step shown."""
    complete(page, tmp_path, values)
    page.check('[name="application.pledge"]')
    to_review(page)


def complete(page: Page, tmp_path: Path, values: dict[str, Any]) -> None:
    fill(page, values)
    attach(page, tmp_path, "license", "营业执照.pdf", 6 * 1024 * 1024)
    attach(page, tmp_path, "ip", "专利证书.pdf")


def to_review(page: Page) -> None:
    page.click("#apply-submit")
    expect(page.locator("#review-title")).to_be_focused()


def submit(page: Page) -> str:
    page.click("#apply-confirm")
    expect(page.locator("#receipt-title")).to_be_visible(timeout=15_000)
    return page.locator("#receipt-reference").inner_text()


def summary_links(page: Page) -> list[tuple[str, str]]:
    links = page.locator("#error-summary a")
    return [(links.nth(i).inner_text(), links.nth(i).get_attribute("href")) for i in range(links.count())]


def test_fill_upload_review_submit_and_print(watched: Watched, live: Any, tmp_path: Path) -> None:
    page = watched.page
    open_form(page, live)
    axe_clean(page)
    values = unique()
    record_statuses(page)
    complete(page, tmp_path, values)
    statuses = page.evaluate("window.__statuses")
    percents = [int(m) for s in statuses for m in re.findall(r"(\d+)%", s)]
    assert percents and max(percents) == 100, statuses  # the progress was shown while the bytes went up
    assert any(s.startswith("已上传“营业执照.pdf”") for s in statuses)

    to_review(page)
    review = page.locator("#apply-after").inner_text()
    for path, value in values.items():
        if value not in ("", True) and not path.endswith("direction"):
            assert str(value) in review, path
    assert "营业执照.pdf" in review and "专利证书.pdf" in review
    assert page.locator("#apply-after a", has_text="修改").count() >= len(values)
    axe_clean(page)

    reference = submit(page)
    digest = page.locator("#receipt-digest").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    axe_clean(page)

    # What was stored is what was typed, field by field.
    stored = json.loads(live.store().get_record(reference))
    flat = flatten(stored["application"])
    for path, value in values.items():
        assert flat[path] == value, path
    assert [(f["kind"], f["filename"]) for f in stored["files"]] == [("license", "营业执照.pdf"),
                                                                     ("ip", "专利证书.pdf")]
    # The draft is gone after success.
    assert page.evaluate("localStorage.getItem('bdpilot.apply.draft')") is None

    # The paper copy: print media shows the 申报书 alone, with every answer, and the digest on each page.
    page.emulate_media(media="print")
    printed = page.evaluate("document.body.innerText")
    assert "在线申报" not in printed.split("2020年大数据产业发展试点示范项目申报书")[0]
    for path, value in values.items():
        if value not in ("", True) and not path.endswith("direction"):
            assert str(value) in printed, path
    assert digest in printed and reference in printed and "推荐单位意见" in printed
    footer = page.locator(".apply-print-footer")
    assert footer.evaluate("e => getComputedStyle(e).position") == "fixed"
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "apply-receipt.pdf"), format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 3  # cover, sections, attachments and pledge


def test_required_fields_listed_in_a_summary_whose_links_focus_each_field(watched: Watched, live: Any) -> None:
    page = watched.page
    open_form(page, live)
    page.click("#apply-submit")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    links = summary_links(page)
    required = page.locator("#apply-form [required]:not([type=hidden])")
    assert len(links) == required.count() + len(KINDS)
    assert ("请填写项目名称", "#application-cover-project_name") in links
    assert ("请选择推荐单位", "#application-cover-recommender") in links
    assert ("请上传营业执照（或法人证书）", "#application-attachments-license") in links
    assert ("请阅读并勾选申报单位承诺", "#application-pledge") in links
    for text, href in [links[0], links[10], links[-3]]:
        page.click(f'#error-summary a[href="{href}"]')
        expect(page.locator(href)).to_be_focused()
        error = page.locator(f"{href}-error")
        expect(error).to_contain_text(text)
        assert f"{href[1:]}-error" in page.locator(href).get_attribute("aria-describedby")
    axe_clean(page)


def test_wrong_formats_get_inline_messages_from_the_schema(watched: Watched, live: Any) -> None:
    page = watched.page
    open_form(page, live)
    fill(page, {"application.applicant.uscc": "91350100M000100Y44",  # wrong check character
                "application.contact.mobile": "1380013800",
                "application.contact.email": "contact@example",
                "application.details.background": "字" * 3001})
    expect(page.locator("#application-details-background-count")).to_have_text("已超出1个字")
    page.click("#apply-submit")
    expect(page.locator("#application-applicant-uscc-error")).to_contain_text("统一社会信用代码校验位不正确")
    expect(page.locator("#application-contact-mobile-error")).to_contain_text("请输入11位手机号码，如13800138000")
    expect(page.locator("#application-contact-email-error")).to_contain_text("请输入有效的电子邮箱地址")
    expect(page.locator("#application-details-background-error")).to_contain_text(
        "需求与背景不能超过3000个字（现为3001个字）")
    assert page.locator("#application-contact-email").get_attribute("aria-invalid") == "true"
    # Fixing a field clears its message at once.
    fill(page, {"application.contact.email": "contact@example.com"})
    page.locator("#application-contact-email").blur()
    expect(page.locator("#application-contact-email-error")).to_have_count(0)


def test_a_renamed_exe_is_caught_by_the_server_right_after_its_upload(watched: Watched, live: Any,
                                                                       tmp_path: Path) -> None:
    """Issue 14 item 4: it used to show 已上传 and be refused only after 确认提交."""
    page = watched.page
    watched.expected.append("status of 422")
    open_form(page, live)
    fill(page, unique())
    attach(page, tmp_path, "license", "营业执照.pdf")
    upload(page, "ip", pdf_file(tmp_path, "setup.pdf", data=b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200))
    error = page.locator("#application-attachments-ip-error")
    expect(error).to_contain_text("知识产权证明“setup.pdf”不是有效的PDF文件，请重新上传", timeout=30_000)
    expect(page.locator("#application-attachments-ip-files li", has_text="setup.pdf")).to_have_count(0)
    expect(page.locator("#application-attachments-ip").locator("xpath=..")).not_to_contain_text("已上传“setup.pdf”")


def test_a_21_mb_file_is_refused_before_upload(watched: Watched, live: Any, tmp_path: Path) -> None:
    page = watched.page
    open_form(page, live)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/uploads" in r.url else None)
    upload(page, "license", pdf_file(tmp_path, "大文件.pdf", 21 * 1024 * 1024))
    expect(page.locator("#application-attachments-license-error")).to_contain_text(
        f"超过{size_text(MAX_UPLOAD_BYTES)}")
    assert page.locator("#application-attachments-license-files li").count() == 0
    upload(page, "license", tmp_path / "大文件.pdf")  # the same file again: still refused
    (tmp_path / "说明.docx").write_bytes(b"PK\x03\x04")
    upload(page, "ip", tmp_path / "说明.docx")
    expect(page.locator("#application-attachments-ip-error")).to_contain_text("不是PDF文件")
    assert asked == []


def test_remove_and_replace_an_attachment(watched: Watched, live: Any, tmp_path: Path) -> None:
    page = watched.page
    open_form(page, live)
    attach(page, tmp_path, "license", "旧执照.pdf")
    with page.expect_file_chooser() as chooser:
        page.click("#application-attachments-license-files button:has-text('替换')")
    chooser.value.set_files(str(pdf_file(tmp_path, "新执照.pdf")))
    expect(page.locator("#application-attachments-license-files li")).to_have_count(1)
    expect(page.locator("#application-attachments-license-files li")).to_contain_text("新执照.pdf")
    page.click("#application-attachments-license-files button:has-text('删除')")
    expect(page.locator("#application-attachments-license-files li")).to_have_count(0)
    expect(page.locator("#application-attachments-license")).to_be_focused()


def test_server_errors_are_shown_like_client_errors(watched: Watched, live: Any, tmp_path: Path) -> None:
    page = watched.page
    watched.expected.append("status of 422")
    open_form(page, live)
    values = unique()
    values["application.applicant.rd_staff"] = values["application.applicant.employees"] + 1  # a model rule
    ready_to_confirm(page, tmp_path, values)
    page.click("#apply-confirm")
    expect(page.locator("#error-summary")).to_be_focused()
    link = page.locator("#error-summary a", has_text="研发人员数不能超过职工人数")
    assert link.get_attribute("href") == "#application-applicant-rd_staff"
    expect(page.locator("#application-applicant-rd_staff-error")).to_contain_text("研发人员数不能超过职工人数")
    link.click()
    expect(page.locator("#application-applicant-rd_staff")).to_be_focused()


def test_recommender_lists_open_in_turn_and_a_listed_unit_cannot_be_typed(watched: Watched, live: Any,
                                                                           tmp_path: Path) -> None:
    page = watched.page
    watched.expected.append("status of 422")
    open_form(page, live)
    group = page.locator("#application-cover-recommender_group")
    other = page.locator("#application-cover-recommender_other")
    expect(group).to_be_hidden()
    expect(other).to_be_hidden()
    page.select_option("#application-cover-recommender", campaign.OTHER_RECOMMENDER)
    expect(group).to_be_visible()
    expect(other).to_be_hidden()
    page.select_option("#application-cover-recommender_group", campaign.UNLISTED_RECOMMENDER)
    expect(other).to_be_visible()
    # Back to a region: the free-text box goes too, though the hidden list still holds 其他有关单位.
    page.select_option("#application-cover-recommender", "河北省")
    expect(group).to_be_hidden()
    expect(other).to_be_hidden()
    page.select_option("#application-cover-recommender", campaign.OTHER_RECOMMENDER)
    expect(other).to_be_visible()

    values = unique()
    values.update({"application.cover.recommender": campaign.OTHER_RECOMMENDER,
                   "application.cover.recommender_group": campaign.UNLISTED_RECOMMENDER,
                   "application.cover.recommender_other": "中国电子科技集团"})
    ready_to_confirm(page, tmp_path, values)
    page.click("#apply-confirm")
    expect(page.locator("#error-summary")).to_be_focused()
    message = "“中国电子科技集团有限公司”在中央企业集团列表中"
    link = page.locator("#error-summary a", has_text=message)
    assert link.get_attribute("href") == "#application-cover-recommender_other"
    expect(page.locator("#application-cover-recommender_other-error")).to_contain_text(message)


def test_draft_is_kept_in_the_browser_and_offered_back(watched: Watched, live: Any, tmp_path: Path) -> None:
    page = watched.page
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
    open_form(page, live)
    token = page.locator("input[name=form_token]").input_value()
    fill(page, {"application.cover.project_name": "草稿项目", "application.details.background": "草稿背景"})
    attach(page, tmp_path, "license", "草稿执照.pdf")
    page.wait_for_timeout(500)  # the draft is saved 300 ms after typing stops
    assert not any("草稿项目" in body for body in sent)  # never sent anywhere
    page.reload()
    expect(page.locator("#draft-offer")).to_be_visible()
    assert page.locator("[name='application.cover.project_name']").input_value() == ""
    page.click("#draft-restore")
    assert page.locator("[name='application.cover.project_name']").input_value() == "草稿项目"
    assert page.locator("[name='application.details.background']").input_value() == "草稿背景"
    expect(page.locator("#application-attachments-license-files li")).to_contain_text("草稿执照.pdf")
    # Uploads belong to the token they were made with: the restored draft keeps it.
    assert page.locator("input[name=form_token]").input_value() == token
    page.click("#draft-clear")
    assert page.evaluate("localStorage.getItem('bdpilot.apply.draft')") is None
    assert page.locator("[name='application.cover.project_name']").input_value() == ""
    page.reload()
    expect(page.locator("#draft-offer")).to_have_count(0)


def test_double_clicks_and_retries_reuse_one_idempotency_key(watched: Watched, live: Any, tmp_path: Path) -> None:
    page = watched.page
    watched.expected.append("ERR_CONNECTION_RESET")
    open_form(page, live)
    ready_to_confirm(page, tmp_path, unique())
    keys: list[str] = []
    failures = [1]

    def flaky(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if failures:  # the first attempt is lost on the network
            failures.pop()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/submissions", flaky)
    page.dblclick("#apply-confirm")
    expect(page.locator("#receipt-title")).to_be_visible(timeout=20_000)
    assert len(keys) == 2 and len(set(keys)) == 1, keys


def test_mobile_layout_fits_375_px(browser: Browser, live: Any) -> None:
    w = new_page(browser, live, width=375)
    try:
        open_form(w.page, live)
        assert w.page.evaluate("document.documentElement.scrollWidth") <= 375
        w.page.click("#apply-submit")
        assert w.page.evaluate("document.documentElement.scrollWidth") <= 375
        axe_clean(w.page)
        assert w.errors == []
    finally:
        w.context.close()


def test_closed_window_cannot_be_posted(browser: Browser, built_site: Path, tmp_path: Path) -> None:
    run = start_live(built_site, tmp_path, BDPILOT_DEADLINE="2019-11-22T00:00")
    try:
        w = new_page(browser, run)
        page = w.page
        open_form(page, run)
        closed = page.locator("#apply-closed")
        expect(closed).to_contain_text("申报已截止")
        expect(closed).to_contain_text("2019年11月22日 00:00（北京时间）")  # formhtml.beijing_time's words
        expect(page.locator("#apply-submit")).to_be_disabled()
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.locator("#apply-form").evaluate("f => f.dispatchEvent(new Event('submit', {cancelable: true}))")
        expect(page.locator("#review-title")).to_have_count(0)
        assert posts == []
        axe_clean(page)
        w.context.close()
    finally:
        stop_live(run)
