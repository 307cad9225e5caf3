"""The review panel and the decision form under moto, driven through console.app.handler with signed-in sessions:
a unit decides on its own applicants; every refusal (empty reason, missing 推荐意见, stale page, quota full, past
the unit deadline, another unit's reference) re-renders the page with its Chinese message and changes nothing;
退回修改 e-mails the applicant's contact the signed receipt link; every attempt is audited."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from bdpilot.console import services
from bdpilot.domain import campaign, receipts, wording
from tests.integration.test_console_reading import HEBEI, SHANXI, Seeded, absent_reference, audited, seeded
from tests.integration.test_console_signin import Browser

FIXTURES = (seeded,)  # the submissions of test_console_reading: pytest finds a fixture by module attribute


def rev_of(page: dict[str, Any]) -> str:
    found = re.search(r'name="rev" value="(\d+)"', page["body"])
    assert found, "no decision form on the page"
    return found[1]


def decide(browser: Browser, ref: str, rev: str | None = None, **fields: str) -> dict[str, Any]:
    if rev is None:
        rev = rev_of(browser.get(f"/staff/submissions/{ref}"))
    return browser.post(f"/staff/submissions/{ref}/decision", {"rev": rev, **fields})


def item(unit: str, ref: str) -> dict[str, Any]:
    found = services.current().reviews.item(unit, ref)
    assert found is not None
    return found


def close_the_review(monkeypatch: pytest.MonkeyPatch, seeded: Seeded) -> None:
    """Move both deadlines to a minute from now, then let two minutes pass (the sessions stay alive)."""
    soon = (seeded.now() + timedelta(minutes=1)).isoformat()
    monkeypatch.setenv("BDPILOT_DEADLINE", soon)
    monkeypatch.setenv("BDPILOT_UNIT_DEADLINE", soon)
    seeded.now.advance(minutes=2)


def refused(answer: dict[str, Any], code: str, **params: Any) -> None:
    assert answer["statusCode"] in (400, 409), answer["statusCode"]
    assert unescape(answer["body"]).count(wording.text(f"review.refused.{code}", **params)) == 1


def test_a_unit_decides_and_the_page_shows_status_and_history(seeded: Seeded, aws) -> None:
    hebei = seeded.browser("unit", HEBEI)
    ref = seeded.refs[HEBEI][0]
    page = hebei.get(f"/staff/submissions/{ref}")
    assert page["statusCode"] == 200 and "待审核" in page["body"] and 'name="status" value="proposed"' in page["body"]
    answer = decide(hebei, ref, status="proposed", opinion="技术领先，示范作用明显", rank="2")
    assert answer["statusCode"] == 303 and answer["headers"]["Location"].startswith(f"/staff/submissions/{ref}?")
    shown = hebei.get(answer["headers"]["Location"].split("#")[0].split("?")[0], query="done=saved")["body"]
    assert wording.text("review.status.proposed") in shown and "技术领先，示范作用明显" in shown
    assert wording.text("staff.panel.saved") in shown and "第 2 位" in shown
    stored = item(HEBEI, ref)
    assert (stored["status"], stored["opinion"], int(stored["rank"]), int(stored["rev"])) == (
        "proposed", "技术领先，示范作用明显", 2, 1)
    assert services.current().reviews.state(HEBEI).proposed == 1
    # MIIT reads the panel, without the form
    miit_page = seeded.browser("miit").get(f"/staff/submissions/{ref}")["body"]
    assert "技术领先，示范作用明显" in miit_page and 'name="rev"' not in miit_page
    assert ("decide_proposed", ref) in audited(aws)
    # MIIT's list across units shows the status the review holds, not the one the index was stored with
    across = seeded.browser("miit").get("/staff/")["body"]
    row = next(r for r in across.split("<tr") if ref in r)
    assert wording.text("review.status.proposed") in row and wording.text("review.status.received") not in row


def test_refusals_keep_the_typed_text_and_change_nothing(seeded: Seeded, aws) -> None:
    hebei = seeded.browser("unit", HEBEI)
    ref = seeded.refs[HEBEI][1]
    rev = rev_of(hebei.get(f"/staff/submissions/{ref}"))
    answer = decide(hebei, ref, rev, status="proposed", opinion="", rank="1", reason="草稿中的理由")
    refused(answer, "opinion_required")
    assert "草稿中的理由" in answer["body"] and 'value="proposed" checked' in answer["body"]
    refused(decide(hebei, ref, rev, status="returned", reason="   "), "reason_required")
    refused(decide(hebei, ref, rev, status="rejected", reason=""), "reason_required")
    refused(decide(hebei, ref, rev, status="proposed", opinion="好", rank="11"), "rank_invalid", quota=10)
    refused(decide(hebei, ref, rev, status="approved"), "status_invalid")
    assert "rev" not in item(HEBEI, ref) and item(HEBEI, ref).get("status") == "received"
    # a stale page: someone else decided since it was drawn
    assert decide(hebei, ref, rev, status="rejected", reason="不符合申报条件")["statusCode"] == 303
    stale = decide(hebei, ref, rev, status="proposed", opinion="另一位同事的意见", rank="1")
    refused(stale, "stale")
    assert stale["statusCode"] == 409 and "另一位同事的意见" in stale["body"]
    assert item(HEBEI, ref)["status"] == "rejected"
    # one audit event per attempt (the fixed test clock gives them one time: compare them as a set of counts)
    events = [(i["action"]["S"], i["outcome"]["S"]) for i in aws.dynamodb.scan(
        TableName=services.current().audit.table)["Items"] if i.get("target", {}).get("S") == ref
        and i["action"]["S"].startswith("decide")]
    assert sorted(events) == sorted([
        ("decide_proposed", "opinion_required"), ("decide_returned", "reason_required"),
        ("decide_rejected", "reason_required"), ("decide_proposed", "rank_invalid"), ("decide", "status_invalid"),
        ("decide_rejected", "ok"), ("decide_proposed", "stale")])


def test_the_quota_is_held_by_the_store(seeded: Seeded, monkeypatch) -> None:
    kind = campaign.RECOMMENDER_KINDS[campaign.RecommenderKind.PROVINCE]
    monkeypatch.setitem(campaign.RECOMMENDER_KINDS, campaign.RecommenderKind.PROVINCE,
                        type(kind)(kind.kind, kind.name, 1))
    hebei = seeded.browser("unit", HEBEI)
    first, second = seeded.refs[HEBEI][:2]
    assert decide(hebei, first, status="proposed", opinion="第一", rank="1")["statusCode"] == 303
    refused(decide(hebei, second, status="proposed", opinion="第二", rank="1"), "quota_full")
    assert item(HEBEI, second).get("status") == "received"
    assert services.current().reviews.state(HEBEI).proposed == 1
    listing = hebei.get("/staff/")["body"]
    assert wording.text("staff.list.proposed_line", proposed=1, quota=1) in listing


def test_another_units_reference_and_miit_posting_are_not_found(seeded: Seeded) -> None:
    hebei = seeded.browser("unit", HEBEI)
    hebei.get("/staff/")  # the session's CSRF token, from the sign-out form
    other, missing = seeded.refs[SHANXI][0], absent_reference()
    form = {"rev": "0", "status": "rejected", "reason": "越权"}
    foreign = hebei.post(f"/staff/submissions/{other}/decision", form)
    nowhere = hebei.post(f"/staff/submissions/{missing}/decision", form)
    assert foreign["statusCode"] == 404 and foreign == nowhere
    miit = seeded.browser("miit")
    miit.get("/staff/")
    assert miit.post(f"/staff/submissions/{other}/decision", form)["statusCode"] == 404
    assert item(SHANXI, other).get("status") == "received"
    for path in (f"/staff/submissions/{other}/versions/1", f"/staff/submissions/{missing}/versions/1"):
        assert hebei.get(path)["statusCode"] == 404


def test_past_the_unit_deadline_the_form_is_gone_and_a_post_is_refused(seeded: Seeded, monkeypatch) -> None:
    hebei = seeded.browser("unit", HEBEI)
    ref = seeded.refs[HEBEI][0]
    rev = rev_of(hebei.get(f"/staff/submissions/{ref}"))
    close_the_review(monkeypatch, seeded)
    page = hebei.get(f"/staff/submissions/{ref}")
    assert 'name="rev"' not in page["body"] and "推荐截止时间" in page["body"]
    answer = decide(hebei, ref, rev, status="rejected", reason="太晚了")
    assert answer["statusCode"] == 409 and "截止时间" in answer["body"] and 'name="rev"' not in answer["body"]
    assert item(HEBEI, ref).get("status") == "received"


def test_returning_mails_the_applicant_the_signed_link(seeded: Seeded, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BDPILOT_MAIL", "outbox")
    monkeypatch.setenv("BDPILOT_OUTBOX_DIR", str(tmp_path))
    hebei = seeded.browser("unit", HEBEI)
    ref = seeded.refs[HEBEI][2]
    answer = decide(hebei, ref, status="returned", reason="请补充项目总投资的测算依据")
    assert answer["statusCode"] == 303 and "done=mailed" in answer["headers"]["Location"]
    mails = list(tmp_path.rglob("*.eml"))
    assert len(mails) == 1
    import email
    from email import policy

    message = email.message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "请补充项目总投资的测算依据" in text and ref in text
    token = re.search(r"/api/receipt\?t=([A-Za-z0-9_.%-]+)", text)
    assert token is not None
    from urllib.parse import unquote

    secret = __import__("bdpilot.settings", fromlist=["load"]).load().secret
    assert receipts.check(secret, unquote(token[1]), seeded.now()) == ref
    # returning again would tell the applicant twice: refused, no second mail
    refused(decide(hebei, ref, status="returned", reason="再退一次"), "same_status",
            status=wording.text("review.status.returned"))
    assert len(list(tmp_path.rglob("*.eml"))) == 1


@pytest.mark.parametrize("n", ["0", "2", "x"])
def test_versions_that_do_not_exist_are_not_found(seeded: Seeded, n: str) -> None:
    hebei = seeded.browser("unit", HEBEI)
    ref = seeded.refs[HEBEI][0]
    assert hebei.get(f"/staff/submissions/{ref}/versions/{n}")["statusCode"] == 404
    first = hebei.get(f"/staff/submissions/{ref}/versions/1")
    assert first["statusCode"] == 200 and seeded.names[ref] in first["body"]
