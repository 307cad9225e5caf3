"""Hostile input, table-driven: each gets its documented status and a Chinese message, and leaves nothing behind."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from bdpilot.domain.application import form_schema
from tests.conftest import Applicant, call
from tests.factories import idempotency_key

CHINESE = re.compile(r"[\u4e00-\u9fff]")
SCRIPT = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def _text_fields() -> list[tuple[str, str, int]]:
    """Every free-text field of the 申报书 with its length limit, from the schema (not a hand-kept list)."""
    schema = form_schema()
    fields = []
    for section, ref in schema["properties"].items():
        definition = schema["$defs"].get(ref.get("$ref", "").rsplit("/", 1)[-1], {})
        for name, prop in definition.get("properties", {}).items():
            if prop.get("x-widget") in ("text", "textarea") and not {"pattern", "x-required-when"} & prop.keys():
                fields.append((section, name, prop["maxLength"]))
    return fields


def _app(person: Applicant, **sections: Any) -> dict[str, Any]:
    return person.body(**sections)


# (name, how to build the raw request from a ready body, expected status, expected error code)
RAW_CASES: list[tuple[str, Callable[[dict[str, Any]], tuple[dict[str, str], bytes | str]], int, str]] = [
    ("256 KB + 1 byte", lambda b: ({}, "x" * (256 * 1024 + 1)), 413, "payload_too_large"),
    ("10 MB", lambda b: ({}, b"{" + b" " * (10 * 1024 * 1024) + b"}"), 413, "payload_too_large"),
    ("deep nesting", lambda b: ({}, "[" * 50_000 + "]" * 50_000), 400, "malformed"),
    ("not UTF-8", lambda b: ({}, json.dumps(b, ensure_ascii=False).encode("gb18030")), 400, "malformed"),
    ("text/plain", lambda b: ({"Content-Type": "text/plain"}, json.dumps(b)), 415, "unsupported_media_type"),
    ("multipart", lambda b: ({"Content-Type": "multipart/form-data; boundary=x"}, "--x--"), 415,
     "unsupported_media_type"),
    ("no content type", lambda b: ({"Content-Type": ""}, json.dumps(b)), 415, "unsupported_media_type"),
    ("JSON array", lambda b: ({}, "[]"), 400, "malformed"),
    ("truncated JSON", lambda b: ({}, json.dumps(b)[:-10]), 400, "malformed"),
]


@pytest.mark.parametrize("case", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_raw_hostile_bodies(aws, applicant, case):
    _, build, status, code = case
    headers, raw = build(_app(applicant))
    applicant.now.advance(minutes=5)
    reply = call("POST", "/api/submissions", raw=raw, headers={"Idempotency-Key": idempotency_key(), **headers})
    assert (reply.status, reply.body["error"]["code"]) == (status, code)
    assert CHINESE.search(reply.body["error"]["message"])
    assert aws.keys("submissions/") == [] and aws.items() == []


FIELD_CASES = [
    ("NUL", "项目\x00名称", "含有不可见的控制字符"),
    ("control characters", "项目\x1b[31m名称\x07", "含有不可见的控制字符"),
    ("20,000 characters", "长" * 20_000, "不能超过"),
]


@pytest.mark.parametrize("case", FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_hostile_text_is_refused_per_field(aws, applicant, case):
    _, value, expected = case
    reply = applicant.submit(_app(applicant, cover={"project_name": value}, details={"background": value}))
    assert reply.status == 422
    fields = {f["path"]: f["message"] for f in reply.body["error"]["fields"]}
    assert set(fields) == {"application.cover.project_name", "application.details.background"}
    assert all(expected in m for m in fields.values())
    assert aws.keys("submissions/") == [] and aws.items() == []


def test_deep_nesting_inside_a_field_is_a_field_error(aws, applicant):
    reply = applicant.submit(_app(applicant, cover={"project_name": _nested(500)}))
    assert reply.status == 422
    assert reply.body["error"]["fields"][0]["path"] == "application.cover.project_name"


def test_rtl_emoji_and_markup_are_stored_verbatim(aws, applicant):
    """Text is data: stored exactly as typed (escaping is the job of every page and export that shows it)."""
    weird = "مشروع البيانات 🚀👩‍💻 项目 \u202eevil\u202c " + SCRIPT
    sections: dict[str, dict[str, str]] = {}
    for section, name, limit in _text_fields():
        sections.setdefault(section, {})[name] = weird[:limit]
    assert len(sections) == 5 and sum(len(v) for v in sections.values()) >= 15
    reply = applicant.submit(_app(applicant, **sections))
    assert reply.status == 201, reply.body
    stored = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=f"submissions/{reply.body['reference']}/record.json")
                        ["Body"].read())
    for section, name, _ in _text_fields():
        assert stored["application"][section][name] == sections[section][name]


def test_path_like_attachment_names_never_steer_keys(aws, applicant):
    ids = [applicant.upload(), applicant.upload()]
    reply = applicant.submit(_app(applicant, attachments=[
        {"kind": "license", "upload_id": ids[0], "filename": "../../../etc/passwd.pdf"},
        {"kind": "ip", "upload_id": ids[1], "filename": "..\\..\\windows\\system32\\x.pdf"},
    ]))
    assert reply.status == 201, reply.body
    ref = reply.body["reference"]
    assert aws.keys("submissions/") == [f"submissions/{ref}/attachments/ip-1.pdf",
                                        f"submissions/{ref}/attachments/license-1.pdf",
                                        f"submissions/{ref}/record.json"]
    assert [f["filename"] for f in reply.body["record"]["files"]] == ["passwd.pdf", "x.pdf"]


@pytest.mark.parametrize("upload_id", ["../../submissions/x", "00000000000000000000000000000000/../a", "A" * 32])
def test_upload_ids_that_look_like_paths_are_refused(aws, applicant, upload_id):
    reply = applicant.submit(_app(applicant, attachments=[
        {"kind": "license", "upload_id": upload_id, "filename": "a.pdf"},
        {"kind": "ip", "upload_id": applicant.upload(), "filename": "b.pdf"},
    ]))
    assert reply.status == 422
    assert reply.body["error"]["fields"][0]["path"] == "application.attachments.0.upload_id"
    assert aws.keys("submissions/") == []


@pytest.mark.parametrize("method,path", [("PUT", "/api/submissions"), ("DELETE", "/api/submissions"),
                                         ("GET", "/api/uploads"), ("POST", "/api/campaign"),
                                         ("PATCH", "/api/schema")])
def test_wrong_methods(aws, method, path):
    reply = call(method, path, {})
    assert reply.status == 405 and CHINESE.search(reply.body["error"]["message"])
    assert aws.keys("submissions/") == [] and aws.items() == []


@pytest.mark.parametrize("token", ["", "1.2.3", "9999999999999.aaaa." + "0" * 32, None, 7, ["x"]])
def test_forged_tokens(aws, applicant, token):
    body = dict(_app(applicant), form_token=token)
    reply = applicant.submit(body)
    assert reply.status == 403 and reply.body["error"]["code"] == "form_token_invalid"
    assert aws.keys("submissions/") == [] and aws.items() == []
