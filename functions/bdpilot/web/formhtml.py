"""The 申报书 form as HTML, generated from the models' JSON Schema.

Nothing here lists a field by hand: `schemawalk.sections()` walks `form_schema()` and every control, label and
hint follows from it. The same functions serve the site build (a MkDocs hook puts the empty form on /apply/) and
the API's answers to browsers without JavaScript (the form again, with the posted values and errors). Control
names are the dotted paths the API reports errors under ("application.applicant.uscc"), so an error maps onto its
control by name; ids are the same path with "-" ("application-applicant-uscc").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

from bdpilot import settings
from bdpilot.domain import wording
from bdpilot.web.schemawalk import (
    ROOT,
    Field,
    Section,
    all_fields,
    attachment_items,
    field_id,
    flatten,
    resolve,
    section_anchor,
    sections,
)

SUBMIT_ACTION = "/api/submissions"
REQUIRED_MARK = '<span class="apply-req">*</span>'


def _t(key: str, **params: Any) -> str:
    """A catalogue sentence, escaped for HTML."""
    return escape(wording.text(key, **params))


def markup(key: str, **html: str) -> str:
    """A catalogue sentence around pieces of markup (a link, a mark): the sentence is escaped, the pieces (drawn
    and escaped by the caller) are not."""
    return escape(wording.raw(key)).format_map({**wording.figures(), **html})


def error_target(schema: dict[str, Any], path: str, values: Mapping[str, Any]) -> str | None:
    """The id of the control an API error path belongs to, or None when no control does (summary only)."""
    ids = {f.path: f.id for f in all_fields(schema)}
    attachments_path = f"{ROOT}.attachments"
    if path in ids and path != attachments_path:
        return ids[path]
    if path.startswith(attachments_path + "."):
        index = path.split(".")[2]
        items = attachment_items(values)
        if index.isdigit() and int(index) < len(items) and items[int(index)].get("kind"):
            return field_id(f"{attachments_path}.{items[int(index)]['kind']}")
    if path == attachments_path:
        kinds = {a.get("kind") for a in attachment_items(values)}
        spec = resolve(schema, schema["properties"]["attachments"])
        missing = [k["kind"] for k in spec.get("x-kinds", []) if k["required"] and k["kind"] not in kinds]
        return field_id(f"{attachments_path}.{(missing or [spec['x-kinds'][0]['kind']])[0]}")
    return None


def _by_target(schema: dict[str, Any], errors: Iterable[Mapping[str, str]],
               values: Mapping[str, Any]) -> dict[str | None, list[str]]:
    grouped: dict[str | None, list[str]] = {}
    for error in errors:
        grouped.setdefault(error_target(schema, error["path"], values), []).append(error["message"])
    return grouped


def render_error_summary(schema: dict[str, Any], errors: Sequence[Mapping[str, str]], values: Mapping[str, Any],
                         message: str = "") -> str:
    """The GOV.UK error summary: a titled list of every problem, each linking to its control."""
    items = []
    for error in errors:
        target = error_target(schema, error["path"], values) or "apply-form"
        items.append(f'<li><a href="#{escape(target)}">{escape(error["message"])}</a></li>')
    lead = f"<p>{escape(message)}</p>" if message else ""
    return (f'<div class="apply-error-summary" id="error-summary" tabindex="-1" role="alert" '
            f'aria-labelledby="error-summary-title"><h2 id="error-summary-title">{_t("apply.form.summary_title")}</h2>'
            f'{lead}<ul>{"".join(items)}</ul></div>')


# --- the form ----------------------------------------------------------------------------------------------------

def _text_value(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value)


def _error_html(fid: str, messages: list[str]) -> str:
    if not messages:
        return ""
    text = wording.text("apply.rule_sep").join(messages)
    return (f'<p class="apply-field-error" id="{fid}-error"><span class="apply-vh">{_t("apply.form.error_prefix")}'
            f'</span>{escape(text)}</p>')


def _described(fid: str, *parts: tuple[bool, str]) -> str:
    ids = [f"{fid}-{suffix}" for present, suffix in parts if present]
    return f' aria-describedby="{" ".join(ids)}"' if ids else ""


def _control(f: Field, value: Any, invalid: bool) -> str:
    """The one input/select/textarea for a field, by its x-widget."""
    fid, name = f.id, escape(f.path)
    has_hint = bool(f.description)
    common = f'id="{fid}" name="{name}"'
    if f.required:
        common += " required"
    if invalid:
        common += ' aria-invalid="true"'
    described = _described(fid, (has_hint, "hint"), (f.widget == "textarea", "count"), (invalid, "error"))
    max_length = f.spec.get("maxLength")
    text = escape(_text_value(value))
    if f.widget == "select":
        selected = _text_value(value)
        options = [f'<option value="">{_t("apply.form.choose")}</option>'] + [
            f'<option value="{escape(v)}"{" selected" if v == selected else ""}>{escape(label)}</option>'
            for v, label in f.options
        ]
        return f'<select {common}{described}>{"".join(options)}</select>'
    if f.widget == "textarea":
        # No maxlength: the counter shows an overflow instead of silently cutting pasted text.
        rows = 8 if (max_length or 0) > 1000 else 5
        return (f'<textarea {common} rows="{rows}" data-max-length="{max_length or ""}"{described}>{text}'
                f'</textarea>')
    if f.widget == "pledge":
        checked = " checked" if value in (True, "on", "true") else ""
        return f'<input type="checkbox" {common} value="on"{checked}{described}>'
    kind, extra = "text", ""
    if f.widget == "integer":
        # Text, not type=number: a number input empties "1,500" as people write it (the server and apply.js
        # take it as 1500) and changes the value on a scroll wheel; the limits are checked and named instead.
        extra = ' inputmode="numeric" autocomplete="off"'
    elif f.widget == "money":
        extra = ' inputmode="decimal" autocomplete="off"'
    elif f.widget == "date":
        kind = "date"
    elif f.widget == "tel":
        kind, extra = "tel", ' autocomplete="tel"'
    elif f.widget == "email":
        kind, extra = "email", ' autocomplete="email" spellcheck="false"'
    elif f.widget == "uscc":
        extra = ' autocapitalize="characters" autocomplete="off" spellcheck="false"'
    # Plain text gets no maxlength either: the browser would cut a pasted 项目名称 at 60 without a word.
    if max_length and f.widget not in ("date", "text"):
        extra += f' maxlength="{max_length}"'
    unit = f.spec.get("x-unit")
    control = f'<input type="{kind}" {common} value="{text}"{extra}{described}>'
    if unit:
        control = f'<span class="apply-unit">{control}<span aria-hidden="true">{escape(unit)}</span></span>'
    return control


def _label(f: Field, tag: str = "label") -> str:
    required = f.required or bool(f.spec.get("x-required-when"))  # a conditional field is shown when it is required
    marker = ' <span class="apply-req" aria-hidden="true">*</span>' if required else ""
    target = f' for="{f.id}"' if tag == "label" else ""
    return f'<{tag} class="apply-label"{target} id="{f.id}-label">{escape(f.title)}{marker}</{tag}>'


def _field(f: Field, values: Mapping[str, Any], errors: dict[str | None, list[str]]) -> str:
    messages = errors.get(f.id, [])
    hint = f'<p class="apply-hint" id="{f.id}-hint">{escape(f.description)}</p>' if f.description else ""
    count = ""
    if f.widget == "textarea":
        count = (f'<p class="apply-count" id="{f.id}-count">'
                 f'{_t("apply.form.textarea_limit", max_length=f.spec.get("maxLength"))}</p>')
    elif f.widget == "text" and f.spec.get("maxLength"):
        count = f'<p class="apply-count" id="{f.id}-count" hidden></p>'  # apply.js shows it near the limit
    when = f.spec.get("x-required-when")
    attrs = f' data-path="{escape(f.path)}" data-widget="{f.widget}"'
    if when:
        attrs += f" data-required-when='{escape(json.dumps(when, ensure_ascii=False))}'"
    css = "apply-field apply-field--error" if messages else "apply-field"
    return (f'<div class="{css}"{attrs}>{_label(f)}{hint}{_error_html(f.id, messages)}'
            f'{_control(f, values.get(f.path), bool(messages))}{count}</div>')


UPLOAD_PAGE = "/api/apply/uploads"


def _upload_notice(token: str, static: bool) -> str:
    """Without JavaScript, files are uploaded on a page of their own (see bdpilot.intake.uploads): for a form with a
    token, in a new window, since the post of this form takes what that token's uploads are then."""
    if token:
        href = UPLOAD_PAGE + "?" + urlencode({"token": token, "w": "1"})
        link = (f'<a href="{escape(href)}" target="_blank" rel="noopener">'
                f'{_t("apply.form.upload_page_link_window")}</a>')
        said = markup("apply.form.nojs_upload_window", link=link, submit=_t("apply.form.submit"))
    else:
        said = markup("apply.form.nojs_upload", link=f'<a href="{UPLOAD_PAGE}">{_t("apply.form.upload_page_link")}</a>')
    text = f'<p class="apply-notice">{said}</p>'
    # On the site the notice shows only without JavaScript; the API's own pages are only for such browsers.
    return f"<noscript>{text}</noscript>" if static else text


