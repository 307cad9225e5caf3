"""MkDocs hook: every inline script in the built site must be allowed by its hash in the site's CSP.

Why: the site's Content-Security-Policy (``SecurityHeadersPolicy`` in ``infra/template.yaml``) allows scripts from
'self' and a few inline ones by their ``'sha256-…'`` hash, never ``'unsafe-inline'``. Material for MkDocs writes
small inline scripts into every page (the storage scope, the colour palette, the tab state); a theme upgrade or a
new override can change or add one. This hook hashes each inline script as it is written and fails the build when
one is not in the template's CSP (and, under ``--strict``, when the CSP lists a hash no page uses), printing the
exact tokens, so a page whose script the browser would refuse is never built, let alone deployed.

Scripts with a ``src`` and data blocks (``type="application/json"``) are not inline code and are not counted.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from html.parser import HTMLParser
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

from bdpilot.ops import stack

log = logging.getLogger("mkdocs.hooks.csp")

# Script types a browser runs (HTML spec: a JavaScript MIME type, "module", or no type at all).
JS_TYPES = {"", "module", "text/javascript", "application/javascript", "application/ecmascript",
            "text/ecmascript", "application/x-javascript", "text/x-javascript"}
HASH_TOKEN = re.compile(r"'sha256-[A-Za-z0-9+/]+={0,2}'")


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._inside = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        named = {k: (v or "") for k, v in attrs}
        kind = named.get("type", "").split(";")[0].strip().lower()
        self._inside = "src" not in named and kind in JS_TYPES
        self._text = []

    def handle_data(self, data: str) -> None:
        if self._inside:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inside:
            self.scripts.append("".join(self._text))
            self._inside = False


def script_hash(code: str) -> str:
    """The CSP source expression that allows exactly this inline script (hash of its UTF-8 text)."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii") + "'"


def inline_script_hashes(html: str) -> set[str]:
    parser = _InlineScripts()
    parser.feed(html)
    parser.close()
    return {script_hash(code) for code in parser.scripts}


def site_csp(template: dict[str, Any] | None = None) -> str:
    """The site CSP's text as written in the template (the Fn::Sub text, before substitution)."""
    template = template or stack.load_template()
    value = template["Resources"]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    sub = value["Fn::Sub"] if isinstance(value, dict) else value
    return sub if isinstance(sub, str) else sub[0]


def allowed_script_hashes(csp: str) -> set[str]:
    for directive in csp.split(";"):
        name, _, sources = directive.strip().partition(" ")
        if name == "script-src":
            return set(HASH_TOKEN.findall(sources))
    return set()


_found: dict[str, str] = {}  # hash -> first page that has it


def _collect(html: str, where: str) -> None:
    for token in inline_script_hashes(html):
        _found.setdefault(token, where)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _found.clear()  # `mkdocs serve` rebuilds in the same process
    return config


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    _collect(output, page.file.dest_uri)
    return output


def on_post_template(output_content: str, template_name: str, config: MkDocsConfig) -> str:
    # Static templates (404.html) do not pass through on_post_page.
    if template_name.endswith(".html"):
        _collect(output_content, template_name)
    return output_content


def on_post_build(config: MkDocsConfig) -> None:
    allowed = allowed_script_hashes(site_csp())
    missing = {token: where for token, where in _found.items() if token not in allowed}
    if missing:
        lines = "\n".join(f"  {token}   (first in {where})" for token, where in sorted(missing.items()))
        raise PluginError(
            "inline scripts that the site's CSP would block: add these to script-src of SecurityHeadersPolicy "
            f"in infra/template.yaml (or move the script into a file):\n{lines}")
    unused = sorted(allowed - _found.keys())
    if unused:
        log.warning("script-src of SecurityHeadersPolicy allows hashes no page uses (remove them): %s",
                    " ".join(unused))
