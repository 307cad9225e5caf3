"""The blank 申报书 for drafting offline (the 离线起草 page): every section and field in form order with what the
form requires of it in words, every kind of attachment, the pledge. From the same schema walk as the form, so the
two cannot differ.
"""

from __future__ import annotations

from html import escape
from typing import Any

from bdpilot.domain import wording
from bdpilot.web.schemawalk import Field, Section, sections

# Upper limits this high are plausibility caps against typing slips, not a rule a draft has to meet: not listed.
PLAUSIBLE_CAP = 10_000_000
LONG_LIST = 12  # a select with more options than this names the count, not every option


def _t(key: str, **params: Any) -> str:
    return wording.text(f"apply.{key}", **params)


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
            conditions.append(_t("draft.condition", field=other.title, label=label))
        rules.append(_t("draft.required_when", conditions=_t("draft.condition_and").join(conditions)))
    else:
        rules.append(_t("draft.required" if f.required else "draft.optional"))
    kinds = wording.section("apply.draft.kinds")
    if f.widget in kinds:
        rules.append(kinds[f.widget])
    if f.widget == "select":
        options = f.options
        rules.append(_t("draft.choose_from", options=_t("list_sep").join(label for _, label in options))
                     if len(options) <= LONG_LIST else _t("draft.choose_long", count=len(options)))
    for key, word in (("ge", "at_least"), ("gt", "above"), ("minimum", "at_least"), ("le", "at_most"),
                      ("maximum", "at_most")):
        if key in f.spec and not (word == "at_most" and f.spec[key] >= PLAUSIBLE_CAP):
            rules.append(_t(f"draft.{word}", value=_number(f.spec[key])))
    if f.widget == "money" and not any(k in f.spec for k in ("ge", "gt", "minimum")):
        rules.append(_t("draft.negative"))
    if f.widget in ("text", "textarea") and f.spec.get("maxLength"):
        rules.append(_t("draft.max_chars", max_length=f.spec["maxLength"]))
    if f.spec.get("x-unit"):
        rules.append(_t("draft.unit", unit=f.spec["x-unit"]))
    return rules


def _blank_field(f: Field, section: Section) -> str:
    rules = _t("rule_sep").join(field_rules(f, section))
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
                f'<tr><th scope="row">{escape(k["title"])}</th>'
                f'<td>{escape(_t("attachment.required" if k["required"] else "attachment.optional"))}</td></tr>'
                for k in spec.get("x-kinds", []))
            rules = [section.description] + ([_t("draft.max_files", count=spec["maxItems"])]
                                              if spec.get("maxItems") else [])
            parts.append(f'<section class="bd-draft-section">{head}'
                         f'<p class="bd-draft-rules">{escape(_t("rule_sep").join(rules))}</p>'
                         f'<table class="bd-draft-table"><thead><tr><th scope="col">{escape(_t("attachment.kind"))}'
                         f'</th><th scope="col">{escape(_t("draft.requirement"))}</th></tr></thead>'
                         f'<tbody>{rows}</tbody></table></section>')
        elif section.widget == "pledge":
            parts.append(f'<section class="bd-draft-section">{head}<p>{escape(section.fields[0].description)}</p>'
                         f'<p class="bd-draft-rules">{escape(_t("draft.pledge_rule", label=_t("form.pledge_label")))}'
                         f'</p><p class="bd-draft-sign">{escape(_t("print.pledge_sign"))}<br>'
                         f'{escape(_t("print.date_line"))}</p></section>')
        else:
            fields = "".join(_blank_field(f, section) for f in section.fields)
            parts.append(f'<section class="bd-draft-section">{head}{fields}</section>')
    return f'<div class="bd-draft" id="draft">{"".join(parts)}</div>'
