"""The review state read back from the units table: a unit's #UNIT item (UnitState), its submissions by status
(Tally), its 拟推荐 list, and MIIT's progress of every unit. The writes are in store/review (Reviews).

Cost: item / state = one consistent GetItem; states = one BatchGetItem per 100 units (eventually consistent);
tally / proposed = one Query of the unit's partition (every submission read once, the #UNIT item not: it sorts
before every reference); progress = states + one tally per unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bdpilot.domain import review
from bdpilot.store.errors import mapped
from bdpilot.store.layout import unmarshal
from bdpilot.store.units import STATE_ITEM

UNIT_ITEM = STATE_ITEM  # "#UNIT": sorts before every reference, so "reference > #UNIT" is the submissions


def key(unit: str, reference: str) -> dict[str, Any]:
    return {"unit": {"S": unit}, "reference": {"S": reference}}


@dataclass(frozen=True)
class UnitState:
    unit: str
    proposed: int = 0
    submitted: bool = False
    submitted_at: str = ""
    submitted_by: str = ""
    summary: str = ""  # the canonical JSON of the submitted 推荐汇总表
    summary_digest: str = ""
    log: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, unit: str, item: dict[str, Any] | None) -> UnitState:
        item = item or {}
        return cls(unit, int(item.get("proposed") or 0), bool(item.get("submitted")),
                   str(item.get("submitted_at") or ""), str(item.get("submitted_by") or ""),
                   str(item.get("summary") or ""), str(item.get("summary_digest") or ""), review.log_of(item))


@dataclass
class Tally:
    received: int = 0
    returned: int = 0
    rejected: int = 0
    proposed: int = 0
    total: int = 0
    by_direction: dict[str, int] = field(default_factory=dict)  # of the proposed

    @property
    def reviewed(self) -> int:
        return self.total - self.received


class ReviewReads:
    def __init__(self, client: Any, units_table: str) -> None:
        self.dynamodb = client
        self.table = units_table

    # --- reads ----------------------------------------------------------------------------------------------

    def item(self, unit: str, reference: str) -> dict[str, Any] | None:
        """The unit's item for a reference, read consistently (what a decision is checked against); None for an
        unknown reference and for another unit's alike (the key holds the unit)."""
        if reference.startswith(UNIT_ITEM):
            return None
        with mapped():
            got = self.dynamodb.get_item(TableName=self.table, Key=key(unit, reference), ConsistentRead=True)
        return unmarshal(got["Item"]) if "Item" in got else None

    def _state_item(self, unit: str) -> dict[str, Any] | None:
        with mapped():
            got = self.dynamodb.get_item(TableName=self.table, Key=key(unit, UNIT_ITEM), ConsistentRead=True)
        return unmarshal(got["Item"]) if "Item" in got else None

    def state(self, unit: str) -> UnitState:
        return UnitState.of(unit, self._state_item(unit))

    def states(self, units: list[str]) -> dict[str, UnitState]:
        """Every unit's state: one BatchGetItem per 100 units (a unit never acted on has the empty state)."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(units))
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {self.table: {"Keys": [key(u, UNIT_ITEM) for u in wanted[start:start + 100]]}}
            while request:
                with mapped():
                    page = self.dynamodb.batch_get_item(RequestItems=request)
                for raw in page.get("Responses", {}).get(self.table, []):
                    item = unmarshal(raw)
                    found[str(item["unit"])] = item
                request = page.get("UnprocessedKeys") or {}
        return {u: UnitState.of(u, found.get(u)) for u in wanted}

    def _query(self, unit: str, **extra: Any) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "#u = :u AND #r > :state",
            "ExpressionAttributeNames": {"#u": "unit", "#r": "reference"},
            "ExpressionAttributeValues": {":u": {"S": unit}, ":state": {"S": UNIT_ITEM}}}
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kwargs[name] |= extra.pop(name, {})
        kwargs |= extra
        items: list[dict[str, Any]] = []
        while True:
            with mapped():
                page = self.dynamodb.query(**kwargs)
            items += [unmarshal(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def tally(self, unit: str) -> Tally:
        """The unit's submissions by status, and its 拟推荐 by direction (only status and direction returned)."""
        counts = Tally()
        for item in self._query(unit, ProjectionExpression="#s, #d",
                                ExpressionAttributeNames={"#s": "status", "#d": "direction"}):
            status = str(item.get("status") or review.RECEIVED)
            if status in review.STATUSES:
                setattr(counts, status, getattr(counts, status) + 1)
            counts.total += 1
            if status == review.PROPOSED:
                direction = str(item.get("direction") or "")
                counts.by_direction[direction] = counts.by_direction.get(direction, 0) + 1
        return counts

    def progress(self, units: list[str]) -> dict[str, tuple[Tally, UnitState]]:
        """MIIT's dashboard: each unit's tally and state."""
        states = self.states(units)
        return {u: (self.tally(u), states[u]) for u in states}

    def proposed(self, unit: str) -> list[dict[str, Any]]:
        """The unit's 拟推荐 items, by rank (then reference)."""
        items = self._query(unit, FilterExpression="#s = :p", ExpressionAttributeNames={"#s": "status"},
                            ExpressionAttributeValues={":p": {"S": review.PROPOSED}})
        return sorted(items, key=lambda i: (int(i.get("rank") or 0), str(i["reference"])))
