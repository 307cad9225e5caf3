"""The applicant function (bdpilot.web.receipt): the receipt page behind the signed link, resend, and what the
public API adds after a stored submission (receipt_url, the receipt e-mail, "resend" on a duplicate)."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bdpilot import settings
from bdpilot.domain import receipts, rules, wording
from bdpilot.ops.local import LambdaContext, rest_event
from bdpilot.store import mailer, resends
from bdpilot.web import receipt, receiptdata
from tests.conftest import Reply
from tests.factories import application, uscc


@pytest.fixture
def outbox(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BDPILOT_MAIL", "outbox")
    monkeypatch.setenv("BDPILOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("BDPILOT_SITE_URL", "https://bdpilot.example.cn")
    receiptdata._reader.cache_clear()
    mailer._client.cache_clear()
    return tmp_path / "outbox"


def mails(outbox: Path) -> list[email.message.EmailMessage]:
    if not outbox.exists():
        return []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(outbox.iterdir())]


def call(method: str, path: str, *, query: str = "", body: Any = None, form: str | None = None) -> Reply:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else \
        {"Content-Type": "application/json"}
    data = form if form is not None else (json.dumps(body, ensure_ascii=False) if body is not None else None)
    result = receipt.handler(rest_event(method, path, headers=headers, body=data, query=query),
                             LambdaContext("bdpilot-receipt"))
    text = result["body"]
    parsed = json.loads(text) if "json" in result["headers"].get("Content-Type", "") else text
    return Reply(result["statusCode"], result["headers"], parsed)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def _submitted(applicant: Any, outbox: Path) -> dict[str, Any]:
    reply = applicant.submit()
    assert reply.status == 201, reply.body
    return reply.body


def test_a_stored_submission_gets_its_link_and_receipt_mail(applicant: Any, outbox: Path) -> None:
    body = _submitted(applicant, outbox)
    assert body["receipt_url"].startswith("https://bdpilot.example.cn/api/receipt?t=")
    [sent] = mails(outbox)
    text = sent.get_content()
    assert sent["To"] == application()["contact"]["email"]
    assert body["reference"] in str(sent["Subject"]) and body["digest"] in text and body["receipt_url"] in text


def test_the_link_shows_status_and_the_printable_copy(applicant: Any, outbox: Path) -> None:
    body = _submitted(applicant, outbox)
    page = call("GET", "/api/receipt", query=f"t={token_of(body['receipt_url'])}")
    assert page.status == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert "script" not in page.headers["Content-Security-Policy"] and "<script" not in page.body
    html = page.body
    assert body["reference"] in html and body["digest"] in html
    assert wording.text("review.applicant.received") in html
    assert 'id="apply-print"' in html and application()["cover"]["project_name"] in html
    assert f'href="/apply/?revise={token_of(body["receipt_url"])}"' in html  # open: revisable


def _set(aws: Any, reference: str, **values: str) -> None:
    """A review decision as the console stores it on the 推荐单位's item (status, reason)."""
    index = aws.dynamodb.get_item(TableName=aws.table, Key={"pk": {"S": f"SUB#{reference}"}})["Item"]
    unit = rules.unit_of(index["recommender"]["S"])
    names = {f"#{k}": k for k in values}
    aws.dynamodb.update_item(TableName=settings.load().units_table,
                             Key={"unit": {"S": unit}, "reference": {"S": reference}},
                             UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
                             ExpressionAttributeNames=names,
                             ExpressionAttributeValues={f":{k}": {"S": v} for k, v in values.items()})


def test_a_returned_application_shows_the_reason(applicant: Any, outbox: Path, aws: Any) -> None:
    body = _submitted(applicant, outbox)
    _set(aws, body["reference"], status="returned", reason="请补充<专利>证明")
    html = call("GET", "/api/receipt", query=f"t={token_of(body['receipt_url'])}").body
    assert wording.text("review.applicant.returned") in html and "请补充&lt;专利&gt;证明" in html
    assert "/apply/?revise=" in html


