"""The generated form: one control per schema field, named by its API path, labelled, hinted and typed."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bdpilot import settings
from bdpilot.domain import campaign, formats, wording
from bdpilot.domain.application import ATTACHMENT_KINDS, MAX_ATTACHMENTS_PER_KIND, Application, form_schema
from bdpilot.domain.formats import beijing_time
from bdpilot.web import pages
from bdpilot.web.draftcopy import field_rules, render_blank
from bdpilot.web.formhtml import browser_wording, render_form, schema_script
from bdpilot.web.printcopy import render_next_steps, render_record
from bdpilot.web.schemawalk import all_fields, section_anchor, sections
from tests.factories import application

SCHEMA = form_schema()


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labels: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.text: dict[str, str] = {}  # id → text inside that element
        self._label: str | None = None
        self._open: list[str] = []
        self.legends: list[str] = []
        self._legend = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] = tag
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({"tag": tag, **a})
        if tag == "label":
            self._label = a.get("for")
            self.labels[self._label or ""] = ""
        if tag == "legend":
            self._legend = True
            self.legends.append("")
        if tag == "p" and a.get("id"):
            self._open.append(a["id"])
            self.text[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None
        if tag == "legend":
            self._legend = False
        if tag == "p" and self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._label is not None:
            self.labels[self._label] += data
        if self._legend:
            self.legends[-1] += data
        for open_id in self._open:
            self.text[open_id] += data


def parse(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


def schema_paths() -> list[str]:
    """Every leaf of the 申报书 from the pydantic models themselves (not from formhtml's walk)."""
    paths = []
    for name, info in Application.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and hasattr(model, "model_fields"):
            paths += [f"application.{name}.{sub}" for sub in model.model_fields]
        elif name != "attachments":
            paths.append(f"application.{name}")
    return paths


def test_one_control_per_field_named_by_its_api_path():
    form = parse(render_form(SCHEMA))
    named = [c["name"] for c in form.controls if c.get("name") and c["name"] != "website"]
    assert named == schema_paths()
    files = [c["id"] for c in form.controls if c.get("type") == "file"]
    assert files == [f"application-attachments-{k.value}" for k in ATTACHMENT_KINDS]


def test_every_control_has_its_label_hint_and_required_marker():
    form = parse(render_form(SCHEMA))
    for f in all_fields(SCHEMA):
        if f.widget == "attachments":
            continue
        label = form.labels[f.id]
        assert f.title in label or f.widget == "pledge"
        control = next(c for c in form.controls if c.get("id") == f.id)
        assert ("required" in control) == f.required, f.path
        if f.description:
            assert form.text[f"{f.id}-hint"] == f.description
            assert f"{f.id}-hint" in (control.get("aria-describedby") or "")
    assert form.legends[:len(sections(SCHEMA))] == [s.title for s in sections(SCHEMA)]


def test_input_types_follow_the_widgets():
    form = parse(render_form(SCHEMA))
    kinds = {c["name"]: c.get("type") or c["tag"] for c in form.controls if c.get("name")}
    assert kinds["application.contact.mobile"] == "tel"
    assert kinds["application.contact.email"] == "email"
    assert kinds["application.applicant.founded"] == "date"
    assert kinds["application.applicant.employees"] == "text"  # inputmode=numeric: "1,500" must stay typable
    assert kinds["application.cover.direction"] == "select"
    assert kinds["application.cover.recommender"] == "select"
    assert kinds["application.details.background"] == "textarea"
    assert kinds["application.pledge"] == "checkbox"


def test_select_options_come_from_enum_and_labels():
    html = render_form(SCHEMA)
    direction = SCHEMA["$defs"]["Cover"]["properties"]["direction"]
    for value, label in zip(direction["enum"], direction["x-labels"], strict=True):
        assert f'<option value="{value}">{label}</option>' in html
    assert '<option value="中央企业集团或其他有关单位">' in html


def test_values_and_errors_are_rendered_escaped_and_linked():
    values = application(cover={"project_name": '<script>alert("x")</script>'})
    errors = [{"path": "application.cover.project_name", "message": "项目名称不能超过60个字（现为61个字）"},
              {"path": "application.attachments", "message": "请上传营业执照（或法人证书）（PDF格式）"},
              {"path": "website", "message": "表单不完整"}]
    html = render_form(SCHEMA, values, errors, "tok")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert '<a href="#application-cover-project_name">项目名称不能超过60个字（现为61个字）</a>' in html
    assert '<a href="#application-attachments-license">' in html
    assert '<a href="#apply-form">表单不完整</a>' in html
    assert 'aria-describedby="application-cover-project_name-hint application-cover-project_name-error"' in html
    assert 'name="form_token" value="tok"' in html


def test_schema_script_cannot_close_its_tag():
    script = schema_script(SCHEMA)
    inner = script.split(">", 1)[1].rsplit("</script>", 1)[0]
    assert "</" not in inner
    embedded = json.loads(inner)
    assert {k: v for k, v in embedded.items() if k not in ("x-wording", "x-figures")} == SCHEMA
    assert embedded["x-wording"] == browser_wording()
    assert embedded["x-figures"] == {"max_upload_bytes": settings.MAX_UPLOAD_BYTES,
                                     "per_kind": MAX_ATTACHMENTS_PER_KIND,
                                     "token_max_age_seconds": settings.TOKEN_MAX_AGE_SECONDS}


APPLY_JS = Path(__file__).parents[2] / "docs" / "assets" / "apply.js"


def _js_code() -> str:
    """apply.js without its comments (which may name things in Chinese)."""
    code = re.sub(r"/\*.*?\*/", "", APPLY_JS.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"(^|\s)//.*$", "", code, flags=re.M)


def test_apply_js_says_nothing_of_its_own():
    """Every sentence apply.js shows comes from the catalogue through the page; none is typed in the script."""
    code = _js_code()
    assert not re.search(r"[\u3000-\u9fff\uff00-\uffef]", code)
    said = browser_wording()
    used = set(re.findall(r"\bsay\(\"(\w+)\"", code)) | set(re.findall(r"\bW\.(\w+)", code))
    assert used and not used - said.keys()
    # the standing figures are filled in on the server; what is left is for the browser to fill
    assert all("{upload_limit}" not in t and "{per_kind}" not in t and "{days}" not in t for t in said.values())
    assert formats.size_text(settings.MAX_UPLOAD_BYTES) in said["too_big"]
    assert str(settings.TOKEN_MAX_AGE_SECONDS // 86400) in said["draft_stale"]
    assert "printable()" not in code and "function printable" not in code  # the server draws the print copy


def test_printed_copy_lists_every_answer_and_the_digest():
    app = application()
    record = {"reference": "BD2020-AAAA-BBBB", "received_at": "2019-11-15T10:00:00.000+08:00",
              "application": app, "files": [{"kind": "license", "title": "营业执照（或法人证书）",
                                              "filename": "执照.pdf", "size": 2048, "name": "license-1.pdf"}]}
    html = render_record(SCHEMA, {"reference": record["reference"], "digest": "ab" * 32,
                                  "received_at": record["received_at"], "record": record})
    text = re.sub(r"<[^>]+>", "", html)
    for section in ("cover", "applicant", "contact", "project", "details"):
        for name, value in app[section].items():
            if value != "" and name != "direction":  # the direction prints as its label
                assert str(value) in text
    assert "方向3" in text and "执照.pdf" in text and "2 KB" in text and "ab" * 32 in text
    assert "推荐单位意见" in text
    # one word for the digest everywhere (the receipt used to say 数据摘要)
    assert f"{wording.text('common.digest')}（SHA-256）：{'ab' * 32}" in text and "数据摘要" not in text


def test_the_receipt_page_shows_the_one_print_copy_and_next_steps():
    body = {"reference": "BD2020-AAAA-BBBB", "digest": "ab" * 32, "received_at": "2019-11-15T10:00:00+08:00",
            "record": {"application": application(), "files": []}}
    page = pages.receipt_page(body)
    assert render_record(SCHEMA, body) in page and render_next_steps() in page
    assert wording.text("apply.receipt.next_paper") in render_next_steps()


# --- the deadline, the blank 申报书, the section list ----------------------------------------------------------------

def _field(path: str):
    section = next(s for s in sections(SCHEMA) if any(f.path == path for f in s.fields))
    return next(f for f in section.fields if f.path == path), section


def test_a_deadline_is_said_without_seconds_by_the_one_formatter() -> None:
    assert beijing_time("2020-11-30T09:00:00+00:00", seconds=False) == "2020年11月30日 17:00（北京时间）"
    assert beijing_time(campaign.DEADLINE, seconds=False) == "2019年11月22日 00:00（北京时间）"
    assert beijing_time("2020-11-30T09:00:00+00:00") == "2020年11月30日 17:00:00（北京时间）"


@pytest.mark.parametrize(("path", "expected"), [
    ("application.cover.project_name", ["必填", "不超过60字"]),
    # conditional: the condition in words, the option by its label
    ("application.cover.recommender_group", ["“推荐单位”选择“中央企业集团或其他有关单位”时必填",
                                              "在线填写时从列表中选择（共98项）"]),
    ("application.applicant.employees", ["必填", "整数", "不小于1"]),  # the 10^7 cap is no drafting rule
    ("application.applicant.profit", ["必填", "金额，最多两位小数", "可为负数", "单位：万元"]),
    ("application.project.total_investment", ["必填", "金额，最多两位小数", "大于0", "单位：万元"]),
    ("application.details.background", ["必填", "不超过3000字"]),
    ("application.applicant.founded", ["必填", "日期（年-月-日）"]),
    ("application.cover.recommender_other",
     ["“中央企业集团”选择“其他有关单位（不在以上列表中）”时必填", "不超过100字"]),
])
def test_field_rules_say_what_the_form_requires(path: str, expected: list[str]) -> None:
    f, section = _field(path)
    assert field_rules(f, section) == expected


def test_short_selects_list_their_options() -> None:
    f, section = _field("application.cover.direction")
    rule = field_rules(f, section)[1]
    assert rule.startswith("从以下选项中选择：") and all(label in rule for _, label in f.options)


def test_blank_form_has_every_section_field_and_attachment_kind() -> None:
    html = render_blank(SCHEMA)
    for section in sections(SCHEMA):
        assert f'id="draft-{section.key}"' in html
    for f in all_fields(SCHEMA):
        if f.widget not in ("attachments", "pledge"):
            assert f"<h3>{f.title}</h3>" in html, f.path
    for title, required in ATTACHMENT_KINDS.values():
        assert f'<th scope="row">{title}</th><td>{"必须上传" if required else "选填"}</td>' in html
    assert "<input" not in html and "<form" not in html  # a page to read and print, not a second form


def test_section_nav_links_every_fieldset_once() -> None:
    html = render_form(SCHEMA)
    nav = re.search(r'<nav class="apply-toc".*?</nav>', html)
    assert nav and nav.group(0).count("<li") == len(sections(SCHEMA))
    for s in sections(SCHEMA):
        assert f'<a href="#{section_anchor(s)}">' in nav.group(0)
        assert len(re.findall(rf'<fieldset class="apply-section" id="{section_anchor(s)}">', html)) == 1
    assert html.index('id="apply-toc"') < html.index("<fieldset")


def test_no_js_form_states_the_settings_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDPILOT_SECRET", "unit-secret-0123456789")
    monkeypatch.setenv("BDPILOT_DEADLINE", "2020-11-30T17:00")
    page = pages.form_page(None, [], "t")
    assert '网上填报截止时间：<strong><time datetime="2020-11-30T17:00:00+08:00">2020年11月30日 17:00（北京时间）' \
        in page
    explicit = pages.form_page(None, [], "t", deadline=datetime(2021, 1, 2, tzinfo=campaign.TZ))
    assert "2021年1月2日 00:00（北京时间）" in explicit
