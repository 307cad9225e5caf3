"""Revising through the receipt link (issue 14; 退回修改 of issue 13) under moto: versions, one transaction, the
checks of a first submission, the fixed fields, the deadlines, and nothing half-written."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bdpilot import settings
from bdpilot.console.records import cells
from bdpilot.console.records.verification import check_stored
from bdpilot.domain import campaign, formats, receipts
from bdpilot.intake import revision
from bdpilot.ops.local import LambdaContext, rest_event
from bdpilot.store import layout
from bdpilot.store.reader import Reader
from bdpilot.web import receipt
from tests.conftest import SECRET, Applicant, Reply
from tests.factories import PDF, VALID_USCC, attachments, idempotency_key

REVISED = "修改后的项目名称"


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("BDPILOT_MAIL", "outbox")
    monkeypatch.setenv("BDPILOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    return tmp_path / "outbox"


def receipt_call(method: str, path: str, token: str, body: Any = None, *, key: str | None = None) -> Reply:
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    event = rest_event(method, path, headers=headers, query=f"t={token}",
                       body=json.dumps(body, ensure_ascii=False) if body is not None else None)
    result = receipt.handler(event, LambdaContext("bdpilot-receipt", 512, "arn:aws:lambda:us-east-1:123456789012:"
                                                  "function:bdpilot-receipt", "test"))
    text = result.get("body") or ""
    parsed = json.loads(text) if "json" in result["headers"].get("Content-Type", "") else text
    return Reply(result["statusCode"], result["headers"], parsed)


def reader() -> Reader:
    cfg = settings.load()
    return Reader(cfg.table, cfg.bucket, units_table=cfg.units_table)


def link(ref: str, now: Any) -> str:
    return receipts.token(SECRET.encode(), ref, now())


@pytest.fixture
def stored(aws, applicant: Applicant, outbox) -> dict[str, Any]:
    reply = applicant.submit()
    assert reply.status == 201, reply.body
    return reply.body


def upload(link_token: str, form_token: str) -> str:
    """A revision's new file: presigned by the receipt function (the public one closes with the window)."""
    ticket = receipt_call("POST", "/api/receipt/uploads", link_token,
                          {"form_token": form_token, "filename": "新.pdf", "size": len(PDF)})
    assert ticket.status == 201, ticket.body
    posted = requests.post(ticket.body["url"], data=ticket.body["fields"],
                           files={"file": ("新.pdf", PDF, "application/pdf")}, timeout=30)
    assert posted.status_code == 204, posted.text
    return str(ticket.body["upload_id"])


