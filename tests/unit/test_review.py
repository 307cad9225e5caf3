"""The review rules (domain/review): what a decision may be, what the applicant is told, the 推荐汇总表."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from bdpilot.domain import campaign, review, wording
from bdpilot.domain.digests import canonical
from bdpilot.domain.review import Decision, ReviewRefused

ITEM = {"unit": "河北省", "reference": "BD2020-AAAA-BBBB-CCCC-DDDD", "status": "received", "direction": "3",
        "applicant": "甲公司", "uscc": "91130000MA0000000X", "project": "工业大数据平台", "digest": "d" * 64}


def refused(decision: Decision, item: dict | None = ITEM, quota: int = 10) -> ReviewRefused:
    with pytest.raises(ReviewRefused) as caught:
        review.check(decision, item, quota)
    return caught.value


def test_every_code_has_its_sentence() -> None:
    params = {"quota": 10, "field": "理由", "limit": 500, "length": 501, "status": "拟推荐", "deadline": "某时"}
    for code in review.CODES:
        message = ReviewRefused(code, **params).message
        assert message == wording.text(f"review.refused.{code}", **params) and "{" not in message
    assert "已被他人修改" in ReviewRefused("stale").message


def test_returned_and_rejected_need_a_reason_kept_trimmed() -> None:
    for status in ("returned", "rejected"):
        assert refused(Decision(status, reason="  \n ")).code == "reason_required"
        assert review.check(Decision(status, reason="  缺少附件 ", opinion="x", rank=2), ITEM, 10) == Decision(
            status, reason="缺少附件")


def test_proposed_needs_an_opinion_and_a_rank_within_the_quota() -> None:
    assert refused(Decision("proposed", opinion=" ", rank=1)).code == "opinion_required"
    for rank in (None, 0, 11, -1):
        error = refused(Decision("proposed", opinion="推荐", rank=rank))
        assert error.code == "rank_invalid" and "1至10" in error.message
    assert refused(Decision("proposed", opinion="推荐", rank=4), quota=3).code == "rank_invalid"
    assert review.check(Decision("proposed", reason="x", opinion=" 创新性强 ", rank=3), ITEM, 3) == Decision(
        "proposed", opinion="创新性强", rank=3)
    assert [review.parse_rank(v) for v in ("3", " 10 ", "", "x", "-1", "1.5", None, "9999")] == [
        3, 10, None, None, None, None, None, None]


def test_texts_are_at_most_the_limit_after_trimming() -> None:
    at_limit = "字" * review.MAX_TEXT
    assert review.check(Decision("rejected", reason=f"  {at_limit}  "), ITEM, 10).reason == at_limit
    error = refused(Decision("proposed", opinion=at_limit + "多", rank=1))
    assert error.code == "text_too_long" and "推荐意见" in error.message and str(review.MAX_TEXT) in error.message


def test_status_must_be_a_decision_and_must_change_something() -> None:
    for status in ("received", "approved", ""):
        assert refused(Decision(status, reason="x")).code == "status_invalid"
    proposed = {**ITEM, "status": "proposed", "opinion": "好", "rank": 2}
    error = refused(Decision("proposed", opinion=" 好", rank=2), proposed)
    assert error.code == "same_status" and "拟推荐" in error.message
    assert review.check(Decision("proposed", opinion="好", rank=1), proposed, 10).rank == 1  # a new rank is a change
    assert refused(Decision("returned", reason="另一个理由"), {**ITEM, "status": "returned", "reason": "r"}).code == \
        "same_status"
    assert refused(Decision("rejected", reason="x"), None).code == "not_found"


def test_the_quota_counter_moves_only_into_and_out_of_proposed() -> None:
    assert [review.quota_delta(b, a) for b, a in (("received", "proposed"), (None, "proposed"),
                                                   ("proposed", "rejected"), ("proposed", "proposed"),
                                                   ("returned", "rejected"))] == [1, 1, -1, 0, 0]


def test_deadlines_and_what_may_be_revised() -> None:
    deadline = datetime(2019, 12, 6, 17, 0, tzinfo=campaign.TZ)
    assert not review.past_deadline(datetime(2019, 12, 6, 16, 59, tzinfo=campaign.TZ), deadline)
    assert review.past_deadline(deadline, deadline)
    before, between = datetime(2019, 11, 20, tzinfo=campaign.TZ), datetime(2019, 11, 30, tzinfo=campaign.TZ)
    assert review.revisable("received", before, campaign.DEADLINE, deadline)
    assert not review.revisable("received", between, campaign.DEADLINE, deadline)
    assert review.revisable("returned", between, campaign.DEADLINE, deadline)
    assert not review.revisable("returned", deadline, campaign.DEADLINE, deadline)
    assert not review.revisable("proposed", before, campaign.DEADLINE, deadline)


def test_the_applicant_sees_results_only_when_published() -> None:
    hidden = [review.applicant_status(s, False) for s in (None, "received", "returned", "rejected", "proposed")]
    assert hidden == ["received", "received", "returned", "under_review", "under_review"]
    assert [review.applicant_status(s, True) for s in ("rejected", "proposed")] == ["rejected", "proposed"]
    assert {wording.text(f"review.applicant.{s}") for s in hidden} >= {"审核中"}
    assert [review.status_label(s) for s in (*review.STATUSES, None)] == ["待审核", "退回修改", "不予推荐", "拟推荐",
                                                                          "待审核"]


def test_history_entries_and_unreadable_history() -> None:
    entry = review.event("t", "li@example.cn", "decide", None, "proposed", Decision("proposed", opinion="好", rank=1),
                         version=None)
    assert entry == {"at": "t", "actor": "li@example.cn", "action": "decide", "from": "received", "to": "proposed",
                     "opinion": "好", "rank": 1}
    assert review.history_of({"history": json.dumps([entry])}) == [entry]
    assert review.history_of({"history": "not json"}) == [] and review.history_of(None) == []
    assert review.log_of({"log": '{"a": 1}'}) == []


def _proposed(n: int, ranks: list[int] | None = None) -> list[dict]:
    ranks = ranks or list(range(n, 0, -1))
    return [{**ITEM, "reference": f"BD2020-{i:016X}", "status": "proposed", "rank": ranks[i], "opinion": f"意见{i}",
             "applicant": f"公司{i}"} for i in range(n)]


def test_the_summary_is_ranked_and_its_digest_is_the_records_way() -> None:
    items = _proposed(3)
    records = {items[0]["reference"]: {"application": {
        "applicant": {"name": "记录中的公司", "uscc": "91130000MA00000001"}, "cover": {"direction": 6},
        "project": {"total_investment": "1200.50"}}}}
    summary = review.summary("河北省", [*items, {**ITEM, "status": "rejected"}], records)
    assert summary["unit"] == "河北省" and summary["quota"] == 10
    assert [r["rank"] for r in summary["rows"]] == [1, 2, 3]
    last = summary["rows"][-1]
    assert last["applicant"] == "记录中的公司" and last["uscc"] == "91130000MA00000001"
    assert last["total_investment"] == "1200.50" and last["direction"] == campaign.DIRECTIONS_BY_NUMBER[6].label
    assert summary["rows"][0]["applicant"] == "公司2" and summary["rows"][0]["total_investment"] == ""
    assert summary["rows"][0]["digest"] == "d" * 64 and summary["rows"][0]["opinion"] == "意见2"
    text = review.summary_json(summary)
    assert text.encode() == canonical(summary) and json.loads(text) == summary
    assert review.summary_digest(summary) == hashlib.sha256(text.encode()).hexdigest()


def test_a_submission_needs_proposed_items_with_distinct_ranks_within_the_quota() -> None:
    with pytest.raises(ReviewRefused) as none:
        review.check_submission([ITEM], 10)
    assert none.value.code == "nothing_to_submit"
    with pytest.raises(ReviewRefused) as twice:
        review.check_submission(_proposed(3, [1, 2, 2]), 10)
    assert twice.value.code == "ranks_not_unique"
    with pytest.raises(ReviewRefused) as over:
        review.check_submission(_proposed(4), 3)
    assert over.value.code == "rank_invalid"
    assert [i["rank"] for i in review.check_submission(_proposed(3), 3)] == [1, 2, 3]
