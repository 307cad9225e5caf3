"""Attachments without JavaScript, uploaded in a window beside the filled form (issue 14, items 3 and 8): the
form token's upload slots are derived from it, S3 stores each file under its own name and redirects back, and the
post of the form takes what the slots hold, by the files' original names. Real handler, moto, the S3 policy checked
as S3 checks it (tests/s3post.py)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import boto3
import requests

from bdpilot import settings
from bdpilot.domain import wording
from bdpilot.domain.application import MAX_ATTACHMENTS_PER_KIND
from bdpilot.intake import uploads
from bdpilot.ops.local import invoke, rest_event
from bdpilot.store.layout import record_key
from tests import s3post
from tests.conftest import call
from tests.factories import PDF, application
from tests.integration.test_form_posts import encode, text

HOST = {"Host": "apply.example"}


def page(path: str, query: dict[str, str]) -> tuple[int, str]:
    result = invoke(rest_event("GET", path, headers=HOST, query=urlencode(query)))
    return result["statusCode"], result["body"]


def ticket(html: str, title: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the upload form (to storage) of the kind titled `title`."""
    section = re.search(rf'<section[^>]*><h2[^>]*>{re.escape(title)}.*?</section>', html).group(0)
    form = re.search(r'<form method="post" action="([^"]+)" enctype="multipart/form-data">(.*?)</form>', section, re.S)
    action = unescape(form.group(1))
    fields = {unescape(k): unescape(v) for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"',
                                                               form.group(2))}
    return action, fields


def removal(html: str) -> dict[str, str]:
    """The fields of the first 移除 form on the upload page (it posts to /api/apply/remove)."""
    form = re.search(r'<form class="apply-inline" method="post" action="/api/apply/remove">(.*?)</form>', html, re.S)
    return {unescape(k): unescape(v) for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"',
                                                            form.group(1))}


def remove(fields: dict[str, str]) -> tuple[int, str]:
    result = invoke(rest_event("POST", "/api/apply/remove", body=urlencode(fields),
                               headers={**HOST, "Content-Type": "application/x-www-form-urlencoded"}))
    return result["statusCode"], result["body"]


def upload(aws: Any, html: str, title: str, filename: str, data: bytes = PDF) -> tuple[int, str]:
    """What the browser does on the upload page: post the file to storage, follow its redirect back."""
    url, fields = ticket(html, title)
    assert s3post.problems(url, fields, file_size=len(data), now=datetime.now(UTC), region=aws.region,
                           secret_key=boto3.Session().get_credentials().secret_key) == []
    posted = requests.post(url, data=fields, files={"file": (filename, data, "application/pdf")},
                           allow_redirects=False, timeout=30)
    assert posted.status_code == 303, posted.text
    back = urlsplit(posted.headers["Location"])
    assert back.netloc == "apply.example" and back.path == "/api/apply/uploads"
    return page(back.path, dict(parse_qsl(back.query)))


def test_the_form_posted_in_the_first_window_takes_the_files_by_their_own_names(applicant, aws):
    status, form = page("/api/apply/form", {"token": applicant.token})
    assert status == 200
    # The upload page opens in a new window for this form's token, and says so to screen readers too.
    link = re.search(r'<a href="([^"]+)" target="_blank" rel="noopener">附件上传页面（在新窗口打开）</a>', form)
    query = dict(parse_qsl(urlsplit(unescape(link.group(1))).query))
    assert query == {"token": applicant.token, "w": "1"}
    status, html = page("/api/apply/uploads", query)
    assert wording.text("apply.pages.upload_window", button="上传", required="营业执照（或法人证书）和知识产权证明",
                        submit=wording.text("apply.form.submit")) in text(html)
    status, html = upload(aws, html, "营业执照", "营业执照（副本）.pdf")
    assert "已上传营业执照（或法人证书）“营业执照（副本）.pdf”" in text(html)
    status, html = upload(aws, html, "知识产权证明", "专利 证书 2019.pdf")
    assert "“专利 证书 2019.pdf”" in text(html) and "“营业执照（副本）.pdf”" in text(html)
    # The redirect kept the new-window mode: its next forms send the browser back to it.
    assert "w=1" in ticket(html, "知识产权证明")[1]["success_action_redirect"]

    applicant.now.advance(minutes=5)
    # The first window's form was drawn before any upload and carries none: the post takes the slots' files.
    reply = call("POST", "/api/submissions", raw=encode(application(attachments=[]), applicant.token),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 201, text(reply.body)[:400]
    assert "营业执照（副本）.pdf" in text(reply.body) and "专利 证书 2019.pdf" in text(reply.body)
    reference = re.search(r'class="apply-reference">.*?<strong>([^<]+)</strong>', reply.body).group(1)
    record = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=record_key(reference))["Body"].read())
    assert [(f["kind"], f["filename"]) for f in record["files"]] == [
        ("license", "营业执照（副本）.pdf"), ("ip", "专利 证书 2019.pdf")]