def _attachments_fieldset(section: Section, values: Mapping[str, Any],
                          errors: dict[str | None, list[str]], token: str, static: bool) -> str:
    spec = section.spec
    items = attachment_items(values)
    blocks = []
    for kind in spec.get("x-kinds", []):
        fid = field_id(f"{ROOT}.attachments.{kind['kind']}")
        messages = errors.get(fid, [])
        required = ' <span class="apply-req" aria-hidden="true">*</span>' if kind["required"] else ""
        note = wording.text("apply.attachment.required" if kind["required"] else "apply.attachment.optional")
        rows = []
        for i, item in enumerate(items):
            if item.get("kind") != kind["kind"]:
                continue
            hidden = "".join(
                f'<input type="hidden" name="{ROOT}.attachments.{i}.{k}" value="{escape(item.get(k, ""))}">'
                for k in ("kind", "upload_id", "filename"))
            rows.append(f'<li>{escape(item.get("filename", ""))}{hidden}</li>')
        listing = f'<ul class="apply-files" id="{fid}-files">{"".join(rows)}</ul>'
        css = "apply-field apply-attachment apply-field--error" if messages else "apply-field apply-attachment"
        invalid = ' aria-invalid="true"' if messages else ""
        described = f' aria-describedby="{fid}-hint{f" {fid}-error" if messages else ""}"'
        blocks.append(
            f'<div class="{css}" data-kind="{escape(kind["kind"])}" data-title="{escape(kind["title"])}"'
            f' data-required="{str(kind["required"]).lower()}">'
            f'<label class="apply-label" for="{fid}" id="{fid}-label">{escape(kind["title"])}{required}</label>'
            f'<p class="apply-hint" id="{fid}-hint">{_t("apply.attachment.hint", need=note)}</p>'
            f'{_error_html(fid, messages)}{listing}'
            # The file picker needs JavaScript (the file goes straight to storage); apply.js reveals it.
            f'<div class="apply-upload" hidden><input type="file" id="{fid}" accept=".pdf,application/pdf"'
            f'{invalid}{described}><progress max="100" value="0" hidden></progress>'
            f'<p class="apply-upload-status" aria-live="polite"></p></div></div>')
    hint = f'<p class="apply-hint">{escape(section.description)}</p>' if section.description else ""
    nojs = _upload_notice(token, static)
    return (f'<fieldset class="apply-section" id="{section_anchor(section)}"><legend>{escape(section.title)}</legend>'
            f'{hint}{nojs}{"".join(blocks)}</fieldset>')