def revised_body(applicant: Applicant, record: dict[str, Any], now: Any, *, keep: str = "license",
                 changes: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The form in revise mode: the record's answers with `changes`, one attachment kept (its keep id from the
    record endpoint) and the other replaced by a fresh upload under a fresh form token."""
    token = link(record["reference"], now)
    opened = receipt_call("GET", "/api/receipt/record", token)
    assert opened.status == 200, opened.body
    applicant.token = opened.body["form_token"]
    app = json.loads(json.dumps(opened.body["application"]))
    for section, values in (changes or {}).items():
        app[section].update(values)
    kept = [{"kind": f["kind"], "upload_id": f["upload_id"], "filename": f["filename"]}
            for f in opened.body["files"] if f["kind"] == keep]
    fresh = [a for a in attachments(upload(token, applicant.token), upload(token, applicant.token))
             if a["kind"] != keep]
    app["attachments"] = kept + fresh
    now.advance(minutes=3)
    return {"application": app, "form_token": applicant.token, "website": ""}


def units_item(aws, ref: str) -> dict[str, Any]:
    table = settings.load().units_table
    found = aws.dynamodb.get_item(TableName=table, Key={"unit": {"S": "河北省"}, "reference": {"S": ref}})["Item"]
    return layout.unmarshal(found)


def set_status(aws, ref: str, status: str) -> None:
    aws.dynamodb.update_item(TableName=settings.load().units_table,
                             Key={"unit": {"S": "河北省"}, "reference": {"S": ref}},
                             UpdateExpression="SET #s = :s, #r = :r",
                             ExpressionAttributeNames={"#s": "status", "#r": "rev"},
                             ExpressionAttributeValues={":s": {"S": status}, ":r": {"N": "1"}})


def test_a_revision_is_version_2_with_its_own_digest_and_version_1_stays(aws, applicant, now, stored, outbox):
    ref, first = stored["reference"], stored["record"]
    body = revised_body(applicant, first, now, changes={"cover": {"project_name": REVISED}})
    reply = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=idempotency_key())
    assert reply.status == 201, reply.body
    assert reply.body["version"] == 2 and reply.body["digest"] != stored["digest"]
    assert reply.body["receipt_url"].startswith(settings.load().site_url + "/api/receipt?t=")
    record = reply.body["record"]
    assert record["supersedes"] == stored["digest"] and record["received_at"] == first["received_at"]
    assert record["application"]["cover"]["project_name"] == REVISED
    # The paper copy says which version it is and when that version was submitted, beside the first time.
    printable = reply.body["printable"]
    revised_at = formats.beijing_time(record["revised_at"])
    assert revised_at != formats.beijing_time(first["received_at"])
    assert "<dt>版本</dt><dd>第2版</dd>" in printable and f"<dt>本版提交时间</dt><dd>{revised_at}</dd>" in printable
    assert f"版本：第2版　本版提交时间：{revised_at}" in printable  # the footer of every printed page
    assert f"<dd>{formats.beijing_time(first['received_at'])}</dd>" in printable
    assert stored["printable"] and "版本" not in stored["printable"]  # the first version's copy has none
    # The kept license moved into v2/ with its SHA-256 unchanged; the patent is the new upload.
    license_ = next(f for f in record["files"] if f["kind"] == "license")
    assert license_["sha256"] == next(f for f in first["files"] if f["kind"] == "license")["sha256"]
    assert aws.keys(f"submissions/{ref}/v2/") == [f"submissions/{ref}/v2/attachments/ip-1.pdf",
                                                  f"submissions/{ref}/v2/attachments/license-1.pdf",
                                                  f"submissions/{ref}/v2/record.json"]
    store = reader()
    data, sha = store.get_record_object(ref)  # type: ignore[misc]
    assert hashlib.sha256(data).hexdigest() == sha == reply.body["digest"]
    old, _ = store.get_record_object(ref, 1)  # type: ignore[misc]
    assert hashlib.sha256(old).hexdigest() == stored["digest"]
    assert [(v.number, v.digest, v.current) for v in store.versions(ref)] == [
        (1, stored["digest"], False), (2, reply.body["digest"], True)]
    index = store.get_index(ref)
    assert index is not None and (index["version"], index["digest"]) == (2, reply.body["digest"])
    # Exports (console and admin) say which version they hold and when it was filed.
    row = cells.row_record(record, index, "")
    shown = {c.header: c.value(row) for c in cells.meta_columns()}
    assert (shown["版本"], shown["本版提交时间"], shown["提交时间"]) == (2, record["revised_at"], first["received_at"])
    assert {c.header: c.value(cells.row_record(first, index, "")) for c in cells.meta_columns()}["版本"] == 1
    assert index["project_name"] == REVISED
    item = units_item(aws, ref)
    assert (item["status"], item["version"], item["digest"], item["rev"]) == ("received", 2, reply.body["digest"], 1)
    assert item["project"] == REVISED and json.loads(item["history"])[-1]["action"] == "revise"
    # Staff's checks pass for the current version and for the earlier one (against the digest v2 supersedes).
    assert check_stored(store, ref, index).check.ok
    assert check_stored(store, ref, index, 1).check.ok
    mails = sorted(outbox.glob("*.eml"))
    assert len(mails) == 2
    sent = email.message_from_bytes(mails[-1].read_bytes(), policy=email.policy.default)
    assert reply.body["digest"] in sent.get_body().get_content()  # type: ignore[union-attr]


def test_a_retried_revision_replays_and_makes_no_third_version(aws, applicant, now, stored):
    ref, key = stored["reference"], idempotency_key()
    body = revised_body(applicant, stored["record"], now, changes={"cover": {"project_name": REVISED}})
    first = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=key)
    again = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=key)
    assert first.status == again.status == 201 and again.body["digest"] == first.body["digest"]
    assert reader().current_version(ref) == 2 and aws.keys(f"submissions/{ref}/v3/") == []


def test_uscc_and_recommender_cannot_change(aws, applicant, now, stored):
    ref = stored["reference"]
    body = revised_body(applicant, stored["record"], now, changes={
        "applicant": {"uscc": VALID_USCC[1]}, "cover": {"recommender": "北京市"}})
    reply = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=idempotency_key())
    assert reply.status == 422 and reply.body["error"]["code"] == "revision_fixed_field"
    fields = {f["path"]: f["message"] for f in reply.body["error"]["fields"]}
    assert "统一社会信用代码" in fields["application.applicant.uscc"]
    assert "推荐单位" in fields["application.cover.recommender"]
    assert reader().current_version(ref) == 1 and aws.keys(f"submissions/{ref}/v2/") == []


def test_the_windows_received_until_the_deadline_returned_until_the_units_deadline(aws, applicant, now, stored):
    ref = stored["reference"]
    body = revised_body(applicant, stored["record"], now)
    now.at = campaign.DEADLINE + timedelta(minutes=1)
    closed = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=idempotency_key())
    assert closed.status == 403 and closed.body["error"]["code"] == "revision_closed"
    opened = receipt_call("GET", "/api/receipt/record", link(ref, now))
    assert opened.body["revisable"] is False and opened.body["form_token"] is None
    set_status(aws, ref, "returned")  # 退回修改: open again until the units' deadline
    body = revised_body(applicant, stored["record"], now, changes={"cover": {"project_name": REVISED}})
    reply = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=idempotency_key())
    assert reply.status == 201, reply.body
    assert units_item(aws, ref)["status"] == "received" and units_item(aws, ref)["rev"] == 2
    set_status(aws, ref, "proposed")
    done = receipt_call("GET", "/api/receipt/record", link(ref, now))
    assert done.body["revisable"] is False


def test_a_failed_commit_leaves_the_old_version_current(aws, applicant, now, stored, monkeypatch):
    ref = stored["reference"]
    body = revised_body(applicant, stored["record"], now, changes={"cover": {"project_name": REVISED}})
    real = Reader.put_record

    def decided_meanwhile(self: Reader, *args: Any) -> None:
        real(self, *args)
        set_status(aws, ref, "proposed")  # a staff decision lands between the read and the commit

    monkeypatch.setattr(Reader, "put_record", decided_meanwhile)
    reply = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=idempotency_key())
    assert reply.status == 409 and reply.body["error"]["code"] == "revision_stale"
    store = reader()
    assert store.current_version(ref) == 1 and store.get_index(ref)["digest"] == stored["digest"]  # type: ignore
    data, _ = store.get_record_object(ref)  # type: ignore[misc]
    assert hashlib.sha256(data).hexdigest() == stored["digest"]
    assert units_item(aws, ref).get("version") is None


def test_a_kept_file_altered_in_storage_is_not_carried_over(aws, applicant, now, stored):
    ref = stored["reference"]
    aws.s3.put_object(Bucket=aws.bucket, Key=layout.attachment_key(ref, "license-1.pdf"), Body=b"%PDF-1.4 other")
    body = revised_body(applicant, stored["record"], now)
    reply = receipt_call("POST", "/api/receipt/revision", link(ref, now), body, key=idempotency_key())
    assert reply.status == 422 and "不能沿用" in reply.body["error"]["fields"][0]["message"]
    assert reader().current_version(ref) == 1


def test_a_forged_or_unknown_link_is_404(aws, now, stored):
    forged = link(stored["reference"], now)[:-2] + "AA"
    assert receipt_call("GET", "/api/receipt/record", forged).status == 404
    other = receipts.token(SECRET.encode(), revision_unknown(), now())
    assert receipt_call("GET", "/api/receipt/record", other).status == 404


def revision_unknown() -> str:
    from bdpilot.domain.reference import reference_for

    return reference_for(b"x" * 16, "nobody-key-000000")


def test_record_body_offers_each_file_to_keep(aws, now, stored):
    opened = receipt_call("GET", "/api/receipt/record", link(stored["reference"], now))
    assert opened.status == 200 and opened.body["revisable"] is True and opened.body["version"] == 1
    assert [f["upload_id"] for f in opened.body["files"]] == [revision.keep_id(f) for f in stored["record"]["files"]]
    assert all("sha256" not in f for f in opened.body["files"])
