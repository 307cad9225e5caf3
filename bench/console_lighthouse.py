"""Lighthouse accessibility for every page of the staff console (issue 12: 100 on each), against the local run.

Starts the README's local run (tests/live.py), stores two submissions through the public API, opens an MIIT and a
unit account through their invitation pages (password, authenticator code from pyotp) and signs both in over HTTP;
then runs Lighthouse (bench/lighthouse's pinned install, Debian's Chromium) with --only-categories=accessibility
on the sign-in page, the list (both roles), a detail page, the accounts page, the audit trail and an unused
invitation, the session cookie passed with --extra-headers. One row per page; exits 1 if any page scores below 100.

Run: python -m bench.console_lighthouse [--keep-reports]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pyotp
import requests

from tests.factories import uscc
from tests.live import LiveRun, start_live, stop_live, submit_over_http

ROOT = Path(__file__).resolve().parents[1]
LH: dict[str, Any] = runpy.run_path(str(ROOT / "bench" / "lighthouse"), run_name="bench_lighthouse")
PASSWORD = "长城 长江 黄河 泰山 华山 2020"
UNIT = "山西省"


class Browser:
    """Cookies kept by hand: the console's cookies are __Host- and Secure, which requests never sends over http."""

    def __init__(self, base: str) -> None:
        self.base, self.cookies = base, {}  # type: tuple[str, dict[str, str]]

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def go(self, path: str, form: dict[str, str] | None = None) -> requests.Response:
        url = urljoin(self.base, path)
        headers = {"Cookie": self.header()}
        reply = (requests.post(url, data=form, headers=headers, allow_redirects=False) if form is not None
                 else requests.get(url, headers=headers, allow_redirects=False))
        for raw in reply.raw.headers.getlist("Set-Cookie"):
            name, _, value = raw.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        return reply

    def post_form(self, path: str, fields: dict[str, str]) -> requests.Response:
        """GET the page for its csrf field (and the pre-sign-in cookie), then POST the form."""
        page = self.go(path).text
        csrf = re.search(r'name="csrf" value="([^"]*)"', page)
        assert csrf, page[:500]
        return self.go(path, {"csrf": unescape(csrf.group(1)), **fields})


def invite(live: LiveRun, email: str, role: str, unit: str | None) -> str:
    """The link `bdpilot staff invite --local-dir <the run's folder>` prints."""
    from bdpilot.ops.staff import cli

    argv = ["invite", "--email", email, "--name", "Lighthouse", "--role", role, "--local-dir", str(live.data_dir)]
    out = io.StringIO()
    assert cli.invite(cli.parser().parse_args(argv + (["--unit", unit] if unit else [])), out) == 0, out.getvalue()
    return next(line.strip() for line in out.getvalue().splitlines() if "/staff/invitation/" in line)


def account(live: LiveRun, email: str, role: str, unit: str | None = None) -> Browser:
    """Invitation -> password -> authenticator -> sign in; the signed-in browser."""
    browser = Browser(live.url)
    link = invite(live, email, role, unit)
    assert browser.go(link).status_code == 200
    assert browser.post_form(link, {"password": PASSWORD, "repeat": PASSWORD}).status_code == 303
    setup = browser.go("/staff/setup").text
    secret = re.search(r'class="staff-secret"><code>([^<]+)</code>', setup)
    assert secret, setup[:500]
    key = secret.group(1).replace(" ", "")
    assert browser.post_form("/staff/setup", {"code": pyotp.TOTP(key).now()}).status_code == 200
    # The set-up used the current 30-second step; the next one is accepted (±1) and not yet used.
    code = pyotp.TOTP(key).at(time.time() + 30)
    signed = browser.post_form("/staff/signin", {"email": email, "password": PASSWORD, "code": code})
    assert signed.status_code == 303 and signed.headers["Location"].endswith("/staff/"), signed.text[:500]
    return browser


def audit(cli: Path, url: str, cookie: str, report: Path) -> dict[str, Any]:
    command = ["node", str(cli), url, "--quiet", "--output=json", f"--output-path={report}",
               f"--chrome-flags={LH['CHROME_FLAGS']}", "--only-categories=accessibility"]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": LH["CHROME"]})
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--keep-reports", action="store_true", help="keep JSON reports in .local/lighthouse/console")
    opts = args.parse_args()
    cli: Path = LH["install"]()
    if not (ROOT / "site").is_dir():
        subprocess.run([str(ROOT / ".venv" / "bin" / "mkdocs"), "build", "--strict", "--quiet"], cwd=ROOT, check=True)
    work = Path(tempfile.mkdtemp(prefix="console-lighthouse-"))
    reports = ROOT / ".local" / "lighthouse" / "console" if opts.keep_reports else work / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    live = start_live(ROOT / "site", work / "data")
    ok = True
    try:
        refs = [submit_over_http(live.url, requests.Session(), 0, cover={"recommender": UNIT},
                                 applicant={"uscc": uscc(80_000 + i)})["reference"] for i in range(2)]
        miit = account(live, "lighthouse.miit@example.gov.cn", "miit")
        unit = account(live, "lighthouse.unit@example.gov.cn", "unit", UNIT)
        spare = invite(live, "lighthouse.spare@example.gov.cn", "unit", UNIT)
        pages = [("/staff/signin", "/staff/signin", None), ("/staff/ (miit)", "/staff/", miit),
                 ("/staff/ (unit)", "/staff/", unit), ("detail (unit)", f"/staff/submissions/{refs[0]}", unit),
                 ("/staff/accounts", "/staff/accounts", miit), ("/staff/audit", "/staff/audit", miit),
                 ("invitation (unused)", spare, None)]
        version = ""
        print(f"{'page':<24} {'accessibility':>13}  failing audits\n" + "-" * 60)
        for i, (label, path, who) in enumerate(pages):
            url = urljoin(live.url, path)
            result = audit(cli, url, who.header() if who else "", reports / f"{i}.json")
            version = result["lighthouseVersion"]
            assert result["finalDisplayedUrl"].split("?")[0] == url, (url, result["finalDisplayedUrl"])
            score = round((result["categories"]["accessibility"]["score"] or 0) * 100)
            ok = ok and score == 100
            print(f"{label:<24} {score:>13}  {', '.join(LH['failing'](result, 'accessibility')) or '-'}")
        print(f"\nLighthouse {version}, Chromium {LH['CHROME']}; target: accessibility 100 on every page")
    finally:
        stop_live(live)
        shutil.rmtree(work, ignore_errors=True)
    print("all targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
