"""Revising without JavaScript (issue 14) under moto: GET /api/receipt/form renders the 申报书 filled from the
current version with its kept attachments, and the plain form posted to /api/receipt/revision answers with pages
(the new version's receipt, or the form again with every answer kept and what to fix)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import timedelta
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest

from bdpilot import settings
from bdpilot.domain import campaign, formats, receipts, tokens, wording
from bdpilot.domain.application import form_schema
from bdpilot.intake import revision, uploads
from bdpilot.ops.local import LambdaContext, rest_event
from bdpilot.store import StorageUnavailable, mailer
from bdpilot.store.reader import Reader
from bdpilot.web import receipt, receiptdata, reviseform
from tests.conftest import SECRET, Applicant, Reply
from tests.factories import PDF, attachments, uscc

REVISED = "修改后的项目名称（无脚本）"
OTHER_USCC = uscc(424242)  # valid, but not the one stored: the USCC cannot change
PROJECT = "application.cover.project_name"


class Form(HTMLParser):
    """The pairs a browser posts for the page's form: successful controls only (a checkbox when checked, a
    select's selected option, a textarea's text), plus the form's action."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.pairs: list[tuple[str, str]] = []
        self.checkboxes: dict[str, list[str]] = {}  # name → the values of every box, checked or not
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = unescape(a.get("action", ""))
        elif tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                self.checkboxes.setdefault(a["name"], []).append(a.get("value", "on"))
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            else:
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            chosen = [v for v, s in self._options if s] or [self._options[0][0]]
            self.pairs.append((self._select, chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.pairs.append((self._textarea, self._text))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def value(self, name: str) -> str:
        return next(v for k, v in self.pairs if k == name)

    def body(self, changes: dict[str, str] | None = None, extra: Sequence[tuple[str, str]] = ()) -> str:
        changes = changes or {}
        return urlencode([(k, changes.get(k, v)) for k, v in self.pairs] + list(extra))


def form_of(html: str) -> Form:
    parser = Form()
    parser.feed(html)
    return parser


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def outbox(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BDPILOT_MAIL", "outbox")
    monkeypatch.setenv("BDPILOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    receiptdata._reader.cache_clear()
    mailer._client.cache_clear()
    return tmp_path / "outbox"


def call(method: str, path: str, token: str, form: str | None = None) -> Reply:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    result = receipt.handler(rest_event(method, path, headers=headers, body=form, query=f"t={token}"),
                             LambdaContext("bdpilot-receipt"))
    return Reply(result["statusCode"], result["headers"], result["body"])


def post(action: str, form: str) -> Reply:
    parts = urlsplit(action)
    return call("POST", parts.path, parse_qs(parts.query)["t"][0], form)


@pytest.fixture
def stored(applicant: Applicant, outbox: Path) -> dict[str, Any]:
    """A submission with an optional 应用证明 beside the two required files, so one can be removed."""
    usage = {"kind": "usage", "upload_id": applicant.upload(), "filename": "应用证明.pdf"}
    files = [*attachments(applicant.upload(), applicant.upload()), usage]
    reply = applicant.submit(applicant.body(attachments=files))
    assert reply.status == 201, reply.body
    return reply.body


def link(ref: str, now: Any) -> str:
    return receipts.token(SECRET.encode(), ref, now())


def reader() -> Reader:
    cfg = settings.load()
    return Reader(cfg.table, cfg.bucket, units_table=cfg.units_table)


def opened(stored: dict[str, Any], now: Any) -> Reply:
    page = call("GET", "/api/receipt/form", link(stored["reference"], now))
    assert page.status == 200, page.body
    now.advance(minutes=3)  # the minimum fill time counts from the form's fresh token
    return page


def test_the_form_opens_filled_from_the_stored_record_with_its_attachments(stored, now, applicant):
    token = link(stored["reference"], now)
    page = opened(stored, now)
    html = page.body
    assert "<script" not in html and "script" not in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    form = form_of(html)
    assert form.action == f"/api/receipt/revision?t={token}"
    record = stored["record"]
    assert form.value(PROJECT) == record["application"]["cover"]["project_name"]
    assert form.value("application.applicant.uscc") == record["application"]["applicant"]["uscc"]
    assert form.value("application.pledge") == "on"
    # Each stored file stands as its keep id (never the upload id it was stored from), with a box to remove it.
    keep = {f["kind"]: revision.keep_id(f) for f in record["files"]}
    hidden = {form.value(f"application.attachments.{i}.kind"): form.value(f"application.attachments.{i}.upload_id")
              for i in range(3)}
    assert hidden == keep
    assert sorted(form.checkboxes["remove"]) == sorted(keep.values())
    assert not any(k == "remove" for k, _ in form.pairs)  # kept unless ticked
    for f in record["files"]:
        assert wording.text("revision.form.remove", filename=f["filename"]) in text(html)
    # A fresh form token, the revise deadline, and no way into the public upload step (a new submission).
    fresh = form.value("form_token")
    assert fresh != applicant.token
    assert tokens.check(SECRET.encode(), fresh, now(), min_seconds=0,
                        max_seconds=settings.TOKEN_MAX_AGE_SECONDS) is None  # None: no problem
    assert formats.beijing_time(settings.load().deadline, seconds=False) in text(html)
    # New files go through this revision's own upload page for the fresh token, in a new window.
    files = f'href="{escape(reviseform.files_href(token, fresh))}" target="_blank"'
    assert "/api/apply/uploads" not in html and files in html
    assert wording.text("revision.form.heading", reference=stored["reference"], version=1) in text(html)


def test_posting_the_form_stores_version_2_and_answers_with_its_receipt_page(stored, now, outbox):
    page = opened(stored, now)
    form = form_of(page.body)
    got = post(form.action, form.body({PROJECT: REVISED}))
    assert got.status == 201, text(got.body)[:2000]
    assert got.headers["Content-Type"].startswith("text/html")
    ref = stored["reference"]
    store = reader()
    index = store.get_index(ref)
    assert index is not None and index["version"] == 2 and index["digest"] != stored["digest"]
    html = got.body
    assert wording.text("receipt.version_line", version=2) in text(html) and index["digest"] in html
    assert REVISED in html  # the printable copy of version 2
    record = json.loads(store.get_record_object(ref)[0])  # type: ignore[index]
    assert record["application"]["cover"]["project_name"] == REVISED
    assert {f["kind"]: f["sha256"] for f in record["files"]} == {f["kind"]: f["sha256"]
                                                                 for f in stored["record"]["files"]}
    assert len(list(outbox.iterdir())) == 2  # the first receipt, then version 2's
    # The same page posted again (a reload, a double click) is the same revision, not a third version.
    again = post(form.action, form.body({PROJECT: REVISED}))
    assert again.status == 201 and store.current_version(ref) == 2


def test_a_ticked_attachment_is_dropped_and_the_others_kept(stored, now):
    page = opened(stored, now)
    form = form_of(page.body)
    usage = next(f for f in stored["record"]["files"] if f["kind"] == "usage")
    got = post(form.action, form.body(extra=[("remove", revision.keep_id(usage))]))
    assert got.status == 201, text(got.body)[:2000]
    record = json.loads(reader().get_record_object(stored["reference"])[0])  # type: ignore[index]
    assert sorted(f["kind"] for f in record["files"]) == ["ip", "license"]


def test_a_file_is_replaced_without_javascript_on_the_revision_s_own_upload_page(stored, now, aws):
    """Issue 14's gap: without JavaScript a revision could keep or remove files, never bring a new one (a unit
    returning the 申报书 for a better 营业执照 left such an applicant stuck)."""
    ref, token = stored["reference"], link(stored["reference"], now)
    form = form_of(opened(stored, now).body)
    fresh = form.value("form_token")
    files_page = urlsplit(reviseform.files_href(token, fresh))
    query = dict(parse_qsl(files_page.query))
    page = receipt.handler(rest_event("GET", files_page.path, query=urlencode(query)), LambdaContext("bdpilot-receipt"))
    assert page["statusCode"] == 200
    kinds = form_schema()["properties"]["attachments"]["x-kinds"]
    assert page["body"].count('enctype="multipart/form-data"') == len(kinds)  # one storage form per kind
    origin = re.search(r'form method="post" action="(https?://[^/"]+)', page["body"]).group(1)
    assert origin in page["headers"]["Content-Security-Policy"]
    assert "/api/apply/form" not in page["body"]  # no 继续填写 into a new submission: back to the revise form
    redirect = re.search(r'name="success_action_redirect" value="([^"]+)"', page["body"]).group(1)
    assert urlsplit(unescape(redirect)).path == "/api/receipt/files" and f"t={token}" in unescape(redirect)

    # Storage takes the new 营业执照 into the form token's first license slot and sends the browser back.
    upload_id = uploads.slot_id(SECRET.encode(), fresh, "license", 1)
    key = f"uploads/{upload_id}/新执照.pdf"
    new_pdf = PDF + b"% a better scan\n"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=new_pdf, Metadata={"owner": uploads.owner_of(fresh)})
    back = receipt.handler(rest_event("GET", files_page.path, query=urlencode({**query, "key": key})),
                           LambdaContext("bdpilot-receipt"))
    assert back["statusCode"] == 200 and "新执照.pdf" in back["body"]
    assert f'action="/api/receipt/files?t={token}"' in back["body"]  # its 移除 posts to the revision's route

    # The old license ticked for removal; the post takes the new one from the slot.
    old = next(f for f in stored["record"]["files"] if f["kind"] == "license")
    got = post(form.action, form.body({PROJECT: REVISED}, extra=[("remove", revision.keep_id(old))]))
    assert got.status == 201, text(got.body)[:2000]
    record = json.loads(reader().get_record_object(ref)[0])  # type: ignore[index]
    by_kind = {f["kind"]: f for f in record["files"]}
    assert by_kind["license"]["filename"] == "新执照.pdf"
    assert by_kind["license"]["sha256"] == hashlib.sha256(new_pdf).hexdigest() != old["sha256"]
    assert by_kind["ip"]["sha256"] == next(f for f in stored["record"]["files"] if f["kind"] == "ip")["sha256"]


def test_the_revision_upload_page_needs_a_valid_link_and_a_revisable_submission(stored, now):
    page = receipt.handler(rest_event("GET", "/api/receipt/files", query="t=forged&token=x&w=1"),
                           LambdaContext("bdpilot-receipt"))
    assert page["statusCode"] == 404
    removal = receipt.handler(rest_event("POST", "/api/receipt/files", query=f"t={link(stored['reference'], now)}",
                                         headers={"Content-Type": "text/plain"}, body="remove=x"),
                              LambdaContext("bdpilot-receipt"))
    assert removal["statusCode"] == 415
    now.advance(days=60)  # past every deadline: nothing more to revise
    late = receipt.handler(rest_event("GET", "/api/receipt/files",
                                      query=f"t={link(stored['reference'], now)}&token=x&w=1"),
                           LambdaContext("bdpilot-receipt"))
    assert late["statusCode"] == 403


def test_a_refusal_gives_the_form_back_with_every_answer_and_the_chinese_errors(stored, now):
    page = opened(stored, now)
    form = form_of(page.body)
    ip = next(f for f in stored["record"]["files"] if f["kind"] == "ip")
    changed = {PROJECT: REVISED, "application.applicant.uscc": OTHER_USCC}
    got = post(form.action, form.body(changed, extra=[("remove", revision.keep_id(ip))]))
    assert got.status == 422
    again = form_of(got.body)
    # Every answer as posted, the removal kept (the patent is gone from the list), the same link's action.
    assert again.value(PROJECT) == REVISED and again.value("application.applicant.uscc") == changed[
        "application.applicant.uscc"]
    assert again.action == form.action and again.value("form_token") == form.value("form_token")
    assert sorted(again.checkboxes["remove"]) == sorted(revision.keep_id(f) for f in stored["record"]["files"]
                                                        if f["kind"] != "ip")
    summary = re.search(r'<div class="apply-error-summary".*?</ul></div>', got.body, re.S)
    assert summary is not None and "知识产权证明" in text(summary.group(0))  # the required patent, ticked off
    assert 'aria-invalid="true"' in got.body
    assert reader().current_version(stored["reference"]) == 1
    # Fixed, it goes through: the USCC as stored, the patent ticked off no more (reopened from the link).
    fixed = post(form.action, form.body({PROJECT: REVISED}))
    assert fixed.status == 201, text(fixed.body)[:2000]


def test_an_unchangeable_field_is_named_on_the_form(stored, now):
    page = opened(stored, now)
    form = form_of(page.body)
    got = post(form.action, form.body({"application.applicant.uscc": OTHER_USCC}))
    assert got.status == 422
    assert wording.text("revision.fixed", field="统一社会信用代码") in text(got.body)
    again = form_of(got.body)
    assert again.value("application.applicant.uscc") == OTHER_USCC


def test_a_required_file_removed_is_refused_and_listed(stored, now):
    page = opened(stored, now)
    form = form_of(page.body)
    ip = next(f for f in stored["record"]["files"] if f["kind"] == "ip")
    got = post(form.action, form.body({PROJECT: REVISED}, extra=[("remove", revision.keep_id(ip))]))
    assert got.status == 422
    assert "知识产权证明" in text(got.body) and 'id="error-summary"' in got.body
    assert form_of(got.body).value(PROJECT) == REVISED


def test_a_stale_form_token_comes_back_fresh_with_the_answers(stored, now):
    page = opened(stored, now)
    form = form_of(page.body)
    got = post(form.action, form.body({PROJECT: REVISED, "form_token": "forged"}))
    assert got.status == 403, got.status
    again = form_of(got.body)
    assert again.value(PROJECT) == REVISED and again.value("form_token") not in ("", "forged")
    assert wording.text("apply.pages.resubmit") in text(got.body)
    now.advance(minutes=3)
    assert post(again.action, again.body()).status == 201


def test_the_receipt_page_offers_the_form_without_javascript(stored, now):
    token = link(stored["reference"], now)
    page = call("GET", "/api/receipt", token)
    assert page.status == 200
    assert f'href="/apply/?revise={token}"' in page.body  # with JavaScript: apply.js's revise mode
    noscript = re.search(r"<noscript>(.*?)</noscript>", page.body, re.S)
    assert noscript is not None and f'href="/api/receipt/form?t={token}"' in noscript.group(1)
    assert ".revise-js{display:none}" in noscript.group(1)  # without it, the script's link is hidden


def test_a_bad_link_and_a_closed_window_are_pages(stored, now):
    page = opened(stored, now)
    form = form_of(page.body)
    for path, body in (("/api/receipt/form", None), ("/api/receipt/revision", form.body())):
        bad = call("POST" if body else "GET", path, "forged", body)
        assert bad.status == 404 and wording.text("receipt.invalid.title") in bad.body
    now.at = campaign.DEADLINE + timedelta(minutes=1)
    closed = call("GET", "/api/receipt/form", link(stored["reference"], now))
    assert closed.status == 403 and wording.text("revision.form.closed_title") in closed.body
    back = f'href="/api/receipt?t={link(stored["reference"], now)}"'
    assert 'id="apply-form"' not in closed.body and back in closed.body
    refused = post(form.action, form.body({PROJECT: REVISED}))
    assert refused.status == 403 and wording.text("revision.form.closed_title") in refused.body
    assert reader().current_version(stored["reference"]) == 1


def test_storage_failure_gives_the_form_back_with_every_answer(stored, now, monkeypatch):
    page = opened(stored, now)
    form = form_of(page.body)

    def down(*args: Any, **kwargs: Any) -> None:
        raise StorageUnavailable("DynamoDB: ServiceUnavailable")

    monkeypatch.setattr(revision, "revise", down)
    monkeypatch.setattr(revision, "load", down)  # the version and deadline cannot be read either
    got = post(form.action, form.body({PROJECT: REVISED}))
    assert got.status == 503 and got.headers["Retry-After"] == "5"
    again = form_of(got.body)
    assert again.value(PROJECT) == REVISED and again.action == form.action
    assert wording.text("intake.unavailable") in text(got.body)
    assert wording.text("revision.form.heading_plain", reference=stored["reference"]) in text(got.body)