def test_a_missing_required_attachment_is_refused_naming_it_and_the_answers_stay(applicant, aws):
    _, html = page("/api/apply/uploads", {"token": applicant.token})
    upload(aws, html, "知识产权证明", "专利.pdf")
    applicant.now.advance(minutes=5)
    app = application(attachments=[])
    reply = call("POST", "/api/submissions", raw=encode(app, applicant.token),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 422
    assert "营业执照" in text(re.search(r'id="error-summary".*?</div>', reply.body, re.S).group(0))
    assert re.search(r'id="application-attachments-license"[^>]*aria-invalid="true"', reply.body)
    assert f'value="{app["applicant"]["name"]}"' in reply.body
    # The file that is there is listed by its name on the answer, so the applicant sees what will go.
    assert "专利.pdf" in text(reply.body)


def test_slots_are_derived_from_the_token_and_the_policy_fixes_their_prefix(applicant, aws):
    _, html = page("/api/apply/uploads", {"token": applicant.token})
    cfg = settings.load()
    _, fields = ticket(html, "营业执照")
    first = uploads.slot_id(cfg.secret, applicant.token, "license", 1)
    assert fields["key"] == f"uploads/{first}/${{filename}}"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["starts-with", "$key", f"uploads/{first}/"] in policy["conditions"]
    assert {s for _, _, s in uploads.slots(cfg.secret, applicant.token)}.isdisjoint(
        {s for _, _, s in uploads.slots(cfg.secret, applicant.token + "x")})
    # The same page asked again offers the same slot: nothing was filed.
    assert ticket(page("/api/apply/uploads", {"token": applicant.token})[1], "营业执照")[1]["key"] == fields["key"]


def test_bad_names_fake_pdfs_and_other_forms_slots_are_refused_and_not_filed(applicant, aws):
    cfg = settings.load()
    slot = uploads.slot_id(cfg.secret, applicant.token, "license", 1)
    owner = uploads.owner_of(applicant.token)
    for name in ("a\u202efdp.exe", "a\x07b.pdf", "x" * 121 + ".pdf", " . "):
        key = f"uploads/{slot}/{name}"
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=PDF, Metadata={"owner": owner})
        _, html = page("/api/apply/uploads", {"token": applicant.token, "key": key})
        assert "文件名无法使用" in text(html), repr(name)
    _, html = page("/api/apply/uploads", {"token": applicant.token})
    upload(aws, html, "营业执照", "假的.pdf", b"MZ\x90\x00" + b"\x00" * 64)
    other = uploads.slot_id(cfg.secret, "another-token", "license", 1)
    aws.s3.put_object(Bucket=aws.bucket, Key=f"uploads/{other}/x.pdf", Body=PDF, Metadata={"owner": owner})
    _, html = page("/api/apply/uploads", {"token": applicant.token, "key": f"uploads/{other}/x.pdf"})
    assert "未找到或已过期" in text(html)
    assert uploads.filed(api_store(), cfg, applicant.token) == []
    assert f"uploads/{slot}" not in aws.keys("uploads/")


def api_store() -> Any:
    from bdpilot.web import api

    return api.store_for(settings.load())


def test_remove_empties_the_slot_and_history_brings_nothing_back(applicant, aws):
    _, html = page("/api/apply/uploads", {"token": applicant.token})
    _, html = upload(aws, html, "营业执照", "旧执照.pdf")
    arrival = (uploads.slot_id(settings.load().secret, applicant.token, "license", 1), "旧执照.pdf")
    fields = removal(html)
    status, html = remove(fields)
    assert status == 200
    assert "已移除营业执照（或法人证书）“旧执照.pdf”" in text(html) and "旧执照.pdf”（" not in text(html)
    # Back in history: the arrival page is fetched again; the removed file must stay removed.
    key = f"uploads/{arrival[0]}/{arrival[1]}"
    _, html = page("/api/apply/uploads", {"token": applicant.token, "key": key})
    assert "旧执照.pdf”（" not in text(html)
    assert ticket(html, "营业执照")[1]["key"].startswith(f"uploads/{arrival[0]}/")  # the freed slot again
    _, html = upload(aws, html, "营业执照", "新执照.pdf", PDF + b"%new\n")
    # The old 移除 posted again (history, a reload) removes nothing now; nor do its fields in a GET.
    remove(fields)
    page("/api/apply/uploads", fields)
    names = [f.filename for f in uploads.filed(api_store(), settings.load(), applicant.token)]
    assert names == ["新执照.pdf"]


def test_a_kind_takes_at_most_its_number_of_files(applicant, aws):
    _, html = page("/api/apply/uploads", {"token": applicant.token})
    for n in range(MAX_ATTACHMENTS_PER_KIND):
        _, html = upload(aws, html, "营业执照", f"第{n}个.pdf")
    section = re.search(r'<section[^>]*><h2[^>]*>营业执照.*?</section>', html).group(0)
    assert wording.text("apply.pages.upload_full") in text(section) and "multipart/form-data" not in section
    assert len(uploads.filed(api_store(), settings.load(), applicant.token)) == MAX_ATTACHMENTS_PER_KIND
