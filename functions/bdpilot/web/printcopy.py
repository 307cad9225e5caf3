"""The printable 申报书 and the receipt's next steps: the one renderer of a submitted record, on the server.

The no-JavaScript receipt page shows `render_record`, and the API's 201 answer carries the same HTML
(`printable`), which apply.js inserts as it is: the copy printed after submitting is the same whichever way the
form was sent, and a reprint from the receipt kept in the browser is the same again. The next steps are drawn
here once too (`render_next_steps`): the receipt page shows them and the site's form page embeds them for
apply.js. Values are shown by `display`, which admin `show` may use too.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from bdpilot.domain import wording
from bdpilot.domain.formats import beijing_time, size_text
from bdpilot.web.schemawalk import ROOT, Field, all_fields, flatten, sections


def display(f: Field, value: Any) -> str:
    """An answer as the printed copy shows it: the label of a choice, the pledge in words, a mark for no answer."""
    if value is None or value == "":
        return wording.text("apply.print.unfilled")
    if f.widget == "select":
        labels = dict(f.options)
        return labels.get(str(value), str(value))
    if f.widget == "pledge":
        return wording.text("common.pledge_given" if value is True else "common.pledge_missing")
    return str(value)


def pair(label: str, value: str) -> str:
    """"申报编号：BD-…" in the catalogue's punctuation."""
    return wording.text("apply.pair", label=label, value=value)


def _t(key: str, **params: Any) -> str:
    return escape(wording.text(key, **params))


def _signature(line_key: str) -> str:
    return f'<p class="apply-sign">{_t(line_key)}<br>{_t("apply.print.date_line")}</p>'


def _revision(record: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """For version 2 and later: (label, value) of the version and of when it was submitted; nothing for the first."""
    version, revised_at = record.get("version"), record.get("revised_at")
    if not isinstance(version, int) or version < 2 or not revised_at:
        return {}
    label = wording.text("apply.print.version", version=version)
    return {"version": (wording.text("common.version"), label),
            "revised": (wording.text("common.revised_at"), beijing_time(str(revised_at)))}


def render_record(schema: dict[str, Any], body: Mapping[str, Any]) -> str:
    """The printable 申报书 from the API's 201 answer (its normalized `record`): every field in section order,
    the attachment list, an empty box for the 推荐单位's opinion, the pledge, and reference + digest on every
    printed page."""
    stored = body.get("record")
    record: dict[str, Any] = stored if isinstance(stored, dict) else {}
    application = record.get("application", record)
    flat = flatten(application if isinstance(application, dict) else {})
    files = [f for f in record.get("files", []) if isinstance(f, dict)] if isinstance(record.get("files"), list) else []
    reference, received = str(body.get("reference", "")), beijing_time(body.get("received_at", ""))
    reference_label, received_label = wording.text("common.reference"), wording.text("common.received_at")
    digest_label = wording.text("apply.sha256", label=wording.text("common.digest"))
    # A revised version says so, on the cover and on every page: the paper must match the version filed online.
    revised = _revision(record)
    footer = {"reference": pair(reference_label, reference), "received": pair(received_label, received)}
    meta = (_t("apply.print.footer_revised", **footer, **{k: pair(*v) for k, v in revised.items()}) if revised
            else _t("apply.print.footer", **footer)) + f'<br>{escape(pair(digest_label, str(body.get("digest", ""))))}'
    out = [f'<header class="apply-print-cover"><h2>{escape(schema["title"])}</h2>']
    cover_rows = []
    for section in sections(schema):
        if section.key == "cover":
            cover_rows = [(f.title, display(f, flat.get(f.path))) for f in section.fields
                          if flat.get(f.path) not in (None, "")]
    unit = next((f for f in all_fields(schema) if f.path == f"{ROOT}.applicant.name"), None)
    if unit:
        cover_rows.append((wording.text("apply.print.cover_unit"), display(unit, flat.get(unit.path))))
    cover_rows += [(reference_label, reference), (received_label, received), *revised.values()]
    out.append('<dl class="apply-cover-list">' + "".join(
        f"<dt>{escape(t)}</dt><dd>{escape(v)}</dd>" for t, v in cover_rows) + "</dl></header>")
    for section in sections(schema):
        if section.widget == "attachments":
            rows = "".join(
                f'<tr><td>{escape(str(f.get("title", "")))}</td><td>{escape(str(f.get("filename", "")))}</td>'
                f'<td>{escape(size_text(int(f.get("size") or 0)))}</td></tr>' for f in files)
            heads = "".join(f'<th scope="col">{_t(f"apply.attachment.{k}")}</th>' for k in ("kind", "filename", "size"))
            out.append(f'<section class="apply-print-section"><h3>{escape(section.title)}</h3>'
                       f'<table class="apply-table"><thead><tr>{heads}</tr></thead>'
                       f'<tbody>{rows}</tbody></table></section>')
        elif section.widget == "pledge":
            f = section.fields[0]
            out.append('<section class="apply-print-section apply-print-opinion">'
                       f'<h3>{_t("apply.print.opinion_title")}</h3><div class="apply-opinion-box">'
                       f'{_t("apply.print.opinion_note")}{_signature("apply.print.opinion_sign")}</div></section>')
            out.append(f'<section class="apply-print-section"><h3>{escape(section.title)}</h3>'
                       f'<p>{escape(f.description)}</p><p>{escape(display(f, flat.get(f.path)))}</p>'
                       f'{_signature("apply.print.pledge_sign")}</section>')
        else:
            rows = "".join(
                f'<tr><th scope="row">{escape(f.title)}</th><td>{escape(display(f, flat.get(f.path)))}</td></tr>'
                for f in section.fields
                # a conditional field left empty (推荐单位名称 beside a province) is no question on paper
                if not (f.spec.get("x-required-when") and flat.get(f.path) in (None, "")))
            out.append(f'<section class="apply-print-section"><h3>{escape(section.title)}</h3>'
                       f'<table class="apply-table apply-answers"><tbody>{rows}</tbody></table></section>')
    # A layout table: its tfoot repeats on every printed page and keeps text clear of the fixed footer.
    return (f'<article class="apply-print" id="apply-print" aria-label="{_t("apply.print.label")}">'
            f'<table class="apply-print-frame" role="presentation"><tfoot><tr><td>'
            f'<div class="apply-print-footer-space"></div></td></tr></tfoot><tbody><tr><td>{"".join(out)}'
            f'</td></tr></tbody></table><footer class="apply-print-footer">{meta}</footer></article>')


def render_next_steps(heading: str = "h2") -> str:
    """What to do after submitting: sign and stamp the printed copy, hand it in as the 推荐单位 asks."""
    steps = "".join(f"<li>{_t(f'apply.receipt.{key}')}</li>" for key in ("next_print", "next_paper", "next_review"))
    return (f'<div class="apply-next-steps"><{heading}>{_t("apply.receipt.next_title")}</{heading}>'
            f"<ol>{steps}</ol></div>")
