"""MkDocs hook: put the 申报书 form, generated from the models' JSON Schema, on the 在线申报 page.

The page's Markdown holds a placeholder ``<div data-apply-form></div>`` on a line of its own; after Markdown is
rendered the placeholder becomes the form (``bdpilot.web.formhtml.render_form``) followed by the schema itself as a
JSON blob that ``docs/assets/apply.js`` validates against (with the sentences it says, ``x-wording``) and the
receipt's next steps (``bdpilot.web.printcopy.render_next_steps``) in a ``<template>``. No field or sentence is
written by hand in a page or script.

The 离线起草 page (``apply/draft.md``) holds ``<div data-draft-form></div>`` instead: it becomes the blank 申报书
(``bdpilot.web.draftcopy.render_blank``), every section, field, limit and attachment kind from the same schema.
"""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from bdpilot.domain.application import form_schema
from bdpilot.web.draftcopy import render_blank
from bdpilot.web.formhtml import render_form, schema_script
from bdpilot.web.printcopy import render_next_steps

PLACEHOLDER = "<div data-apply-form></div>"
DRAFT_PLACEHOLDER = "<div data-draft-form></div>"
DRAFT_PAGE = "apply/draft.md"


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == DRAFT_PAGE:
        if DRAFT_PLACEHOLDER not in html:
            raise PluginError(f"{DRAFT_PAGE}: the blank form placeholder {DRAFT_PLACEHOLDER} is missing")
        return html.replace(DRAFT_PLACEHOLDER, render_blank(form_schema()), 1)
    if PLACEHOLDER not in html:
        if page.file.src_uri == "apply/index.md":
            raise PluginError(f"apply/index.md: the form placeholder {PLACEHOLDER} is missing")
        return html
    schema = form_schema()
    # data-search-exclude: labels and options would otherwise flood the search index (fetched on every page) with
    # form text. The wrapper's tag must occur nowhere inside it: Material's search parser compares elements by tag
    # name only, so the first inner </div> would end a <div data-search-exclude>.
    # The receipt's next steps, drawn by the same function as the no-JavaScript receipt's; apply.js shows them.
    steps = f'<template id="apply-next-steps">{render_next_steps("h3")}</template>'
    form = f"<section data-search-exclude>{render_form(schema)}{schema_script(schema)}{steps}</section>"
    if "<section" in form[len("<section"):]:
        raise PluginError("apply/index.md: the form holds a <section>; pick another tag for the search exclusion")
    return html.replace(PLACEHOLDER, form, 1)
