"""The /apply/ form posted without JavaScript (urlencoded) through the real handler under moto: same rules and
status codes as the JSON API, answered with readable Chinese HTML pages."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bdpilot.domain import wording
from bdpilot.ops.local import LambdaContext, invoke, rest_event
from bdpilot.web import formdata, pages, receipt
from bdpilot.web.schemawalk import flatten
from tests.conftest import call
from tests.factories import application, attachments

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def encode(app: dict[str, Any], token: str, **extra: str) -> str:
    """The body a browser sends for the form: every control by its dotted name, the checkbox as "on"."""
    pairs = []
    for path, value in flatten(app).items():
        if value is True:
            pairs.append((path, "on"))
        elif value is not False:
            pairs.append((path, "" if value is None else str(value)))
    pairs += [("form_token", token), ("website", ""), ("idempotency_key", "")]
    pairs += list(extra.items())
    return urlencode(pairs)


def post(body: str, headers: dict[str, str] | None = None):
    return call("POST", "/api/submissions", raw=body, headers={**FORM, **(headers or {})})


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_nest_builds_the_json_body_from_dotted_names():
    pairs = [("application.cover.direction", "3"), ("application.cover.recommender_other", ""),
             ("application.attachments.1.kind", "ip"), ("application.attachments.0.kind", "license"),
             ("application.pledge", "on"), ("application.contact.email", ""), ("other", "x")]
    assert formdata.nest(pairs) == {
        "cover": {"direction": "3"}, "contact": {},
        "attachments": [{"kind": "license"}, {"kind": "ip"}], "pledge": True,
    }


def test_key_comes_from_header_then_field_then_a_hash_of_the_post():
    body = urlencode({"application.cover.project_name": "甲", "form_token": "t", "idempotency_key": "k" * 20})
    assert formdata.parse(body.encode(), "h" * 20).key == "h" * 20
    assert formdata.parse(body.encode(), None).key == "k" * 20
    bare = urlencode({"application.cover.project_name": "甲", "form_token": "t"})
    assert formdata.parse(bare.encode(), None).key == formdata.parse(bare.encode(), None).key
    other = urlencode({"application.cover.project_name": "乙", "form_token": "t"})
    assert formdata.parse(bare.encode(), None).key != formdata.parse(other.encode(), None).key


def test_a_complete_form_is_stored_and_answered_with_the_receipt(applicant, aws):
    app = application(attachments=attachments(applicant.upload(), applicant.upload()))
    applicant.now.advance(minutes=5)
    reply = post(encode(app, applicant.token))
    assert reply.status == 201, text(reply.body)[:500]
    assert reply.headers["Content-Type"].startswith("text/html")
    page = text(reply.body)
    reference = re.search(r"BD2020(?:-[0-9A-Z]{4}){4}", page).group(0)
    assert "申报书已提交" in page and reference in page
    assert app["applicant"]["name"] in page and app["details"]["security"] in page
    assert re.search(r"[0-9a-f]{64}", page)
    assert any(k.startswith(f"submissions/{reference}/") for k in aws.keys("submissions/"))
    # The same form posted twice (a double click) is one submission: same reference, nothing new stored.
    again = post(encode(app, applicant.token))
    assert again.status == 201 and reference in text(again.body)
    assert len([k for k in aws.keys("submissions/") if k.endswith("record.json")]) == 1


def test_empty_boxes_are_missing_answers_shown_inline_and_in_a_summary(applicant):
    applicant.now.advance(minutes=5)
    app = application(contact={"email": "", "mobile": "12345"}, applicant={"uscc": "91350100M000100Y44"})
    reply = post(encode(app, applicant.token))
    assert reply.status == 422
    html = reply.body
    assert 'id="error-summary"' in html
    assert '<a href="#application-contact-email">请填写电子邮箱</a>' in html
    assert 'href="#application-contact-mobile"' in html and "请输入11位手机号码" in html
    assert "统一社会信用代码校验位不正确" in html
    # The answers come back in their boxes, marked invalid, with a still valid token: nothing is retyped.
    assert re.search(r'name="application.applicant.name"[^>]* value="示例钢铁集团有限公司"', html)
    assert re.search(r'id="application-contact-email"[^>]*aria-invalid="true"', html)
    assert f'name="form_token" value="{applicant.token}"' in html
    # Without JavaScript no file was attached: the server names what is missing.
    assert "请上传附件材料" in text(html)


def test_a_bad_token_gives_the_form_back_with_a_fresh_one(applicant):
    app = application()
    reply = post(encode(app, "not-a-token"))
    assert reply.status == 403
    page = text(reply.body)
    assert "请确认填写内容后再次提交" in page
    token = re.search(r'name="form_token" value="([^"]+)"', reply.body).group(1)
    assert token and token != "not-a-token"
    assert 'value="钢铁冶炼全流程工业大数据平台"' in reply.body


def test_closed_window_says_so(applicant, now):
    now.advance(days=6, hours=15)  # past the deadline, the token still within its week
    reply = post(encode(application(), applicant.token))
    assert reply.status == 403
    assert "申报已截止" in text(reply.body)


def test_the_honeypot_looks_accepted(applicant, aws):
    applicant.now.advance(minutes=5)
    app = application(attachments=attachments(applicant.upload(), applicant.upload()))
    reply = post(encode(app, applicant.token).replace("website=", "website=http%3A%2F%2Fspam"))
    assert reply.status == 201
    assert aws.keys("submissions/") == []


@pytest.mark.parametrize("raw", [b"application.cover.project_name=%FF", "a=1&" * 600])
def test_malformed_posts_get_a_message_page(applicant, raw):
    reply = call("POST", "/api/submissions", raw=raw, headers=FORM)
    assert reply.status == 400
    assert "<h1>" in reply.body


def test_pages_are_self_contained(applicant):
    reply = post(encode(application(), "bad"))
    assert "<script" not in reply.body
    assert not re.search(r'(src|href)="https?://', reply.body)
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]


def test_upload_step_without_javascript(applicant, aws):
    """The upload page presigns one POST per kind that redirects back; the redirect adds a checked upload."""
    page = call("GET", "/api/apply/uploads", headers={"Host": "apply.example"})
    assert page.status == 200
    assert re.search(r'name="success_action_redirect" value="http://apply.example/api/apply/uploads\?', page.body) \
        or re.search(r'name="success_action_redirect" value="https://apply.example/api/apply/uploads\?', page.body)
    assert "form-action 'self' " in page.headers["Content-Security-Policy"]
    # Storage redirected back after a good PDF, uploaded with this page's token into its first licence slot.
    upload_id, key = stored_by_s3(applicant, aws, "license", "执照.pdf")

    def get(path: str, query: str):
        result = invoke(rest_event("GET", path, headers={"Host": "apply.example"}, query=query))
        return result["statusCode"], result["body"]

    status, body = get("/api/apply/uploads", urlencode({"token": applicant.token, "key": key}))
    assert status == 200 and "已上传营业执照（或法人证书）“执照.pdf”" in text(body)
    continue_link = unescape(re.search(r'href="(/api/apply/form\?[^"]+)"', body).group(1))
    status, form = get("/api/apply/form", continue_link.split("?", 1)[1])
    assert status == 200
    assert f'name="application.attachments.0.upload_id" value="{upload_id}"' in form
    assert 'name="application.attachments.0.filename" value="执照.pdf"' in form
    assert f'name="form_token" value="{applicant.token}"' in form
    # Someone else's upload (not one of this token's slots) is refused and not listed.
    other = urlencode({"token": applicant.token, "key": "uploads/" + "0" * 32 + "/x.pdf"})
    status, body = get("/api/apply/uploads", other)
    assert "未找到或已过期" in text(body) and "0" * 32 not in re.sub(r'name="[^"]*" value="[^"]*"', "", body)


def stored_by_s3(applicant, aws, kind: str, filename: str, n: int = 1) -> tuple[str, str]:
    """What S3 does with the upload page's form: the file under uploads/<slot id>/<its name>, owner attached."""
    from bdpilot import settings
    from bdpilot.intake import uploads
    from tests.factories import PDF

    upload_id = uploads.slot_id(settings.load().secret, applicant.token, kind, n)
    key = f"uploads/{upload_id}/{filename}"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=PDF, Metadata={"owner": uploads.owner_of(applicant.token)})
    return upload_id, key


