"""The 申报书 form and its printable copy as HTML, generated from the models' JSON Schema.

Nothing here lists a field by hand: `sections()` walks `form_schema()` and every control, label, hint and printed
row follows from it. The same functions serve the site build (a MkDocs hook puts the empty form on /apply/) and
the API's answers to browsers without JavaScript (the form again, with the posted values and errors, or the
receipt). Control names are the dotted paths the API reports errors under ("application.applicant.uscc"), so
an error maps onto its control by name; ids are the same path with "-" ("application-applicant-uscc").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from html import escape
from typing import Any
from urllib.parse import urlencode

from bdpilot.domain.formats import beijing_time, size_text

ROOT = "application"
SUBMIT_ACTION = "/api/submissions"
BEIJING = timezone(timedelta(hours=8), "北京时间")


@dataclass(frozen=True)
class Field:
    path: str
    title: str
    description: str
    widget: str
    required: bool
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return field_id(self.path)

    @property
    def options(self) -> list[tuple[str, str]]:
        """(value, label) pairs of a select."""
        values = self.spec.get("enum") or []
        labels = self.spec.get("x-labels") or values
        return [(str(v), str(lab)) for v, lab in zip(values, labels, strict=True)]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    description: str
    widget: str  # "section" | "attachments" | "pledge"
    fields: list[Field] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return field_id(f"{ROOT}.{self.key}")


def field_id(path: str) -> str:
    return path.replace(".", "-")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A property with its `$ref` (if any) merged in; the property's own keys (title, x-widget) win."""
    ref = node.get("$ref")
    if not ref:
        return node
    target = schema["$defs"][ref.rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def sections(schema: dict[str, Any]) -> list[Section]:
    """The form's fieldsets in schema order: one per object section, then attachments and the pledge."""
    result = []
    for key, prop in schema["properties"].items():
        node = _resolve(schema, prop)
        widget = node.get("x-widget") or ("section" if node.get("type") == "object" else "text")
        path = f"{ROOT}.{key}"
        if widget == "section":
            required = set(node.get("required", []))
            fields = [
                Field(f"{path}.{name}", sub["title"], sub.get("description") or "",
                      sub.get("x-widget") or "text", name in required, sub)
                for name, raw in node["properties"].items()
                for sub in [_resolve(schema, raw)]
            ]
            result.append(Section(key, node["title"], node.get("description") or "", widget, fields, node))
        else:
            one = Field(path, node["title"], node.get("description") or "", widget,
                        key in schema.get("required", []), node)
            result.append(Section(key, node["title"], node.get("description") or "", widget, [one], node))
    return result


def all_fields(schema: dict[str, Any]) -> list[Field]:
    return [f for s in sections(schema) for f in s.fields]


# --- values and errors -------------------------------------------------------------------------------------------

def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}.{i}", out)
    else:
        out[prefix] = value
    return out


def flatten(application: Mapping[str, Any] | None) -> dict[str, Any]:
    """{"cover": {"direction": 3}} → {"application.cover.direction": 3}."""
    return _flatten(application or {}, ROOT, {})


def _attachments(values: Mapping[str, Any]) -> list[dict[str, str]]:
    items: dict[int, dict[str, str]] = {}
    prefix = f"{ROOT}.attachments."
    for path, value in values.items():
        if path.startswith(prefix):
            index, _, key = path[len(prefix):].partition(".")
            if index.isdigit() and key:
                items.setdefault(int(index), {})[key] = "" if value is None else str(value)
    return [items[i] for i in sorted(items)]


