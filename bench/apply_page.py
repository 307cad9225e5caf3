"""The 在线申报 page (/apply/) as a visitor loads it: transferred bytes and Lighthouse scores.

The page is served as deployed: the built site compressed the way CloudFront compresses text (bench/lighthouse's
static handler), with /api/* passed through to the README's local run (API + embedded storage), so the form's
GET /api/campaign is part of the load.

(a) transferred bytes, measured in Chromium with Playwright: every response's headers + encoded body, by type,
    and any request that left the local origin; target <= 250 KB, form script and styles included.
(b) Lighthouse (bench/lighthouse's pinned install) on /apply/: targets accessibility 100, performance >= 90.

Run: python -m bench.apply_page [--no-gzip] [--no-lighthouse]
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 250 * 1024
TARGETS = {"accessibility": 100, "performance": 90}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _lighthouse_module():  # bench/lighthouse is a script without .py: load it by path
    loader = importlib.machinery.SourceFileLoader("bench_lighthouse", str(ROOT / "bench" / "lighthouse"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _build(out: Path) -> None:
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
                   cwd=ROOT, check=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                   stderr=subprocess.DEVNULL)


def _handler(static: type, api_base: str) -> type:
    class Handler(static):  # type: ignore[misc, valid-type]
        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "accept-encoding")}
            request = urllib.request.Request(api_base.rstrip("/") + self.path, data=body, headers=headers,
                                             method=self.command)
            try:
                with urllib.request.urlopen(request) as reply:
                    status, reply_headers, data = reply.status, reply.headers, reply.read()
            except urllib.error.HTTPError as exc:
                status, reply_headers, data = exc.code, exc.headers, exc.read()
            self.send_response(status)
            for key, value in reply_headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.startswith("/api/"):
                self._proxy()
            else:
                super().do_GET()

        def do_POST(self) -> None:
            self._proxy()

    return Handler


def _weigh(url: str) -> tuple[int, dict[str, int], list[str]]:
    from playwright.sync_api import sync_playwright

    sizes: dict[str, int] = defaultdict(int)
    external: list[str] = []
    origin = urlsplit(url).netloc
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN")
        responses = []
        context.on("response", lambda r: responses.append(r))
        context.on("request", lambda r: external.append(r.url) if urlsplit(r.url).netloc not in (origin, "")
                   and r.url.startswith("http") else None)
        page = context.new_page()
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("() => document.querySelector('input[name=form_token]').value !== ''")
        page.wait_for_timeout(1500)  # late requests (the search worker's index)
        for response in responses:
            try:
                s = response.request.sizes()
            except Exception:  # a response whose sizes the protocol never reported
                continue
            kind = urlsplit(response.url).path.rsplit(".", 1)[-1] if "." in response.url.rsplit("/", 1)[-1] \
                else ("api" if "/api/" in response.url else "html")
            sizes[kind] += s["responseBodySize"] + s["responseHeadersSize"]
        browser.close()
    return sum(sizes.values()), dict(sizes), external


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--no-gzip", action="store_true", help="serve raw bytes (no CDN compression)")
    args.add_argument("--no-lighthouse", action="store_true", help="only measure the transferred bytes")
    opts = args.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.conftest import start_live, stop_live

    lighthouse = _lighthouse_module()
    work = Path(tempfile.mkdtemp(prefix="apply-page-"))
    site = work / "site"
    data = work / "data"
    data.mkdir()
    _build(site)
    run = start_live(site, data)
    lighthouse.Handler.gzip_text = not opts.no_gzip
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_handler(lighthouse.Handler, run.url),
                                                          directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/apply/"
    ok = True
    try:
        total, by_kind, external = _weigh(url)
        served = "no compression" if opts.no_gzip else "gzip, as CloudFront"
        print(f"/apply/ transferred: {total / 1024:.1f} KB ({served}); target <= {MAX_BYTES // 1024} KB")
        for kind, size in sorted(by_kind.items(), key=lambda kv: -kv[1]):
            print(f"    {kind:<8} {size / 1024:8.1f} KB")
        print(f"requests to other origins: {len(external)}" + (f" {external}" if external else ""))
        ok = total <= MAX_BYTES and not external
        if not opts.no_lighthouse:
            cli = lighthouse.install()
            result = lighthouse.audit(cli, url, work / "apply.json")
            scores = {c: round((result["categories"][c]["score"] or 0) * 100) for c in lighthouse.CATEGORIES}
            print("Lighthouse /apply/: " + ", ".join(f"{c} {s}" for c, s in scores.items()))
            weight = result["audits"]["total-byte-weight"]["numericValue"]
            print(f"Lighthouse total-byte-weight: {weight / 1024:.1f} KB")
            for c, target in TARGETS.items():
                if scores[c] < target:
                    ok = False
                    print(f"    {c} below {target}: {', '.join(lighthouse.failing(result, c))}")
            (ROOT / ".local").mkdir(exist_ok=True)
            (ROOT / ".local" / "apply-lighthouse.json").write_text(json.dumps(result))
    finally:
        server.shutdown()
        stop_live(run)
    print("all targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