def test_storage_failure_gives_the_form_back_with_every_answer(applicant, aws, monkeypatch):
    from bdpilot import store

    app = application(attachments=attachments(applicant.upload(), applicant.upload()))
    applicant.now.advance(minutes=5)

    def down(self, *args, **kwargs):
        raise store.StorageUnavailable("InternalError")

    monkeypatch.setattr(store.Store, "put_record", down)
    reply = post(encode(app, applicant.token))
    assert reply.status == 503 and reply.headers["Retry-After"].isdigit()
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "尚未保存" in text(reply.body)
    assert f'value="{app["applicant"]["name"]}"' in reply.body
    assert not [k for k in aws.keys("submissions/") if k.endswith("record.json")]


# --- issue 14: nothing typed is lost, the closed window said first, uploads checked at once ---------------------

def test_first_post_without_a_token_lists_every_problem_cross_field_rules_included(applicant):
    """The static /apply/ page has no token: the first post must still say everything to fix (issue 14, 3 and 5)."""
    app = application(contact={"email": "not-an-email"},
                      applicant={"employees": 320, "rd_staff": 500, "founded": "2999-01-01"},
                      project={"start_date": "2021-06-30", "end_date": "2020-01-01"})
    reply = post(encode(app, ""))
    assert reply.status == 403
    page = text(reply.body)
    assert "请确认填写内容后再次提交" in page
    assert "研发人员数不能超过职工人数" in page
    assert "请输入有效的电子邮箱地址" in page
    assert "项目结束时间应晚于开始时间" in page
    assert "不能晚于今天" in page
    assert 'value="钢铁冶炼全流程工业大数据平台"' in reply.body