def error_target(schema: dict[str, Any], path: str, values: Mapping[str, Any]) -> str | None:
    """The id of the control an API error path belongs to, or None when no control does (summary only)."""
    ids = {f.path: f.id for f in all_fields(schema)}
    attachments_path = f"{ROOT}.attachments"
    if path in ids and path != attachments_path:
        return ids[path]
    if path.startswith(attachments_path + "."):
        index = path.split(".")[2]
        items = _attachments(values)
        if index.isdigit() and int(index) < len(items) and items[int(index)].get("kind"):
            return field_id(f"{attachments_path}.{items[int(index)]['kind']}")
    if path == attachments_path:
        kinds = {a.get("kind") for a in _attachments(values)}
        spec = _resolve(schema, schema["properties"]["attachments"])
        missing = [k["kind"] for k in spec.get("x-kinds", []) if k["required"] and k["kind"] not in kinds]
        return field_id(f"{attachments_path}.{(missing or [spec['x-kinds'][0]['kind']])[0]}")
    return None


def _by_target(schema: dict[str, Any], errors: Iterable[Mapping[str, str]],
               values: Mapping[str, Any]) -> dict[str | None, list[str]]:
    grouped: dict[str | None, list[str]] = {}
    for error in errors:
        grouped.setdefault(error_target(schema, error["path"], values), []).append(error["message"])
    return grouped


def render_error_summary(schema: dict[str, Any], errors: list[Mapping[str, str]], values: Mapping[str, Any],
                         message: str = "") -> str:
    """The GOV.UK error summary: a titled list of every problem, each linking to its control."""
    items = []
    for error in errors:
        target = error_target(schema, error["path"], values) or "apply-form"
        items.append(f'<li><a href="#{escape(target)}">{escape(error["message"])}</a></li>')
    lead = f"<p>{escape(message)}</p>" if message else ""
    return (f'<div class="apply-error-summary" id="error-summary" tabindex="-1" role="alert" '
            f'aria-labelledby="error-summary-title"><h2 id="error-summary-title">提交前请修改以下问题</h2>'
            f'{lead}<ul>{"".join(items)}</ul></div>')


# --- the form ----------------------------------------------------------------------------------------------------

def _text_value(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value)


def _error_html(fid: str, messages: list[str]) -> str:
    if not messages:
        return ""
    text = "；".join(messages)
    return f'<p class="apply-field-error" id="{fid}-error"><span class="apply-vh">错误：</span>{escape(text)}</p>'


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
        options = ['<option value="">请选择</option>'] + [
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
        count = (f'<p class="apply-count" id="{f.id}-count">不超过{f.spec.get("maxLength")}个字</p>')
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


def _upload_notice(token: str, items: list[dict[str, str]], static: bool) -> str:
    """Without JavaScript, files are uploaded on a page of their own (see bdpilot.web.formdata)."""
    query = ""
    if token:
        state = ",".join(f'{i.get("kind", "")}:{i.get("upload_id", "")}' for i in items)
        query = "?" + urlencode({"token": token, "a": state})
    text = (f'<p class="apply-notice">您的浏览器未启用JavaScript：请在<a href="{escape(UPLOAD_PAGE + query)}">'
            f'附件上传页面</a>上传附件，完成后回到申报书继续填写。（离开本页时，本页已填写但尚未提交的内容不会保留，'
            f'建议先上传附件。）</p>')
    # On the site the notice shows only without JavaScript; the API's own pages are only for such browsers.
    return f"<noscript>{text}</noscript>" if static else text


def _attachments_fieldset(section: Section, values: Mapping[str, Any],
                          errors: dict[str | None, list[str]], token: str, static: bool) -> str:
    spec = section.spec
    items = _attachments(values)
    blocks = []
    for kind in spec.get("x-kinds", []):
        fid = field_id(f"{ROOT}.attachments.{kind['kind']}")
        messages = errors.get(fid, [])
        required = ' <span class="apply-req" aria-hidden="true">*</span>' if kind["required"] else ""
        note = "必须上传" if kind["required"] else "选填"
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
            f'<p class="apply-hint" id="{fid}-hint">{note}；PDF格式，每个文件不超过20MB</p>'
            f'{_error_html(fid, messages)}{listing}'
            # The file picker needs JavaScript (the file goes straight to storage); apply.js reveals it.
            f'<div class="apply-upload" hidden><input type="file" id="{fid}" accept=".pdf,application/pdf"'
            f'{invalid}{described}><progress max="100" value="0" hidden></progress>'
            f'<p class="apply-upload-status" aria-live="polite"></p></div></div>')
    hint = f'<p class="apply-hint">{escape(section.description)}</p>' if section.description else ""
    nojs = _upload_notice(token, items, static)
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
            f'<label for="{f.id}" id="{f.id}-label">本单位已阅读并作出以上承诺'
            f'<span class="apply-req" aria-hidden="true">*</span></label></div></div></fieldset>')