def test_a_decided_application_is_under_review_unless_results_are_shown(applicant: Any, outbox: Path, aws: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    body = _submitted(applicant, outbox)
    _set(aws, body["reference"], status="proposed")
    query = f"t={token_of(body['receipt_url'])}"
    monkeypatch.setenv("BDPILOT_SHOW_RESULTS", "0")
    html = call("GET", "/api/receipt", query=query).body
    assert wording.text("review.applicant.under_review") in html and wording.text("review.status.proposed") not in html
    assert "/apply/?revise=" not in html
    monkeypatch.setenv("BDPILOT_SHOW_RESULTS", "1")
    assert wording.text("review.applicant.proposed") in call("GET", "/api/receipt", query=query).body


def test_a_forged_expired_or_missing_token_is_a_chinese_404(applicant: Any, outbox: Path, now: Any) -> None:
    body = _submitted(applicant, outbox)
    good = token_of(body["receipt_url"])
    other = receipts.token(b"another-secret-0123456789", body["reference"], now())
    for query in (f"t={good[:-2]}xx", f"t={other}", "", "t=" + "x" * 5000):
        page = call("GET", "/api/receipt", query=query)
        assert page.status == 404 and wording.text("receipt.invalid.title") in page.body, query
        assert body["reference"] not in page.body and 'action="/api/receipt/resend"' in page.body
    now.advance(days=receipts.VALID_DAYS + 1)
    assert call("GET", "/api/receipt", query=f"t={good}").status == 404


def test_resend_answers_alike_and_mails_only_the_applicant_on_file(applicant: Any, outbox: Path) -> None:
    body = _submitted(applicant, outbox)
    code = application()["applicant"]["uscc"]
    before = len(mails(outbox))
    known = call("POST", "/api/receipt/resend", body={"uscc": code.lower()})
    unknown = call("POST", "/api/receipt/resend", body={"uscc": uscc(987654)})
    assert known.status == unknown.status == 202
    assert known.body == unknown.body and known.headers == unknown.headers
    [sent] = mails(outbox)[before:]
    assert sent["To"] == application()["contact"]["email"] and body["reference"] in sent.get_content()
    assert application()["contact"]["email"] not in json.dumps(known.body, ensure_ascii=False)
    link = next(line for line in sent.get_content().splitlines() if "/api/receipt?t=" in line)
    assert call("GET", "/api/receipt", query=f"t={token_of(link.strip())}").status == 200


def test_on_lambda_a_resend_answers_after_the_same_calls_and_mails_from_its_own_invocation(
        applicant: Any, outbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Content alone is not enough: a code that applied used to cost a lookup, a record read and a send before the
    answer. On Lambda the answer waits for the allowance's UpdateItem and one asynchronous Invoke, either way."""
    body = _submitted(applicant, outbox)
    before = len(mails(outbox))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "bdpilot-test-receipt")
    invoked: list[dict[str, Any]] = []

    class Lambda:  # moto cannot run a function: what the call was is what matters here
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            invoked.append(kwargs)
            return {"StatusCode": 202}

    monkeypatch.setattr(resends, "_lambda", lambda key: Lambda())
    reader = receiptdata.reader_for(settings.load())
    calls: list[str] = []
    for client in (reader.dynamodb, reader.s3):
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))

    answers, seen = [], []
    for code in (application()["applicant"]["uscc"], uscc(987654)):
        calls.clear()
        answers.append(call("POST", "/api/receipt/resend", body={"uscc": code}))
        seen.append(list(calls))
    assert answers[0].status == answers[1].status == 202 and answers[0].body == answers[1].body
    assert seen == [["UpdateItem"], ["UpdateItem"]] and len(invoked) == 2
    assert len(mails(outbox)) == before  # nothing looked up or sent before the answer
    assert {i["FunctionName"] for i in invoked} == {"bdpilot-test-receipt"}
    assert {i["InvocationType"] for i in invoked} == {"Event"}

    # The invocations themselves: the code that applied gets its link, the other nothing.
    for job in invoked:
        assert receipt.handler(json.loads(job["Payload"]), LambdaContext("bdpilot-receipt")) == {}
    [sent] = mails(outbox)[before:]
    assert sent["To"] == application()["contact"]["email"] and body["reference"] in sent.get_content()
    # An API Gateway event can never carry the job's key at its top level: only the function's own role invokes.
    assert call("POST", "/api/receipt/resend", body={resends.JOB: {"uscc": uscc(1)}}).status == 422


def test_resend_sends_at_most_three_a_day_and_still_answers_alike(applicant: Any, outbox: Path, now: Any) -> None:
    _submitted(applicant, outbox)
    code = application()["applicant"]["uscc"]
    before = len(mails(outbox))
    answers = [call("POST", "/api/receipt/resend", body={"uscc": code}) for _ in range(5)]
    assert {(a.status, json.dumps(a.body)) for a in answers} == {(answers[0].status, json.dumps(answers[0].body))}
    assert len(mails(outbox)) - before == 3
    now.advance(days=1)
    call("POST", "/api/receipt/resend", body={"uscc": code})
    assert len(mails(outbox)) - before == 4


def test_resend_without_javascript_and_a_mistyped_code(applicant: Any, outbox: Path) -> None:
    _submitted(applicant, outbox)
    page = call("POST", "/api/receipt/resend", form="uscc=" + application()["applicant"]["uscc"])
    assert page.status == 202 and wording.text("receipt.resend.sent", times=3) in page.body
    wrong = call("POST", "/api/receipt/resend", form="uscc=123")
    assert wrong.status == 422 and wording.text("receipt.resend.uscc_invalid") in wrong.body
    assert call("POST", "/api/receipt/resend", body={"uscc": "123"}).status == 422
    assert call("POST", "/api/receipt/resend", body=["x"]).status == 400


def test_a_duplicate_offers_resend_and_a_mail_failure_keeps_the_201(applicant: Any, outbox: Path, aws: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDPILOT_MAIL", "smtp")
    monkeypatch.setenv("BDPILOT_SMTP_URL", "smtp://127.0.0.1:9")  # nothing listens: the mail is queued
    body = _submitted(applicant, outbox)
    assert body["receipt_url"]
    queued = [i for i in aws.items() if i["pk"]["S"].startswith("MAIL#")]
    assert len(queued) == 1 and queued[0]["reference"]["S"] == body["reference"]
    applicant.new_form()
    again = applicant.submit()
    assert again.status == 409 and again.body["error"]["code"] == "duplicate_applicant"
    assert again.body["error"]["resend"] is True


def test_unknown_routes_and_methods(outbox: Path) -> None:
    assert call("GET", "/api/receipt/nothing").status == 404
    wrong = call("DELETE", "/api/receipt/resend")
    assert wrong.status == 405 and wrong.headers["Allow"] == "GET, POST"
    big = receipt.handler(rest_event("POST", "/api/receipt/resend", headers={"Content-Type": "application/json"},
                                     body="x" * (receipt.MAX_BODY_BYTES + 1)), LambdaContext("bdpilot-receipt"))
    assert big["statusCode"] == 413
    assert {p for _, p in receipt.ROUTES} >= {"/api/receipt", "/api/receipt/resend", "/api/receipt/revision"}
