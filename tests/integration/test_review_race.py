"""The quota is a guarantee: 50 concurrent "推荐" actions over 20 applicants of one unit end with exactly the
quota proposed, and the #UNIT counter always equals the items proposed.

moto answers one request at a time, so the races are staged: each action is split into its two halves, the
staff page's read (the item and its rev) and the decision's write, and a schedule interleaves the halves of all
50 — every read before any write, or a seeded random order. The write's own pre-checks see the page's (stale)
item, exactly as a concurrent request would, so only the transaction's conditions stand between the actions and
the quota. Then the same with real threads (moto's transaction made atomic, as DynamoDB's is)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto.dynamodb.models import DynamoDBBackend

from bdpilot.domain import campaign
from bdpilot.domain.review import Decision, ReviewRefused
from bdpilot.store.review import Reviews
from bdpilot.store.units import UnitIndex
from tests.integration.test_review_store import T0, everything, seed

ACTIONS, APPLICANTS = 50, 20
PROVINCE, CENTRAL = "河北省", "中国电子科技集团有限公司"


class Page(Reviews):
    """A decision posted from a page read earlier: its pre-checks see the item as the page showed it."""

    def __init__(self, client: Any, table: str, seen: dict[str, Any] | None) -> None:
        super().__init__(client, table)
        self.seen = seen

    def item(self, unit: str, reference: str) -> dict[str, Any] | None:
        return self.seen


def actions(refs: list[str], quota: int, rng: random.Random) -> list[tuple[str, Decision]]:
    """50 "推荐" actions: every applicant at least twice, ranks within the quota."""
    return [(refs[k % len(refs)], Decision("proposed", opinion=f"推荐意见{k}", rank=1 + rng.randrange(quota)))
            for k in rng.sample(range(ACTIONS), ACTIONS)]


def action(db: Any, unit: str, reference: str, decision: Decision, quota: int,
           outcomes: Counter[str]) -> Iterator[None]:
    """One staff action in two halves: the page's read, then (after the schedule's other steps) the post."""
    seen = Reviews(db, "units").item(unit, reference)
    yield
    try:
        Page(db, "units", seen).decide(unit, reference, int((seen or {}).get("rev") or 0), decision, "staff", T0,
                                       quota)
        outcomes["proposed"] += 1
    except ReviewRefused as refused:
        outcomes[refused.code] += 1


def interleave(steps: list[Iterator[None]], rng: random.Random) -> None:
    """Run the steps' halves in a random order (each action's read still before its own write)."""
    done = object()
    live = list(steps)
    while live:
        step = live[rng.randrange(len(live))]
        if next(step, done) is done:
            live.remove(step)


def proposed_items(db: Any, unit: str) -> list[dict[str, Any]]:
    return [i for i in everything(db) if i["unit"]["S"] == unit and i.get("status", {}).get("S") == "proposed"]


def check_guarantee(db: Any, unit: str, quota: int, outcomes: Counter[str]) -> None:
    state = Reviews(db, "units").state(unit)
    assert len(proposed_items(db, unit)) == quota == state.proposed, outcomes
    assert sum(outcomes.values()) == ACTIONS
    assert set(outcomes) <= {"proposed", "stale", "quota_full"}, outcomes


@pytest.mark.parametrize("unit", [PROVINCE, CENTRAL])
@pytest.mark.parametrize(("schedule", "seed_value"), [("reads_first", 1), ("reads_first", 2), ("random", 3),
                                                      ("random", 4), ("random", 5)])
def test_fifty_concurrent_recommendations_leave_exactly_the_quota(db, unit, schedule, seed_value):
    quota = campaign.quota_for(unit)
    refs = seed(UnitIndex(db, "units"), unit, APPLICANTS)
    rng = random.Random(seed_value)
    outcomes: Counter[str] = Counter()
    steps = [action(db, unit, r, d, quota, outcomes) for r, d in actions(refs, quota, rng)]
    if schedule == "random":
        interleave(steps, rng)
    else:  # every page read before any post, the posts in a shuffled order
        for step in steps:
            next(step)
        rng.shuffle(steps)
        for step in steps:
            next(step, None)
    check_guarantee(db, unit, quota, outcomes)
    if schedule == "reads_first":  # all from one view: exactly `quota` posts won, each on its own applicant
        assert outcomes["proposed"] == quota
    else:  # a later read may see the applicant proposed already: a new rank or opinion is a change, not a place
        assert outcomes["proposed"] >= quota


def test_moves_out_of_proposed_racing_moves_in_keep_the_counter_exact(db):
    quota = campaign.quota_for(PROVINCE)
    refs = seed(UnitIndex(db, "units"), PROVINCE, APPLICANTS)
    reviews = Reviews(db, "units")
    for rank, r in enumerate(refs[:quota], 1):
        reviews.decide(PROVINCE, r, 0, Decision("proposed", opinion="推荐", rank=rank), "staff", T0, quota)
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()
    plan = [(r, Decision("rejected", reason="名额调整")) for r in refs[:quota]] * 2
    plan += [(r, Decision("proposed", opinion="替补", rank=1 + rng.randrange(quota))) for r in refs[quota:]] * 3
    rng.shuffle(plan)
    interleave([action(db, PROVINCE, r, d, quota, outcomes) for r, d in plan], rng)
    proposed = proposed_items(db, PROVINCE)
    assert reviews.state(PROVINCE).proposed == len(proposed) <= quota
    # A page that saw the item rejected already may post the same rejection: nothing to change.
    assert set(outcomes) <= {"proposed", "stale", "quota_full", "same_status"}, outcomes
    assert any(i["reference"]["S"] in refs[quota:] for i in proposed)  # places freed were taken


def test_real_threads_leave_exactly_the_quota(db, monkeypatch):
    # DynamoDB runs a transaction atomically; moto's backend checks then writes with no lock, so one is added.
    atomic = threading.Lock()
    real = DynamoDBBackend.transact_write_items

    def serialised(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with atomic:
            real(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", serialised)
    quota = campaign.quota_for(PROVINCE)
    refs = seed(UnitIndex(db, "units"), PROVINCE, APPLICANTS)
    plan = actions(refs, quota, random.Random(11))
    start = threading.Barrier(ACTIONS)
    outcomes: Counter[str] = Counter()
    counted = threading.Lock()

    def post(reference: str, decision: Decision) -> None:
        client = boto3.client("dynamodb")
        seen = Reviews(client, "units").item(PROVINCE, reference)
        start.wait(timeout=60)  # every page read before any post
        try:
            Page(client, "units", seen).decide(PROVINCE, reference, int((seen or {}).get("rev") or 0), decision,
                                               "staff", T0, quota)
            code = "proposed"
        except ReviewRefused as refused:
            code = refused.code
        with counted:
            outcomes[code] += 1

    with ThreadPoolExecutor(max_workers=ACTIONS) as pool:
        for future in [pool.submit(post, r, d) for r, d in plan]:
            future.result()
    check_guarantee(db, PROVINCE, quota, outcomes)
    assert outcomes["proposed"] == quota