def section_anchor(section: Section) -> str:
    """The id of a section's fieldset (the pledge's own checkbox has the section's id, so its fieldset differs)."""
    return f"{section.id}-section" if section.widget == "pledge" else section.id


def render_section_nav(schema: dict[str, Any]) -> str:
    """The list of the form's sections, each linking to its fieldset: plain links without JavaScript; apply.js
    marks the completed ones and fills in the count (#apply-progress)."""
    items = "".join(f'<li data-section="{escape(s.key)}"><a href="#{section_anchor(s)}">{escape(s.title)}</a></li>'
                    for s in sections(schema))
    return ('<nav class="apply-toc" id="apply-toc" aria-labelledby="apply-toc-title">'
            f'<p class="apply-toc-title" id="apply-toc-title">申报书共{len(sections(schema))}部分</p>'
            f'<p class="apply-progress" id="apply-progress" hidden></p><ol>{items}</ol></nav>')


def render_form(schema: dict[str, Any], values: Mapping[str, Any] | None = None,
                errors: list[Mapping[str, str]] | None = None, token: str = "", *,
                idempotency_key: str = "", message: str = "", action: str = SUBMIT_ACTION,
                static: bool = True) -> str:
    """The whole form. `values` is the nested 申报书 (as posted); `errors` the API's [{path, message}];
    `static` for the site's page (which apply.js enhances), False for the API's no-JavaScript pages."""
    flat = flatten(values)
    grouped = _by_target(schema, errors or [], flat)
    parts = []
    if errors or message:
        parts.append(render_error_summary(schema, list(errors or []), flat, message))
    parts.append('<p class="apply-hint">带 <span class="apply-req">*</span> 的为必填项。</p>')
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
              '<div class="apply-hp" aria-hidden="true"><label for="website">请勿填写此项</label>'
              '<input type="text" id="website" name="website" value="" tabindex="-1" autocomplete="off"></div>')
    buttons = ('<div class="apply-actions"><button type="submit" class="md-button md-button--primary" '
               'id="apply-submit">提交申报书</button></div>')
    return (f'<form id="apply-form" class="apply-form" method="post" action="{escape(action)}" '
            f'enctype="application/x-www-form-urlencoded" accept-charset="utf-8" novalidate>'
            f'{hidden}{"".join(parts)}{buttons}</form>')


def schema_script(schema: dict[str, Any]) -> str:
    """The schema for apply.js, embedded in the page (no second copy in JS, no extra request)."""
    data = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="form-schema">{data}</script>'


# --- the printable copy ------------------------------------------------------------------------------------------

def display(f: Field, value: Any) -> str:
    """An answer as the printed copy shows it."""
    if value is None or value == "":
        return "（未填写）"
    if f.widget == "select":
        labels = dict(f.options)
        return labels.get(str(value), str(value))
    if f.widget == "pledge":
        return "已承诺" if value is True else "未承诺"
    return str(value)