def _pledge_fieldset(section: Section, values: Mapping[str, Any], errors: dict[str | None, list[str]]) -> str:
    f = section.fields[0]
    messages = errors.get(f.id, [])
    css = "apply-field apply-pledge apply-field--error" if messages else "apply-field apply-pledge"
    return (f'<fieldset class="apply-section" id="{section_anchor(section)}"><legend>{escape(section.title)}'
            f'</legend><div class="{css}" data-path="{escape(f.path)}" data-widget="pledge">'
            f'<p class="apply-hint" id="{f.id}-hint">{escape(f.description)}</p>{_error_html(f.id, messages)}'
            f'<div class="apply-check">{_control(f, values.get(f.path), bool(messages))}'
            f'<label for="{f.id}" id="{f.id}-label">{_t("apply.form.pledge_label")}'
            f'<span class="apply-req" aria-hidden="true">*</span></label></div></div></fieldset>')


def render_section_nav(schema: dict[str, Any]) -> str:
    """The list of the form's sections, each linking to its fieldset: plain links without JavaScript; apply.js
    marks the completed ones and fills in the count (#apply-progress)."""
    items = "".join(f'<li data-section="{escape(s.key)}"><a href="#{section_anchor(s)}">{escape(s.title)}</a></li>'
                    for s in sections(schema))
    title = _t("apply.form.toc_title", count=len(sections(schema)))
    return ('<nav class="apply-toc" id="apply-toc" aria-labelledby="apply-toc-title">'
            f'<p class="apply-toc-title" id="apply-toc-title">{title}</p>'
            f'<p class="apply-progress" id="apply-progress" hidden></p><ol>{items}</ol></nav>')


