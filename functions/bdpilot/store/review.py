"""Decisions on submissions and a unit's recommendation, in the units table (see domain/review for the rules).

Each submission's item (unit, reference) carries status, reason / opinion / rank, decided_at/by, a JSON history
and `rev` (absent = 0), bumped by every change: a write names the rev it read (optimistic concurrency). Beside
them, one sparse item per unit, (unit, "#UNIT"): `proposed` (the quota counter), `submitted` (0/1), the
submitted 推荐汇总表 (`summary`, `summary_digest`) and a JSON `log` of submit / reopen. It has no received_at,
so the console's LSI never lists it, and "#UNIT" sorts before every reference: reads of submissions key on
reference > "#UNIT".

The quota is a guarantee: a decision is ONE TransactWriteItems of the item's update (condition: the rev read)
and the #UNIT counter's (condition: not submitted and, when it adds one, proposed < quota), so no interleaving
of concurrent staff can hold more 拟推荐 than the quota, and the counter always equals the items proposed.

Cost: decide = one consistent GetItem + one transaction of 2 items; submit = one GetItem + one transaction of
1 + (items proposed) items. The reads (state, states, tally, proposed, progress) are in store/reviewreads.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bdpilot.domain import campaign, formats, review
from bdpilot.domain.digests import digest as sha256_hex
from bdpilot.domain.review import Decision, ReviewRefused
from bdpilot.store.errors import is_code, unavailable
from bdpilot.store.layout import unmarshal
from bdpilot.store.reviewreads import UNIT_ITEM, ReviewReads, Tally, UnitState, key

__all__ = ["UNIT_ITEM", "Reviews", "Tally", "UnitState", "stamp"]

CONFLICT_RETRIES = 3  # a transaction cancelled only by another one in flight on the same item is tried again


def stamp(at: datetime) -> str:
    """A time as the units table stores it (like received_at): Beijing time, ISO, milliseconds."""
    return at.astimezone(campaign.TZ).isoformat(timespec="milliseconds")


def rev_of(item: dict[str, Any]) -> int:
    return int(item.get("rev") or 0)


def _rev_condition(expected: int) -> str:
    return "(attribute_not_exists(#rev) OR #rev = :expected)" if expected == 0 else "#rev = :expected"


def _open_condition() -> str:
    return "(attribute_not_exists(#sub) OR #sub = :zero)"


def _reasons(exc: ClientError) -> list[str]:
    """The per-item cancellation reasons of a cancelled transaction ([] for any other failure)."""
    if not is_code(exc, "TransactionCanceledException"):
        return []
    reasons = [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons", [])]
    if not reasons:  # some endpoints only put them in the message
        message = exc.response.get("Error", {}).get("Message", "")
        reasons = [r.strip() for r in message[message.find("[") + 1:message.rfind("]")].split(",")]
    return reasons


class Reviews(ReviewReads):
    """Decisions, the unit's recommendation and revisions (reads: ReviewReads)."""

    # --- a decision -----------------------------------------------------------------------------------------

    def decide(self, unit: str, reference: str, expected_rev: int, decision: Decision, actor: str, at: datetime,
               quota: int, *, deadline: datetime | None = None) -> dict[str, Any]:
        """Record a decision on the unit's submission; the item as stored. ReviewRefused (nothing changed) when
        the deadline has passed, there is no such item in this unit, the page's rev is not the item's, the
        decision is invalid (domain.review.check), the list is submitted, or the quota is full."""
        if deadline is not None and review.past_deadline(at, deadline):
            raise ReviewRefused("past_deadline", deadline=formats.beijing_time(deadline, seconds=False))
        item = self.item(unit, reference)
        if item is not None and rev_of(item) != expected_rev:
            raise ReviewRefused("stale")
        cleaned = review.check(decision, item, quota)
        assert item is not None  # check refuses a missing item
        before = str(item.get("status") or review.RECEIVED)
        when = stamp(at)
        history = [*review.history_of(item), review.event(when, actor, "decide", before, cleaned.status, cleaned,
                                                          version=item.get("version"))]
        values: dict[str, Any] = {"status": cleaned.status, "decided_at": when, "decided_by": actor,
                                  "history": json.dumps(history, ensure_ascii=False), "rev": expected_rev + 1}
        kept = {"reason": cleaned.reason, "opinion": cleaned.opinion, "rank": cleaned.rank}
        values |= {k: v for k, v in kept.items() if v}
        names = {f"#{k}": k for k in [*values, *kept]} | {"#r": "reference"}
        update = "SET " + ", ".join(f"#{k} = :{k}" for k in values)
        removed = [k for k, v in kept.items() if not v]
        if removed:
            update += " REMOVE " + ", ".join(f"#{k}" for k in removed)
        item_update = {"Update": {
            "TableName": self.table, "Key": key(unit, reference), "UpdateExpression": update,
            "ConditionExpression": f"attribute_exists(#r) AND {_rev_condition(expected_rev)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":{k}": _attr(v) for k, v in values.items()}
            | {":expected": {"N": str(expected_rev)}}}}
        self._transact([item_update, self._counter(unit, review.quota_delta(before, cleaned.status), quota)],
                       lambda failed: self._decide_refusal(unit, failed))
        return {**{k: v for k, v in item.items() if k not in removed}, **values}

    def _counter(self, unit: str, delta: int, quota: int) -> dict[str, Any]:
        """The #UNIT side of a decision: the list must be open; the counter moves by delta, never past quota."""
        names = {"#sub": "submitted"}
        values: dict[str, Any] = {":zero": {"N": "0"}}
        if delta == 0:
            return {"ConditionCheck": {"TableName": self.table, "Key": key(unit, UNIT_ITEM),
                                       "ConditionExpression": _open_condition(), "ExpressionAttributeNames": names,
                                       "ExpressionAttributeValues": values}}
        condition = _open_condition()
        if delta > 0:
            condition += " AND (attribute_not_exists(#p) OR #p < :quota)"
            values[":quota"] = {"N": str(quota)}
        return {"Update": {"TableName": self.table, "Key": key(unit, UNIT_ITEM), "UpdateExpression": "ADD #p :d",
                           "ConditionExpression": condition, "ExpressionAttributeNames": names | {"#p": "proposed"},
                           "ExpressionAttributeValues": values | {":d": {"N": str(delta)}}}}

    def _decide_refusal(self, unit: str, failed: list[int]) -> ReviewRefused:
        if 0 in failed:
            return ReviewRefused("stale")
        return ReviewRefused("list_submitted" if self.state(unit).submitted else "quota_full")

    def _transact(self, items: list[dict[str, Any]], refusal: Any) -> None:
        """Run a transaction; a lost condition becomes `refusal(indexes of the failed items)`."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                self.dynamodb.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                reasons = _reasons(exc)
                failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
                if failed:
                    raise refusal(failed) from exc
                if "TransactionConflict" in reasons and attempt + 1 < CONFLICT_RETRIES:
                    continue
                raise unavailable(exc) from exc
            except BotoCoreError as exc:
                raise unavailable(exc) from exc

    # --- the unit's recommendation --------------------------------------------------------------------------

    def submit(self, unit: str, summary_json: str, digest: str, items: list[dict[str, Any]], actor: str,
               at: datetime, *, deadline: datetime | None = None) -> UnitState:
        """提交推荐: lock the unit's list with its 推荐汇总表, in one transaction that also checks each proposed
        item is still proposed at the rev read and that the counter equals their number."""
        if deadline is not None and review.past_deadline(at, deadline):
            raise ReviewRefused("past_deadline", deadline=formats.beijing_time(deadline, seconds=False))
        if any(i.get("unit") != unit for i in items):
            raise ReviewRefused("not_found")
        ranked = review.check_submission(items, campaign.quota_for(unit))
        rows = json.loads(summary_json).get("rows", [])
        if sha256_hex(summary_json.encode()) != digest or [r.get("reference") for r in rows] != [
                i["reference"] for i in ranked]:
            raise ValueError("the summary is not the digest's, or not of these items")
        current = self._state_item(unit)
        if UnitState.of(unit, current).submitted:
            raise ReviewRefused("list_submitted")
        when = stamp(at)
        log = json.dumps([*review.log_of(current), {"at": when, "actor": actor, "action": "submit",
                                                     "digest": digest}], ensure_ascii=False)
        values = {":one": {"N": "1"}, ":zero": {"N": "0"}, ":n": {"N": str(len(ranked))}, ":at": {"S": when},
                  ":by": {"S": actor}, ":sum": {"S": summary_json}, ":dig": {"S": digest}, ":log": {"S": log}}
        names = {"#sub": "submitted", "#p": "proposed", "#at": "submitted_at", "#by": "submitted_by",
                 "#sum": "summary", "#dig": "summary_digest", "#log": "log"}
        log_condition = _same_log(current, values)
        lock = {"Update": {
            "TableName": self.table, "Key": key(unit, UNIT_ITEM),
            "UpdateExpression": "SET #sub = :one, #at = :at, #by = :by, #sum = :sum, #dig = :dig, #log = :log",
            "ConditionExpression": f"{_open_condition()} AND #p = :n AND {log_condition}",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}
        checks = [{"ConditionCheck": {
            "TableName": self.table, "Key": key(unit, str(i["reference"])),
            "ConditionExpression": f"{_rev_condition(rev_of(i))} AND #s = :p",
            "ExpressionAttributeNames": {"#rev": "rev", "#s": "status"},
            "ExpressionAttributeValues": {":expected": {"N": str(rev_of(i))}, ":p": {"S": review.PROPOSED}}}}
            for i in ranked]
        self._transact([lock, *checks], lambda failed: ReviewRefused(
            "list_submitted" if self.state(unit).submitted else "stale"))
        return self.state(unit)

    def reopen(self, unit: str, reason: str, actor: str, at: datetime) -> UnitState:
        """MIIT reopens a submitted list (with a reason, kept in the log); the summary is dropped, its digest
        stays in the log's submit entry."""
        reason = review.check_text(reason, "reason")
        current = self._state_item(unit)
        if not UnitState.of(unit, current).submitted:
            raise ReviewRefused("not_submitted")
        log = json.dumps([*review.log_of(current), {"at": stamp(at), "actor": actor, "action": "reopen",
                                                     "reason": reason}], ensure_ascii=False)
        values = {":one": {"N": "1"}, ":zero": {"N": "0"}, ":log": {"S": log}}
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=key(unit, UNIT_ITEM),
                UpdateExpression="SET #sub = :zero, #log = :log REMOVE #sum, #dig, #at, #by",
                ConditionExpression=f"#sub = :one AND {_same_log(current, values)}",
                ExpressionAttributeNames={"#sub": "submitted", "#log": "log", "#sum": "summary",
                                          "#dig": "summary_digest", "#at": "submitted_at", "#by": "submitted_by"},
                ExpressionAttributeValues=values)
        except ClientError as exc:
            if is_code(exc, "ConditionalCheckFailedException"):
                raise ReviewRefused("stale" if self.state(unit).submitted else "not_submitted") from exc
            raise unavailable(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc
        return self.state(unit)

    # --- a revision (helper D's commit) ---------------------------------------------------------------------

    def revised_update(self, item: dict[str, Any], version: int, digest: str, at: datetime,
                       actor: str = "applicant") -> dict[str, Any]:
        """The TransactItem that records version `version` (digest) of a submission on its units item, as read
        (`item`): status back to received (from received or returned), rev + 1, a "revise" history entry.
        Conditions: the rev read, the previous version, a revisable status. ReviewRefused when not revisable."""
        before = str(item.get("status") or review.RECEIVED)
        if before not in review.REVISABLE:
            raise ReviewRefused("not_revisable")
        if version != int(item.get("version") or 1) + 1:
            raise ReviewRefused("stale")
        rev = rev_of(item)
        history = [*review.history_of(item), review.event(stamp(at), actor, "revise", before, review.RECEIVED,
                                                          version=version)]
        previous = "(attribute_not_exists(#v) OR #v = :prev)" if version == 2 else "#v = :prev"
        return {"Update": {
            "TableName": self.table, "Key": key(str(item["unit"]), str(item["reference"])),
            "UpdateExpression": "SET #s = :received, #v = :v, #dig = :dig, #rev = :rev, #h = :h REMOVE #reason",
            "ConditionExpression": (f"attribute_exists(#r) AND {_rev_condition(rev)} AND {previous} "
                                    "AND (attribute_not_exists(#s) OR #s IN (:received, :returned))"),
            "ExpressionAttributeNames": {"#s": "status", "#v": "version", "#dig": "digest", "#rev": "rev",
                                         "#h": "history", "#reason": "reason", "#r": "reference"},
            "ExpressionAttributeValues": {
                ":received": {"S": review.RECEIVED}, ":returned": {"S": review.RETURNED},
                ":v": {"N": str(version)}, ":prev": {"N": str(version - 1)}, ":dig": {"S": digest},
                ":rev": {"N": str(rev + 1)}, ":expected": {"N": str(rev)},
                ":h": {"S": json.dumps(history, ensure_ascii=False)}}}}

    def revised(self, unit: str, reference: str, version: int, digest: str, at: datetime,
                actor: str = "applicant") -> dict[str, Any]:
        """revised_update on its own; the item as stored."""
        item = self.item(unit, reference)
        if item is None:
            raise ReviewRefused("not_found")
        update = self.revised_update(item, version, digest, at, actor)["Update"]
        try:
            got = self.dynamodb.update_item(**update, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if is_code(exc, "ConditionalCheckFailedException"):
                raise ReviewRefused("stale") from exc
            raise unavailable(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc
        return unmarshal(got["Attributes"])


def _same_log(current: dict[str, Any] | None, values: dict[str, Any]) -> str:
    """A condition that the #UNIT log is still the one read (so an append never loses another's entry)."""
    old = (current or {}).get("log")
    if not old:
        return "attribute_not_exists(#log)"
    values[":oldlog"] = {"S": str(old)}
    return "#log = :oldlog"


def _attr(value: Any) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