def test_rd_staff_above_employees_is_refused_by_the_server(applicant):
    applicant.now.advance(minutes=5)
    app = application(applicant={"employees": 320, "rd_staff": 500},
                      attachments=attachments(applicant.upload(), applicant.upload()))
    reply = post(encode(app, applicant.token))
    assert reply.status == 422
    assert "研发人员数不能超过职工人数" in text(reply.body)
    assert re.search(r'id="application-applicant-rd_staff"[^>]*aria-invalid="true"', reply.body)


def test_closed_window_is_said_on_the_first_post_and_on_the_form_page(applicant, now):
    now.advance(days=30)  # past the deadline and past the token's week: the token check alone would answer first
    reply = post(encode(application(), applicant.token))
    assert reply.status == 403
    assert "申报已截止" in text(reply.body) and 'id="apply-submit"' not in reply.body
    result = invoke(rest_event("GET", "/api/apply/form", query=urlencode({"token": applicant.token, "a": ""})))
    assert result["statusCode"] == 403
    assert "申报已截止" in text(result["body"]) and 'id="apply-submit"' not in result["body"]


def test_upload_first_advice_is_at_the_top_of_the_form_page(applicant):
    result = invoke(rest_event("GET", "/api/apply/form", query=urlencode({"token": applicant.token, "a": ""})))
    body = result["body"]
    assert result["statusCode"] == 200
    assert body.index("先上传附件") < body.index('<fieldset')


def test_the_receipt_says_what_the_notice_says_of_the_paper_copy(applicant):
    from bdpilot.domain import wording

    applicant.now.advance(minutes=5)
    app = application(attachments=attachments(applicant.upload(), applicant.upload()))
    page = text(post(encode(app, applicant.token)).body)
    assert wording.text("apply.receipt.next_paper") in page
    assert "报送推荐单位" not in page
    for doc in ("faq.md", "requirements.md"):
        source = (Path(__file__).parents[2] / "docs" / doc).read_text(encoding="utf-8")
        assert "通知未说明纸质材料由谁报送、报送至何处，请按推荐单位的要求报送" in source, doc
        assert "邮寄地址见" not in source, doc


