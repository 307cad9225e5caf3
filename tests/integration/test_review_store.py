"""Decisions and recommendations in the units table (store/review) under moto: every refusal changes nothing,
the quota counter follows the items, a submitted list is locked until MIIT reopens it, a unit reaches only its own
partition, and a revision moves an item back to received."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bdpilot.domain import campaign, review
from bdpilot.domain.review import Decision, ReviewRefused
from bdpilot.store.review import UNIT_ITEM, Reviews
from bdpilot.store.units import UnitIndex

T0 = datetime(2019, 11, 25, 9, 0, tzinfo=campaign.TZ)
HEBEI, SHANXI, CENTRAL = "河北省", "山西省", "中国电子科技集团有限公司"
ACTOR = "li@example.cn"


def ref(unit: str, i: int) -> str:
    return f"BD2020-{abs(hash(unit)) % 10000:04d}-{i:04d}"


def seed(units: UnitIndex, unit: str, n: int) -> list[str]:
    refs = [ref(unit, i) for i in range(n)]
    for i, r in enumerate(refs):
        assert units.add({"unit": unit, "reference": r, "received_at": (T0 + timedelta(minutes=i)).isoformat(),
                          "direction": str(1 + i % 7), "applicant": f"公司{i}", "uscc": f"X{i}", "project": f"项目{i}",
                          "status": "received", "digest": f"{i:064x}"})
    return refs


@pytest.fixture
def units(db) -> UnitIndex:
    return UnitIndex(db, "units")


@pytest.fixture
def reviews(db) -> Reviews:
    return Reviews(db, "units")


def everything(db) -> list[dict[str, Any]]:
    items = db.scan(TableName="units", ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: (i["unit"]["S"], i["reference"]["S"]))


def propose(reviews: Reviews, unit: str, reference: str, rank: int, quota: int = 10) -> dict[str, Any]:
    item = reviews.item(unit, reference)
    assert item is not None
    return reviews.decide(unit, reference, int(item.get("rev") or 0), Decision("proposed", opinion="推荐", rank=rank),
                          ACTOR, T0, quota)


def refusal(call: Any) -> str:
    with pytest.raises(ReviewRefused) as caught:
        call()
    return caught.value.code


def test_a_decision_is_stored_with_its_history_and_moves_the_counter(reviews, units):
    (first, second) = seed(units, HEBEI, 2)
    stored = reviews.decide(HEBEI, first, 0, Decision("proposed", opinion=" 创新 ", rank=1), ACTOR, T0, 10)
    again = reviews.item(HEBEI, first)
    assert again == stored and again["status"] == "proposed" and again["opinion"] == "创新" and again["rank"] == 1
    assert again["rev"] == 1 and again["decided_by"] == ACTOR and again["decided_at"].startswith("2019-11-25T09:00")
    assert reviews.state(HEBEI).proposed == 1
    moved = reviews.decide(HEBEI, first, 1, Decision("rejected", reason="材料不全"), "wang@example.cn",
                           T0 + timedelta(hours=1), 10)
    assert "opinion" not in moved and "rank" not in moved and reviews.item(HEBEI, first) == moved
    assert [(e["from"], e["to"], e["actor"]) for e in review.history_of(moved)] == [
        ("received", "proposed", ACTOR), ("proposed", "rejected", "wang@example.cn")]
    assert reviews.state(HEBEI).proposed == 0
    reviews.decide(HEBEI, second, 0, Decision("returned", reason="请补充附件"), ACTOR, T0, 10)
    tally = reviews.tally(HEBEI)
    assert (tally.received, tally.returned, tally.rejected, tally.proposed, tally.total, tally.reviewed) == (
        0, 1, 1, 0, 2, 2)


def test_a_stale_page_and_an_invalid_decision_change_nothing(db, reviews, units):
    (only,) = seed(units, HEBEI, 1)
    propose(reviews, HEBEI, only, 1)
    before = everything(db)
    assert refusal(lambda: reviews.decide(HEBEI, only, 0, Decision("rejected", reason="x"), ACTOR, T0, 10)) == "stale"
    assert refusal(lambda: reviews.decide(HEBEI, only, 1, Decision("rejected"), ACTOR, T0, 10)) == "reason_required"
    assert refusal(lambda: reviews.decide(HEBEI, only, 1, Decision("proposed", opinion="推荐", rank=1), ACTOR, T0,
                                          10)) == "same_status"
    late = T0 + timedelta(days=30)
    assert refusal(lambda: reviews.decide(HEBEI, only, 1, Decision("rejected", reason="x"), ACTOR, late, 10,
                                          deadline=campaign.RECOMMENDATION_DEADLINE)) == "past_deadline"
    assert everything(db) == before


def test_the_quota_is_full_until_an_item_moves_out(db, reviews, units):
    refs = seed(units, CENTRAL, 5)
    quota = campaign.quota_for(CENTRAL)
    for rank, r in enumerate(refs[:quota], 1):
        propose(reviews, CENTRAL, r, rank, quota)
    before = everything(db)
    with pytest.raises(ReviewRefused) as full:
        propose(reviews, CENTRAL, refs[quota], 1, quota)
    error = full.value
    assert error.code == "quota_full" and "限额" in error.message
    assert everything(db) == before
    reviews.decide(CENTRAL, refs[0], 1, Decision("returned", reason="请修改"), ACTOR, T0, quota)
    propose(reviews, CENTRAL, refs[quota], 1, quota)
    assert reviews.state(CENTRAL).proposed == quota == len(reviews.proposed(CENTRAL))


def test_another_units_reference_is_not_found_and_nothing_changes(db, reviews, units):
    (hebei,) = seed(units, HEBEI, 1)
    seed(units, SHANXI, 1)
    before = everything(db)
    assert reviews.item(SHANXI, hebei) is None
    assert refusal(lambda: reviews.decide(SHANXI, hebei, 0, Decision("proposed", opinion="推荐", rank=1), ACTOR, T0,
                                          10)) == "not_found"
    assert refusal(lambda: reviews.decide(SHANXI, UNIT_ITEM, 0, Decision("rejected", reason="x"), ACTOR, T0,
                                          10)) == "not_found"
    assert refusal(lambda: reviews.revised(SHANXI, hebei, 2, "e" * 64, T0)) == "not_found"
    item = reviews.item(HEBEI, hebei)
    assert refusal(lambda: reviews.submit(SHANXI, "{}", "x", [item], ACTOR, T0)) == "not_found"
    # Even with the item's rev in hand, a write keyed on the other unit finds nothing to update.
    forged = reviews.revised_update({**item, "unit": SHANXI}, 2, "e" * 64, T0)
    with pytest.raises(ClientError):
        db.transact_write_items(TransactItems=[forged])
    assert everything(db) == before


def _submit(reviews: Reviews, unit: str, at: datetime = T0) -> tuple[Any, dict[str, Any]]:
    items = reviews.proposed(unit)
    summary = review.summary(unit, items, {})
    return reviews.submit(unit, review.summary_json(summary), review.summary_digest(summary), items, ACTOR, at), summary


def test_submit_locks_the_list_with_its_summary_and_reopen_opens_it(db, reviews, units):
    refs = seed(units, HEBEI, 4)
    assert refusal(lambda: _submit(reviews, HEBEI)) == "nothing_to_submit"
    for rank, r in enumerate(refs[:3], 1):
        propose(reviews, HEBEI, r, rank)
    state, summary = _submit(reviews, HEBEI)
    assert state.submitted and state.proposed == 3 and state.submitted_by == ACTOR
    assert json.loads(state.summary) == summary and state.summary_digest == review.summary_digest(summary)
    assert [r["reference"] for r in summary["rows"]] == refs[:3]
    assert [e["action"] for e in state.log] == ["submit"] and state.log[0]["digest"] == state.summary_digest

    before = everything(db)
    assert refusal(lambda: propose(reviews, HEBEI, refs[3], 4)) == "list_submitted"
    assert refusal(lambda: reviews.decide(HEBEI, refs[0], 1, Decision("rejected", reason="x"), ACTOR, T0,
                                          10)) == "list_submitted"
    assert refusal(lambda: _submit(reviews, HEBEI)) == "list_submitted"
    assert refusal(lambda: reviews.reopen(HEBEI, "  ", "miit@example.cn", T0)) == "reason_required"
    assert everything(db) == before

    opened = reviews.reopen(HEBEI, "排序有误，请调整", "miit@example.cn", T0 + timedelta(hours=1))
    assert not opened.submitted and opened.summary == "" and opened.proposed == 3
    assert [(e["action"], e.get("reason")) for e in opened.log] == [("submit", None), ("reopen", "排序有误，请调整")]
    assert refusal(lambda: reviews.reopen(HEBEI, "再次", "miit@example.cn", T0)) == "not_submitted"
    propose(reviews, HEBEI, refs[3], 4)
    state, _ = _submit(reviews, HEBEI)
    assert state.submitted and [e["action"] for e in state.log] == ["submit", "reopen", "submit"]


def test_submit_refuses_a_list_that_changed_or_has_duplicate_ranks(db, reviews, units):
    refs = seed(units, HEBEI, 3)
    propose(reviews, HEBEI, refs[0], 1)
    propose(reviews, HEBEI, refs[1], 1)
    assert refusal(lambda: _submit(reviews, HEBEI)) == "ranks_not_unique"
    reviews.decide(HEBEI, refs[1], 1, Decision("proposed", opinion="推荐", rank=2), ACTOR, T0, 10)
    items = reviews.proposed(HEBEI)
    summary = review.summary(HEBEI, items, {})
    text, digest = review.summary_json(summary), review.summary_digest(summary)
    # Between reading the list and submitting it: an item's opinion changes, then one more is proposed.
    reviews.decide(HEBEI, refs[0], 1, Decision("proposed", opinion="修改后的意见", rank=1), ACTOR, T0, 10)
    before = everything(db)
    assert refusal(lambda: reviews.submit(HEBEI, text, digest, items, ACTOR, T0)) == "stale"
    fresh = reviews.proposed(HEBEI)
    propose(reviews, HEBEI, refs[2], 3)
    summary = review.summary(HEBEI, fresh, {})
    assert refusal(lambda: reviews.submit(HEBEI, review.summary_json(summary), review.summary_digest(summary), fresh,
                                          ACTOR, T0)) == "stale"  # the counter says 3, the list holds 2
    assert not reviews.state(HEBEI).submitted
    with pytest.raises(ValueError):  # a summary that is not its digest's is a programming error
        reviews.submit(HEBEI, review.summary_json(summary), "0" * 64, fresh, ACTOR, T0)
    assert len(everything(db)) == len(before)


def test_the_state_item_is_never_a_submission(db, reviews, units):
    refs = seed(units, HEBEI, 3)
    propose(reviews, HEBEI, refs[0], 1)
    assert reviews.state(HEBEI).proposed == 1 and len(everything(db)) == 4  # 3 + #UNIT
    assert units.count(HEBEI) == 3 and units.count(HEBEI, upto=10) == 3
    assert [i["reference"] for i in units.list(HEBEI)[0]] == refs[::-1]
    assert units.get(HEBEI, UNIT_ITEM) is None and reviews.item(HEBEI, UNIT_ITEM) is None
    assert reviews.tally(HEBEI).total == 3 and [i["reference"] for i in reviews.proposed(HEBEI)] == refs[:1]


def test_states_and_progress_of_every_unit(reviews, units):
    listed = [r.name for r in campaign.LISTED_RECOMMENDERS]  # more than one BatchGetItem holds
    seed(units, HEBEI, 3)
    seed(units, SHANXI, 2)
    propose(reviews, HEBEI, ref(HEBEI, 0), 1)
    states = reviews.states(listed)
    assert len(states) == len(listed) > 100
    assert states[HEBEI].proposed == 1 and states[SHANXI].proposed == 0 and not states[CENTRAL].submitted
    progress = reviews.progress([HEBEI, SHANXI])
    tally, state = progress[HEBEI]
    assert (tally.total, tally.proposed, state.proposed) == (3, 1, 1)
    assert tally.by_direction == {"1": 1} and progress[SHANXI][0].received == 2


def test_a_revision_moves_a_returned_item_back_to_received(db, reviews, units):
    refs = seed(units, HEBEI, 2)
    reviews.decide(HEBEI, refs[0], 0, Decision("returned", reason="请补充"), ACTOR, T0, 10)
    stored = reviews.revised(HEBEI, refs[0], 2, "e" * 64, T0 + timedelta(days=1))
    assert (stored["status"], stored["version"], stored["digest"], stored["rev"]) == ("received", 2, "e" * 64, 2)
    assert "reason" not in stored
    assert [(e["action"], e["to"], e.get("version")) for e in review.history_of(stored)] == [
        ("decide", "returned", None), ("revise", "received", 2)]
    assert refusal(lambda: reviews.revised(HEBEI, refs[0], 2, "f" * 64, T0)) == "stale"  # version 2 is stored
    # A stale read: the item changed after it was read, so the transaction item's condition fails.
    read = reviews.item(HEBEI, refs[1])
    reviews.revised(HEBEI, refs[1], 2, "a" * 64, T0)
    before = everything(db)
    with pytest.raises(ClientError):
        db.transact_write_items(TransactItems=[reviews.revised_update(read, 2, "b" * 64, T0)])
    assert everything(db) == before
    propose(reviews, HEBEI, refs[1], 1)
    assert refusal(lambda: reviews.revised(HEBEI, refs[1], 3, "c" * 64, T0)) == "not_revisable"
    assert refusal(lambda: reviews.revised(HEBEI, "BD2020-NONE", 2, "c" * 64, T0)) == "not_found"