def render_form(schema: dict[str, Any], values: Mapping[str, Any] | None = None,
                errors: Sequence[Mapping[str, str]] | None = None, token: str = "", *,
                idempotency_key: str = "", message: str = "", action: str = SUBMIT_ACTION,
                static: bool = True) -> str:
    """The whole form. `values` is the nested 申报书 (as posted); `errors` the API's [{path, message}];
    `static` for the site's page (which apply.js enhances), False for the API's no-JavaScript pages."""
    flat = flatten(values)
    grouped = _by_target(schema, errors or [], flat)
    parts = []
    if errors or message:
        parts.append(render_error_summary(schema, list(errors or []), flat, message))
    parts.append(f'<p class="apply-hint">{markup("apply.form.required_note", mark=REQUIRED_MARK)}</p>')
    parts.append(render_section_nav(schema))
    for section in sections(schema):
        if section.widget == "attachments":
            parts.append(_attachments_fieldset(section, flat, grouped, token, static))
        elif section.widget == "pledge":
            parts.append(_pledge_fieldset(section, flat, grouped))
        else:
            fields = "".join(_field(f, flat, grouped) for f in section.fields)
            parts.append(f'<fieldset class="apply-section" id="{section_anchor(section)}"><legend>'
                         f'{escape(section.title)}</legend>{fields}</fieldset>')
    hidden = (f'<input type="hidden" name="form_token" value="{escape(token)}">'
              f'<input type="hidden" name="idempotency_key" value="{escape(idempotency_key)}">'
              # The honeypot: people never see or reach it; bots that fill every box give themselves away.
              f'<div class="apply-hp" aria-hidden="true"><label for="website">{_t("apply.form.honeypot")}</label>'
              '<input type="text" id="website" name="website" value="" tabindex="-1" autocomplete="off"></div>')
    buttons = ('<div class="apply-actions"><button type="submit" class="md-button md-button--primary" '
               f'id="apply-submit">{_t("apply.form.submit")}</button></div>')
    return (f'<form id="apply-form" class="apply-form" method="post" action="{escape(action)}" '
            f'enctype="application/x-www-form-urlencoded" accept-charset="utf-8" novalidate>'
            f'{hidden}{"".join(parts)}{buttons}</form>')


def browser_wording() -> dict[str, str]:
    """What apply.js says: the catalogue's apply.browser table with the standing figures filled in, and the
    shared labels and marks it shows beside the server's own (the receipt's, the error summary's)."""
    days = str(settings.TOKEN_MAX_AGE_SECONDS // 86400)  # how long a draft's form token lasts
    said = {key: template.replace("{days}", days) for key, template in wording.published("apply.browser").items()}
    shared = {"reference": "common.reference", "received_at": "common.received_at", "pledge_given":
              "common.pledge_given", "pledge_missing": "common.pledge_missing", "unfilled": "apply.print.unfilled",
              "error_prefix": "apply.form.error_prefix", "summary_title": "apply.form.summary_title",
              "receipt_title": "apply.receipt.title", "list_sep": "apply.list_sep", "rule_sep": "apply.rule_sep"}
    said.update({name: wording.text(key) for name, key in shared.items()})
    said["digest"] = wording.text("apply.sha256", label=wording.text("common.digest"))
    said.update({name: wording.raw(f"apply.{name}") for name in ("pair", "quoted")})
    return said


def schema_script(schema: dict[str, Any]) -> str:
    """The schema for apply.js, embedded in the page (no second copy in JS, no extra request), with what the
    script says (`x-wording`) and the limits it checks before a request (`x-figures`)."""
    figures = {"max_upload_bytes": settings.MAX_UPLOAD_BYTES, "per_kind": wording.figures()["per_kind"],
               "token_max_age_seconds": settings.TOKEN_MAX_AGE_SECONDS}
    embedded = {**schema, "x-wording": browser_wording(), "x-figures": figures}
    data = json.dumps(embedded, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="form-schema">{data}</script>'
