"""The effective deadline on the pages, the 离线起草 page, and the form's section list, in real Chromium against the
README's local run (whose window, BDPILOT_DEADLINE, is not the notice's deadline the pages are built with)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from bdpilot.domain import campaign
from bdpilot.domain.application import form_schema
from bdpilot.domain.formats import beijing_time
from bdpilot.web.schemawalk import sections
from tests.browser.apply_support import Watched, answers, fill, new_page, open_form

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def api_deadline(page: Page, live: Any) -> str:
    body = page.request.get(live.url + "api/campaign").json()
    assert body["window"]["open"] is True
    return str(body["window"]["deadline"])


@pytest.mark.parametrize("path", ["apply/", "", "requirements/", "faq/", "apply/draft/"])
def test_pages_state_the_deadline_of_api_campaign(watched: Watched, live: Any, path: str) -> None:
    page = watched.page
    deadline = api_deadline(page, live)
    expected = beijing_time(deadline, seconds=False)
    assert expected != beijing_time(campaign.DEADLINE, seconds=False)  # the local run's window is not the notice's
    page.goto(live.url + path)
    marks = page.locator("article time[data-deadline]")
    expect(marks.first).to_have_text(expected)
    for text in marks.all_inner_texts():
        assert text == expected
    assert set(marks.evaluate_all("els => els.map(e => e.getAttribute('datetime'))")) == {deadline}
    if path == "":  # the last full day follows it too
        day = (datetime.fromisoformat(deadline) - timedelta(microseconds=1)).astimezone(campaign.TZ).date()
        expect(page.locator("article time[data-last-day]").first).to_have_text(f"{day.year}年{day.month}月{day.day}日")
    if path == "apply/":
        # While the window is open, /apply/ says until when, above the form.
        expect(page.locator("article p", has_text="网上填报截止时间").first).to_contain_text(expected)
        expect(page.locator("#apply-closed")).to_have_count(0)


def test_without_javascript_the_built_deadline_stays(browser: Browser, live: Any) -> None:
    w = new_page(browser, live, javascript=False)
    try:
        w.page.goto(live.url + "apply/")
        expect(w.page.locator("article time[data-deadline]").first).to_have_text(
            beijing_time(campaign.DEADLINE, seconds=False))
    finally:
        w.context.close()


def test_draft_page_is_linked_printable_and_accessible(watched: Watched, live: Any) -> None:
    page = watched.page
    page.goto(live.url + "apply/")
    page.locator("article a", has_text="离线起草申报书").first.click()
    expect(page).to_have_url(live.url + "apply/draft/")
    schema = form_schema()
    expect(page.locator("article .bd-draft h2")).to_have_text([s.title for s in sections(schema)])
    assert page.locator(".bd-draft-box").first.is_hidden()  # room to write on paper only
    page.emulate_media(media="print")
    assert page.locator(".bd-draft-box").first.is_visible()
    page.emulate_media(media="screen")
    page.wait_for_timeout(400)
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_section_list_links_each_fieldset_and_counts_completed(watched: Watched, live: Any) -> None:
    page = watched.page
    open_form(page, live)
    schema = form_schema()
    toc = page.get_by_role("navigation", name=f"申报书共{len(sections(schema))}部分")
    links = toc.get_by_role("link")
    expect(links).to_have_text([s.title for s in sections(schema)])
    progress = page.locator("#apply-progress")
    expect(progress).to_have_text(f"已完成0/{len(sections(schema))}部分")
    # A link moves to its section (keyboard: focus the link, Enter).
    links.nth(4).focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#application-details"
    assert page.locator("#application-details").evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }")
    # Filling the cover and the contact completes those two sections, and only those.
    values = answers()
    fill(page, {k: v for k, v in values.items() if k.startswith(("application.cover.", "application.contact."))})
    page.locator("#application-contact-email").blur()
    expect(progress).to_have_text(f"已完成2/{len(sections(schema))}部分")
    done = toc.locator("li.apply-toc--done")
    expect(done).to_have_count(2)
    expect(done.first).to_contain_text("（已完成）")
    expect(toc.locator('li[data-section="cover"]')).to_have_class("apply-toc--done")
    # Breaking an answer takes the section back out.
    page.locator("#application-contact-email").fill("not an address")
    page.locator("#application-contact-email").blur()
    expect(progress).to_have_text(f"已完成1/{len(sections(schema))}部分")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_without_javascript_the_section_links_work(browser: Browser, live: Any) -> None:
    w = new_page(browser, live, javascript=False)
    try:
        page = w.page
        page.goto(live.url + "apply/")
        expect(page.locator("#apply-progress")).to_be_hidden()
        page.locator("#apply-toc a", has_text="申报单位承诺").click()
        assert page.evaluate("location.hash") == "#application-pledge-section"
        assert page.locator("#application-pledge-section").evaluate(
            "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }")
    finally:
        w.context.close()
