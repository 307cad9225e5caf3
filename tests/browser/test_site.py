"""The site in a real browser: every page loads cleanly and offline, passes axe-core, and search finds Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from bdpilot.domain import campaign as c

if TYPE_CHECKING:  # a fixture's type only: conftest is pytest's to import
    from tests.browser.conftest import Trouble

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "", "notice/", "directions/", *(f"directions/{d.slug}/" for d in c.DIRECTIONS),
    "requirements/", "apply/", "apply/draft/", "contact/", "faq/",
]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "home")
def test_page_loads_clean_and_accessible(page: Page, base_url: str, trouble: Trouble, path: str) -> None:
    page.goto(base_url + path, wait_until="networkidle")
    expect(page.locator("article h1")).to_have_count(1)
    assert page.evaluate("document.documentElement.lang") == "zh"
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert trouble.console_errors == []
    assert trouble.external_requests == []


@pytest.mark.parametrize(("term", "target"), [
    ("钢铁", "directions/key-industries/"),
    ("数据管理能力", "directions/data-management/"),
    ("推荐单位", "requirements/"),
    ("联系人", "contact/"),
])
def test_search_finds_chinese_terms(page: Page, base_url: str, trouble: Trouble, term: str, target: str) -> None:
    page.goto(base_url, wait_until="networkidle")
    search = page.get_by_role("textbox", name="搜索")
    search.click()
    # Chinese arrives from an input method as committed text; Material then searches on the next key event.
    search.fill(term)
    search.press("End")
    results = page.locator(".md-search-result__item a")
    expect(results.first).to_be_visible()
    hrefs = [h or "" for h in results.evaluate_all("els => els.map(e => e.getAttribute('href'))")]
    assert any(urlsplit(h).path == urlsplit(base_url + target).path for h in hrefs), hrefs
    assert trouble.console_errors == []


def test_home_screenshot(page: Page, base_url: str) -> None:
    page.goto(base_url, wait_until="networkidle")
    out = ROOT / "artifacts" / "home.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 0