def render_record(schema: dict[str, Any], body: Mapping[str, Any]) -> str:
    """The printable 申报书 from the API's 201 answer (its normalized `record`): every field in section order,
    the attachment list, an empty box for the 推荐单位's opinion, the pledge, and reference + digest on every
    printed page. apply.js draws the same layout from the same record."""
    record = body.get("record") if isinstance(body.get("record"), dict) else {}
    application = record.get("application", record)
    flat = flatten(application if isinstance(application, dict) else {})
    files = [f for f in record.get("files", []) if isinstance(f, dict)] if isinstance(record.get("files"), list) else []
    reference, received = str(body.get("reference", "")), beijing_time(body.get("received_at", ""))
    meta = (f'申报编号：{escape(reference)}　提交时间：{escape(received)}'
            f'<br>数据摘要（SHA-256）：{escape(str(body.get("digest", "")))}')
    out = [f'<header class="apply-print-cover"><h2>{escape(schema["title"])}</h2>']
    cover_rows = []
    for section in sections(schema):
        if section.key == "cover":
            cover_rows = [(f.title, display(f, flat.get(f.path))) for f in section.fields
                          if flat.get(f.path) not in (None, "")]
    unit = next((f for f in all_fields(schema) if f.path == f"{ROOT}.applicant.name"), None)
    if unit:
        cover_rows.append(("申报单位（盖章）", display(unit, flat.get(unit.path))))
    cover_rows += [("申报编号", reference), ("提交时间", received)]
    out.append('<dl class="apply-cover-list">' + "".join(
        f"<dt>{escape(t)}</dt><dd>{escape(v)}</dd>" for t, v in cover_rows) + "</dl></header>")
    for section in sections(schema):
        if section.widget == "attachments":
            rows = "".join(
                f'<tr><td>{escape(str(f.get("title", "")))}</td><td>{escape(str(f.get("filename", "")))}</td>'
                f'<td>{escape(size_text(int(f.get("size") or 0)))}</td></tr>' for f in files)
            out.append(f'<section class="apply-print-section"><h3>{escape(section.title)}</h3>'
                       f'<table class="apply-table"><thead><tr><th scope="col">附件类型</th>'
                       f'<th scope="col">文件名</th><th scope="col">大小</th></tr></thead>'
                       f'<tbody>{rows}</tbody></table></section>')
        elif section.widget == "pledge":
            f = section.fields[0]
            out.append('<section class="apply-print-section apply-print-opinion"><h3>推荐单位意见</h3>'
                       '<div class="apply-opinion-box">（由推荐单位填写）<p class="apply-sign">'
                       '推荐单位（盖章）：<br>日期：　　年　　月　　日</p></div></section>')
            out.append(f'<section class="apply-print-section"><h3>{escape(section.title)}</h3>'
                       f'<p>{escape(f.description)}</p><p>{escape(display(f, flat.get(f.path)))}</p>'
                       '<p class="apply-sign">法定代表人（签字）：　　　　　　申报单位（盖章）：<br>'
                       '日期：　　年　　月　　日</p></section>')
        else:
            rows = "".join(
                f'<tr><th scope="row">{escape(f.title)}</th><td>{escape(display(f, flat.get(f.path)))}</td></tr>'
                for f in section.fields
                # a conditional field left empty (推荐单位名称 beside a province) is no question on paper
                if not (f.spec.get("x-required-when") and flat.get(f.path) in (None, "")))
            out.append(f'<section class="apply-print-section"><h3>{escape(section.title)}</h3>'
                       f'<table class="apply-table apply-answers"><tbody>{rows}</tbody></table></section>')
    # A layout table: its tfoot repeats on every printed page and keeps text clear of the fixed footer.
    return (f'<article class="apply-print" id="apply-print" aria-label="申报书打印稿">'
            f'<table class="apply-print-frame" role="presentation"><tfoot><tr><td>'
            f'<div class="apply-print-footer-space"></div></td></tr></tfoot><tbody><tr><td>{"".join(out)}'
            f'</td></tr></tbody></table><footer class="apply-print-footer">{meta}</footer></article>')


# --- the blank 申报书 for drafting offline -------------------------------------------------------------------------

KIND_NAMES = {"uscc": "18位代码（数字或大写字母）", "tel": "电话号码", "email": "电子邮箱地址",
              "date": "日期（年-月-日）", "integer": "整数", "money": "金额，最多两位小数"}
