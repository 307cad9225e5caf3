"""The public handler under moto, driven with API Gateway REST events."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bdpilot import store
from bdpilot.domain import campaign
from bdpilot.domain.reference import is_valid
from tests.conftest import call
from tests.factories import PDF, VALID_USCC, application, attachments, idempotency_key


def test_campaign_reports_window_and_directions(aws, now):
    reply = call("GET", "/api/campaign")
    assert reply.status == 200
    assert reply.body["window"]["open"] is True
    assert reply.body["window"]["deadline"] == campaign.DEADLINE.isoformat()
    assert reply.body["window"]["server_time"] == now().isoformat()
    assert [d["number"] for d in reply.body["directions"]] == [1, 2, 3, 4, 5, 6, 7]
    assert reply.headers["Cache-Control"] == "no-store"


def test_schema_and_openapi(aws):
    schema = call("GET", "/api/schema").body
    assert schema["title"] == "2020年大数据产业发展试点示范项目申报书"
    doc = call("GET", "/api/openapi.json").body
    assert doc["openapi"].startswith("3.") and "/api/submissions" in doc["paths"]
    assert "Application" in doc["components"]["schemas"]


def test_happy_path_stores_record_files_and_index(aws, applicant):
    body = applicant.body()
    reply = applicant.submit(body)
    assert reply.status == 201, reply.body
    ref, digest = reply.body["reference"], reply.body["digest"]
    assert is_valid(ref)

    stored = aws.s3.get_object(Bucket=aws.bucket, Key=store.record_key(ref))["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == digest
    record = json.loads(stored)
    assert record == reply.body["record"]
    assert record["application"]["applicant"]["uscc"] == body["application"]["applicant"]["uscc"]
    assert record["application"]["cover"] == body["application"]["cover"]
    assert [f["name"] for f in record["files"]] == ["license-1.pdf", "ip-1.pdf"]
    assert aws.keys(f"submissions/{ref}/") == [f"submissions/{ref}/attachments/ip-1.pdf",
                                               f"submissions/{ref}/attachments/license-1.pdf",
                                               f"submissions/{ref}/record.json"]
    pks = {i["pk"]["S"] for i in aws.items()}
    assert f"SUB#{ref}" in pks and f"USCC#{VALID_USCC[0]}" in pks
    index = next(i for i in aws.items() if i["pk"]["S"] == f"SUB#{ref}")
    assert index["digest"]["S"] == digest and index["direction"]["S"] == "3"
    assert index["recommender"]["S"] == "河北省" and index["received_at"]["S"] == record["received_at"]


def test_retry_with_same_key_replays_and_writes_nothing(aws, applicant):
    body, key = applicant.body(), idempotency_key()
    first = applicant.submit(body, key=key)
    assert first.status == 201
    objects, items = aws.keys(), aws.items()
    again = applicant.submit(body, key=key)
    assert (again.status, again.body) == (201, first.body)
    assert aws.keys() == objects and aws.items() == items
    changed = json.loads(json.dumps(body))
    changed["application"]["cover"]["project_name"] = "另一个项目"
    other = applicant.submit(changed, key=key)
    assert other.status == 422 and other.body["error"]["code"] == "idempotency_key_reused"


def test_duplicate_applicant_is_409_without_revealing_the_other(aws, applicant, now):
    assert applicant.submit().status == 201
    second = type(applicant)(aws, now)
    reply = second.submit(second.body(cover={"project_name": "第二个项目"}))
    assert reply.status == 409
    assert "每个申报主体限申报1个项目" in reply.body["error"]["message"]
    assert "BD2020" not in json.dumps(reply.body)
    assert len([i for i in aws.items() if i["pk"]["S"].startswith("SUB#")]) == 1


def test_duplicate_found_only_at_commit_leaves_nothing_indexed(aws, applicant, monkeypatch):
    """The competing guard item lands between our pre-check and our transaction (deterministic interleaving)."""
    original = store.Store.applicant_taken

    def competitor_wins(self, guard_pk):
        taken = original(self, guard_pk)
        aws.dynamodb.put_item(TableName=aws.table, Item={"pk": {"S": guard_pk}, "reference": {"S": "OTHER"}})
        return taken

    monkeypatch.setattr(store.Store, "applicant_taken", competitor_wins)
    reply = applicant.submit()
    assert reply.status == 409
    pks = {i["pk"]["S"] for i in aws.items()}
    assert not any(pk.startswith(("SUB#", "IDEM#")) for pk in pks)


@pytest.mark.parametrize("headers,raw,status,code", [
    ({"Content-Type": "text/plain"}, "{}", 415, "unsupported_media_type"),
    ({}, "{not json", 400, "malformed"),
    ({}, b"\xff\xfe{}", 400, "malformed"),
    ({}, "[1, 2]", 400, "malformed"),
    ({}, "[" * 100_000 + "]" * 100_000, 400, "malformed"),
    ({}, "x" * (256 * 1024 + 1), 413, "payload_too_large"),
])
def test_bad_requests(aws, now, headers, raw, status, code):
    reply = call("POST", "/api/submissions", raw=raw, headers={"Idempotency-Key": idempotency_key(), **headers})
    assert (reply.status, reply.body["error"]["code"]) == (status, code)
    assert reply.body["error"]["message"]
    assert aws.keys("submissions/") == []


def test_idempotency_key_required(aws, applicant):
    reply = call("POST", "/api/submissions", applicant.body())
    assert reply.status == 400 and "Idempotency-Key" in reply.body["error"]["message"]


def test_validation_lists_every_failing_field(aws, applicant):
    body = applicant.body(applicant={"uscc": "91350100M000100Y44", "postcode": "1"}, contact={"email": "x"})
    reply = applicant.submit(body)
    assert reply.status == 422
    paths = {f["path"]: f["message"] for f in reply.body["error"]["fields"]}
    assert set(paths) == {"application.applicant.uscc", "application.applicant.postcode", "application.contact.email"}
    assert all("\u4e00" <= m[0] <= "\u9fff" or m[0] in "“" for m in paths.values())
    assert aws.keys("submissions/") == [] and not aws.items()


def test_window_closed(aws, applicant, now):
    body = applicant.body()
    now.at = campaign.DEADLINE
    reply = applicant.submit(body, wait=False)
    assert reply.status == 403 and "申报已截止" in reply.body["error"]["message"]
    assert call("GET", "/api/campaign").body["window"]["open"] is False


def test_deadline_override_opens_a_new_round(aws, applicant, now, monkeypatch):
    now.at = campaign.DEADLINE + timedelta(days=10)
    assert call("GET", "/api/campaign").body["window"]["open"] is False
    monkeypatch.setenv("BDPILOT_DEADLINE", "2020-12-01T00:00:00+08:00")
    assert type(applicant)(aws, now).submit().status == 201


def test_form_token_too_fast_forged_and_expired(aws, applicant, now):
    body = applicant.body()
    fast = applicant.submit(body, wait=False)
    assert fast.status == 429 and int(fast.headers["Retry-After"]) >= 1
    forged = dict(body, form_token=body["form_token"][:-1] + ("0" if body["form_token"][-1] != "0" else "1"))
    assert applicant.submit(forged).status == 403
    now.advance(days=8)
    assert applicant.submit(body).status == 403
    assert aws.keys("submissions/") == []


def test_honeypot_filled_gets_a_fake_receipt_and_stores_nothing(aws, applicant):
    reply = applicant.submit(dict(applicant.body(), website="http://spam.example"))
    assert reply.status == 201 and is_valid(reply.body["reference"])
    assert aws.keys("submissions/") == [] and not aws.items()


def test_honeypot_missing_is_refused(aws, applicant):
    body = applicant.body()
    del body["website"]
    reply = applicant.submit(body)
    assert reply.status == 422 and reply.body["error"]["fields"][0]["path"] == "website"


def test_fake_pdf_and_foreign_or_missing_uploads_are_rejected(aws, applicant, now):
    exe = applicant.upload(b"MZ\x90\x00 this is an exe renamed to pdf", filename="setup.pdf")
    other = type(applicant)(aws, now).upload()
    body = applicant.body(attachments=[
        {"kind": "license", "upload_id": exe, "filename": "setup.pdf"},
        {"kind": "ip", "upload_id": other, "filename": "别人的.pdf"},
        {"kind": "usage", "upload_id": "f" * 32, "filename": "不存在.pdf"},
    ])
    reply = applicant.submit(body)
    assert reply.status == 422
    messages = [f["message"] for f in reply.body["error"]["fields"]]
    assert "不是有效的PDF文件" in messages[0]
    assert "未找到或已过期" in messages[1] and "未找到或已过期" in messages[2]
    assert aws.keys("submissions/") == []


def test_upload_requests_are_checked(aws, applicant):
    too_big = call("POST", "/api/uploads", {"form_token": applicant.token, "filename": "a.pdf",
                                            "size": 20 * 1024 * 1024 + 1})
    assert too_big.status == 413 and "20 MB" in too_big.body["error"]["message"]
    wrong = call("POST", "/api/uploads", {"form_token": applicant.token, "filename": "a.exe", "size": 10})
    assert wrong.status == 422
    forged = call("POST", "/api/uploads", {"form_token": "1.2.3", "filename": "a.pdf", "size": 10})
    assert forged.status == 403
    ok = call("POST", "/api/uploads", {"form_token": applicant.token, "filename": "a.pdf", "size": 10})
    assert ok.status == 201 and ok.body["fields"]["key"] == f"uploads/{ok.body['upload_id']}"
    assert ok.body["max_bytes"] == 20 * 1024 * 1024 and ok.body["expires_in"] == 900


def test_oversized_upload_is_rejected_at_submission(aws, applicant, monkeypatch):
    from bdpilot import settings

    big = applicant.upload(PDF + b"0" * 64)
    monkeypatch.setattr(settings, "MAX_UPLOAD_BYTES", len(PDF) + 10)
    reply = applicant.submit(applicant.body(attachments=attachments(big, applicant.upload())))
    assert reply.status == 422 and "超过20 MB" in reply.body["error"]["fields"][0]["message"]


def test_wrong_method_and_unknown_path(aws):
    reply = call("GET", "/api/submissions")
    assert reply.status == 405 and reply.headers["Allow"] == "POST"
    assert call("DELETE", "/api/campaign").status == 405
    assert call("GET", "/api/nothing").status == 404


def test_the_answer_carries_the_print_copy_of_its_record(aws, applicant):
    from bdpilot.domain.application import form_schema
    from bdpilot.web.printcopy import render_record

    reply = applicant.submit()
    assert reply.status == 201
    printable = reply.body.pop("printable")
    assert printable == render_record(form_schema(), reply.body)
    assert reply.body["reference"] in printable and reply.body["digest"] in printable


def _largest_valid_application() -> dict[str, Any]:
    """Every text answer at its longest, in the character that grows most on the way out (" → &quot; in the print
    copy, \\" in JSON); the most attachments, with the longest names. Answers with a format keep the factory's."""
    from bdpilot.domain.application import ATTACHMENT_KINDS, MAX_ATTACHMENTS_PER_KIND, Application
    from tests.reliability.hostile_corpus import text_limits

    app = application()
    for (section, name), limit in text_limits().items():
        trial = json.loads(json.dumps(app))
        trial[section][name] = '"' * limit
        try:
            Application.model_validate(dict(trial, attachments=attachments("a" * 32, "b" * 32)))
        except ValidationError:
            continue  # a format, or a rule across fields
        app = trial
    limit = Application.model_json_schema()["$defs"]["Attachment"]["properties"]["filename"]["maxLength"]
    kinds = [kind for kind in ATTACHMENT_KINDS for _ in range(MAX_ATTACHMENTS_PER_KIND)]
    app["attachments"] = [{"kind": kind.value, "upload_id": f"{i:032x}", "filename": '"' * (limit - 4) + ".pdf"}
                          for i, kind in enumerate(kinds)]
    return app


def test_the_largest_valid_answer_stays_far_below_lambdas_6_mb(aws):
    """A Lambda answer may not exceed 6 MB; the print copy roughly doubles the record. 1 MB leaves room."""
    from bdpilot import settings
    from bdpilot.domain.application import Application
    from bdpilot.intake.submission import Accepted
    from bdpilot.web import api

    app = Application.model_validate(_largest_valid_application()).model_dump(mode="json")
    assert len(json.dumps({"application": app, "form_token": "1" * 60, "website": ""},
                          ensure_ascii=False).encode()) <= settings.MAX_BODY_BYTES  # a body the API would take
    files = [{"kind": a["kind"], "title": "x", "filename": a["filename"], "size": 20 * 1024 * 1024,
              "name": f"{a['kind']}-1.pdf", "sha256": "0" * 64} for a in app["attachments"]]
    record = {"reference": "BD2020-7KQ4-M9XR-3HCW-P6TA", "received_at": "2020-11-30T16:59:59.999+08:00",
              "application": app, "files": files}
    body = {"reference": record["reference"], "digest": "0" * 64, "received_at": record["received_at"],
            "record": record}
    answer = api.receipt(Accepted(body, record["reference"], "stored"))
    size = len(json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode())
    assert size < 1024 * 1024, size  # measured: about 0.2 MB
    from tests.reliability.hostile_corpus import text_limits

    # The answers really are at their longest (all but the few with a format: codes, phones, e-mail).
    assert sum(len(v) for v in _text_answers(app)) > 0.95 * sum(text_limits().values())


def _text_answers(app: dict[str, Any]) -> list[str]:
    return [v for section in app.values() if isinstance(section, dict) for v in section.values() if isinstance(v, str)]
