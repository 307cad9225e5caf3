"""Shared by the 在线申报 browser tests: Debian's Chromium, contexts on the local run, filling the form by path.

The form is filled from tests.factories.application() through the controls' names (the API's dotted paths),
so these helpers, like the form, list no field by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bdpilot.web.schemawalk import flatten
from tests.factories import PDF, application

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (install Debian's chromium and fonts-noto-cjk)")
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page plus what went wrong on it: console errors and requests to anything but the two local origins."""

    def __init__(self, context: BrowserContext, allowed: set[str]) -> None:
        self.context = context
        self.errors: list[str] = []
        self.external: list[str] = []
        self.expected: list[str] = []  # console errors a test provokes on purpose (a 422, a dropped connection)
        self.page = context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def local_only(route: Any, request: Any) -> None:
            if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc not in allowed:
                self.external.append(request.url)
                route.abort()
            else:
                route.continue_()

        context.route("**/*", local_only)


    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(x in e for x in self.expected)]


def new_page(browser: Browser, live: Any, *, javascript: bool = True, width: int = 1280) -> Watched:
    allowed = {urlsplit(live.url).netloc, urlsplit(live.target["aws_endpoint"]).netloc}
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900},
                                  java_script_enabled=javascript)
    return Watched(context, allowed)


def open_form(page: Page, live: Any) -> None:
    page.goto(live.url + "apply/")
    if page.evaluate("() => document.querySelector('#apply-form .apply-upload') !== null"):
        page.wait_for_function("() => document.querySelector('input[name=form_token]').value !== ''"
                               " || !!document.getElementById('apply-closed')", timeout=10_000)


def answers(**sections: Any) -> dict[str, Any]:
    """The factory's valid 申报书 as {dotted path: value}, attachments and pledge aside."""
    data = application(**sections)
    data.pop("attachments")
    return {k: v for k, v in flatten(data).items()}


def fill(page: Page, values: dict[str, Any]) -> None:
    for path, value in values.items():
        control = page.locator(f'[name="{path}"]')
        kind = control.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
        if value == "" and not control.is_visible():
            continue  # a conditional field the script hides
        if kind.startswith("select"):
            control.select_option(str(value))
        elif kind.endswith("checkbox"):
            control.set_checked(bool(value))
        else:
            control.fill(str(value))


def pdf_file(tmp: Path, name: str, size: int = 0, data: bytes = PDF) -> Path:
    path = tmp / name
    body = data + b"%" + b"0" * max(0, size - len(data) - 1) if size else data
    path.write_bytes(body)
    return path


def upload(page: Page, kind: str, path: Path) -> None:
    page.set_input_files(f"#application-attachments-{kind}", str(path))


def as_dom(page: Page, html: str) -> str:
    """`html` as the browser serializes it once parsed, to compare with what a page shows."""
    return page.evaluate("html => { const t = document.createElement('template'); t.innerHTML = html;"
                         " return t.content.firstElementChild.outerHTML; }", html)
