"""Browser fixtures: the built site on a local server, Debian's Chromium, and a page that records trouble.

No browser is ever downloaded: the tests drive /usr/bin/chromium, and skip without it (fail under CI=true).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route

from tests.browser.apply_support import Watched, chromium, new_page


@pytest.fixture(scope="session")
def base_url(live) -> str:
    """The README's local run (site + API + embedded storage), so pages that call /api/* work as deployed."""
    return live.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class Trouble:
    """What a page did wrong: console errors, uncaught exceptions, requests that left the local origin."""

    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)


@pytest.fixture
def trouble() -> Trouble:
    return Trouble()


@pytest.fixture
def page(browser: Browser, base_url: str, trouble: Trouble) -> Iterator[Page]:
    """A fresh page in its own context; any request to another origin is recorded and blocked (network off)."""
    origin = urlsplit(base_url).netloc
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})

    def local_only(route: Route, request: Request) -> None:
        if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != origin:
            trouble.external_requests.append(request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", local_only)
    # Requests the router may not see (e.g. from workers) are still recorded here.
    context.on("request", lambda r: None if urlsplit(r.url).netloc in (origin, "") else
               trouble.external_requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: trouble.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: trouble.console_errors.append(str(e)))
    yield page
    context.close()


@pytest.fixture
def watched(browser: Browser, live: Any) -> Iterator[Watched]:
    """A page of the local run whose console errors and off-machine requests fail the test."""
    w = new_page(browser, live)
    yield w
    w.context.close()
    assert w.unexpected_errors() == [], w.errors
    assert w.external == [], w.external