# Upper limits this high are plausibility caps against typing slips, not a rule a draft has to meet: not listed.
PLAUSIBLE_CAP = 10_000_000
LONG_LIST = 12  # a select with more options than this names the count, not every option


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def field_rules(f: Field, section: Section) -> list[str]:
    """What the form requires of a field, in words: required or when, kind, limits, options, unit."""
    rules = []
    when = f.spec.get("x-required-when")
    if when:
        by_name = {g.path.rsplit(".", 1)[-1]: g for g in section.fields}
        conditions = []
        for name, value in when.items():
            other = by_name[name]
            label = dict(other.options).get(str(value), str(value))
            conditions.append(f"“{other.title}”选择“{label}”")
        rules.append(f"{'且'.join(conditions)}时必填")
    else:
        rules.append("必填" if f.required else "选填")
    if f.widget in KIND_NAMES:
        rules.append(KIND_NAMES[f.widget])
    if f.widget == "select":
        options = f.options
        rules.append("从以下选项中选择：" + "、".join(label for _, label in options) if len(options) <= LONG_LIST
                     else f"在线填写时从列表中选择（共{len(options)}项）")
    for key, word in (("ge", "不小于"), ("gt", "大于"), ("minimum", "不小于"), ("le", "不超过"), ("maximum", "不超过")):
        if key in f.spec and not (word == "不超过" and f.spec[key] >= PLAUSIBLE_CAP):
            rules.append(f"{word}{_number(f.spec[key])}")
    if f.widget == "money" and not any(k in f.spec for k in ("ge", "gt", "minimum")):
        rules.append("可为负数")
    if f.widget in ("text", "textarea") and f.spec.get("maxLength"):
        rules.append(f"不超过{f.spec['maxLength']}字")
    if f.spec.get("x-unit"):
        rules.append(f"单位：{f.spec['x-unit']}")
    return rules


def _blank_field(f: Field, section: Section) -> str:
    rules = "；".join(field_rules(f, section))
    help_text = f'<p class="bd-draft-help">{escape(f.description)}</p>' if f.description else ""
    size = "long" if (f.spec.get("maxLength") or 0) > 1000 else "short"
    box = f'<div class="bd-draft-box bd-draft-box--{size}"></div>' if f.widget == "textarea" else (
        '<div class="bd-draft-line"></div>')
    return (f'<div class="bd-draft-field bd-draft-field--{escape(f.widget)}"><h3>{escape(f.title)}</h3>'
            f'<p class="bd-draft-rules">{escape(rules)}</p>{help_text}{box}</div>')


def render_blank(schema: dict[str, Any]) -> str:
    """The whole 申报书 with nothing filled in, for drafting offline and printing: every section and field in form
    order with what the form requires of it, every kind of attachment, the pledge. From the same schema walk as
    the form, so the two cannot differ."""
    parts = []
    for section in sections(schema):
        head = f'<h2 id="draft-{escape(section.key)}">{escape(section.title)}</h2>'
        if section.widget == "attachments":
            spec = section.spec
            rows = "".join(
                f'<tr><th scope="row">{escape(k["title"])}</th><td>{"必须上传" if k["required"] else "选填"}</td></tr>'
                for k in spec.get("x-kinds", []))
            limit = f"；最多{spec['maxItems']}个文件" if spec.get("maxItems") else ""
            parts.append(f'<section class="bd-draft-section">{head}'
                         f'<p class="bd-draft-rules">{escape(section.description + limit)}</p>'
                         f'<table class="bd-draft-table"><thead><tr><th scope="col">附件类型</th>'
                         f'<th scope="col">要求</th></tr></thead><tbody>{rows}</tbody></table></section>')
        elif section.widget == "pledge":
            parts.append(f'<section class="bd-draft-section">{head}<p>{escape(section.fields[0].description)}</p>'
                         '<p class="bd-draft-rules">必填：在线提交时勾选“本单位已阅读并作出以上承诺”</p>'
                         '<p class="bd-draft-sign">法定代表人（签字）：　　　　　　申报单位（盖章）：<br>'
                         '日期：　　年　　月　　日</p></section>')
        else:
            fields = "".join(_blank_field(f, section) for f in section.fields)
            parts.append(f'<section class="bd-draft-section">{head}{fields}</section>')
    return f'<div class="bd-draft" id="draft">{"".join(parts)}</div>'