def test_an_upload_is_checked_right_after_it_is_in_storage(applicant):
    good = applicant.upload()
    fake = applicant.upload(b"MZ\x90\x00" + b"\x00" * 64, filename="假的.pdf")
    ok = call("POST", "/api/uploads", {"form_token": applicant.token, "upload_id": good})
    assert ok.status == 200 and ok.body["ok"] is True
    bad = call("POST", "/api/uploads", {"form_token": applicant.token, "upload_id": fake, "title": "知识产权证明"})
    assert bad.status == 422 and "不是有效的PDF文件" in bad.body["error"]["message"]
    other = call("POST", "/api/uploads", {"form_token": "x", "upload_id": good})
    assert other.status == 403


def test_an_upload_can_be_removed_on_the_upload_page(applicant, aws):
    (first, one), (second, two) = stored_by_s3(applicant, aws, "license", "a.pdf"), stored_by_s3(applicant, aws, "ip",
                                                                                                   "b.pdf")
    for key in (one, two):
        invoke(rest_event("GET", "/api/apply/uploads", headers={"Host": "apply.example"},
                          query=urlencode({"token": applicant.token, "key": key})))
    result = invoke(rest_event("GET", "/api/apply/uploads", headers={"Host": "apply.example"},
                               query=urlencode({"token": applicant.token})))
    # 移除 is a small form posting to /api/apply/remove: no link on the page writes anything.
    forms = re.findall(r'<form class="apply-inline" method="post" action="/api/apply/remove">(.*?)</form>',
                       result["body"])
    assert len(forms) == 2 and "/api/apply/uploads?" not in "".join(re.findall(r'<a href="([^"]+)"', result["body"]))
    fields = dict((k, unescape(v)) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                                                          forms[0]))
    assert set(fields) == {"token", "remove", "etag"}

    # The same fields in a GET (a link from an older page, a prefetch) remove nothing.
    again = invoke(rest_event("GET", "/api/apply/uploads", headers={"Host": "apply.example"}, query=urlencode(fields)))
    assert again["body"].count('action="/api/apply/remove"') == 2
    form_type = {"Host": "apply.example", "Content-Type": "application/x-www-form-urlencoded"}
    assert invoke(rest_event("POST", "/api/apply/remove", headers={**form_type, "Content-Type": "text/plain"},
                             body=urlencode(fields)))["statusCode"] == 415

    # Fields no page posts are ignored (they once made parse_qsl raise: a 500).
    crowded = urlencode({**fields, **{f"x{i}": "1" for i in range(6)}})
    removed = invoke(rest_event("POST", "/api/apply/remove", headers=form_type, body=crowded))
    assert removed["statusCode"] == 200 and removed["body"].count('action="/api/apply/remove"') == 1
    cont = unescape(re.search(r'href="(/api/apply/form\?[^"]+)"', removed["body"]).group(1))
    form = invoke(rest_event("GET", "/api/apply/form", query=cont.split("?", 1)[1]))["body"]
    assert first not in form and second in form
    # Posted again (a reload): the slot no longer holds that file, so nothing else goes.
    replay = invoke(rest_event("POST", "/api/apply/remove", headers=form_type, body=urlencode(fields)))
    assert replay["statusCode"] == 200 and replay["body"].count('action="/api/apply/remove"') == 1


def test_a_second_application_without_javascript_points_to_the_receipt_link_not_the_form(applicant, aws):
    """The same USCC again (a new form, not a retry): 409 with the way to get the receipt link sent again, and no
    form to fill in once more; the resend page it links to is the applicant function's."""
    app = application(attachments=attachments(applicant.upload(), applicant.upload()))
    applicant.now.advance(minutes=5)
    assert post(encode(app, applicant.token)).status == 201
    applicant.new_form()
    second = application(attachments=attachments(applicant.upload(), applicant.upload()))
    applicant.now.advance(minutes=5)
    reply = post(encode(second, applicant.token))
    assert reply.status == 409, text(reply.body)[:300]
    assert f'href="{pages.RESEND_PAGE}"' in reply.body and 'name="application.' not in reply.body
    assert wording.text("intake.duplicate") in text(reply.body)
    form = receipt.handler(rest_event("GET", pages.RESEND_PAGE), LambdaContext("bdpilot-receipt"))
    assert form["statusCode"] == 200 and 'action="/api/receipt/resend"' in form["body"]
