"""A 推荐单位's submissions, read from the units table: the console's list, detail key, count and search.

Every read is a key condition on the caller's own `unit` (the partition key), never a scan with a filter, so
another unit's submission cannot be named, listed or counted from here: `get` with another unit's reference is
simply absent. The caller's unit comes from the verified session, never from the request.

Cost (DynamoDB reads, eventually consistent, ≈ 0.5 KB per item):
  list     one Query of `limit` items on the LSI by-time: items read = items shown, whatever other units hold.
  count    Select=COUNT over the unit's partition: reads every item of that unit once (no items returned);
           with `upto`, one Query of Limit `upto`: items read ≤ upto (the console's quota check).
  search   a Query of the unit's partition with a filter, at most `SEARCH_PAGES` pages of `SEARCH_PAGE` items per
           call: items read ≤ SEARCH_PAGES × SEARCH_PAGE (≈ 250 KB, ≈ 31 read units) whatever it finds; a unit
           with more submissions is searched on by the returned cursor. Never touches another unit's partition.
  current  index items (MIIT's views, exports, `bdpilot admin`) with their review status: one BatchGetItem of
           the status alone per 100 items.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from bdpilot.domain import rules
from bdpilot.store.errors import mapped, written
from bdpilot.store.layout import UNITS_BY_TIME, count_all, marshal, unmarshal

PAGE = 50
STATE_ITEM = "#UNIT"  # the unit's review state (store/review), beside its submissions: never one of them
MAX_PAGE = 200
SEARCH_PAGE = 250
SEARCH_PAGES = 2
# The units table's keys, and the LSI's: a cursor holds exactly these.
_CURSOR_KEYS = frozenset({"unit", "reference", "received_at"})
Items = list[dict[str, Any]]  # named here: inside UnitIndex, `list` is the method
Keys = list[tuple[str, str]]


class UnitIndex:
    def __init__(self, client: Any, table: str) -> None:
        self.dynamodb = client
        self.table = table

    def list(self, unit: str, cursor: str | None = None, limit: int = PAGE) -> tuple[Items, str | None]:
        """One page of the unit's submissions, newest first, and the cursor of the next page (None at the end).
        A cursor that is not one this unit was given (forged, mangled, another unit's) starts from the top."""
        kwargs = self._query(unit, cursor, limit) | {"ScanIndexForward": False}
        with mapped():
            page = self.dynamodb.query(**kwargs)
        return [unmarshal(i) for i in page.get("Items", [])], encode_cursor(page.get("LastEvaluatedKey"))

    def get(self, unit: str, reference: str) -> dict[str, Any] | None:
        """The unit's item for a reference; None for an unknown reference and for another unit's alike."""
        if reference == STATE_ITEM:
            return None
        with mapped():
            got = self.dynamodb.get_item(TableName=self.table,
                                         Key={"unit": {"S": unit}, "reference": {"S": reference}})
        return unmarshal(got["Item"]) if "Item" in got else None

    def add(self, item: dict[str, str]) -> bool:
        """Write a unit item unless one is stored under its key (the migration; the console's role cannot):
        True when written, False when it was there already."""
        return written(lambda: self.dynamodb.put_item(TableName=self.table, Item=marshal(item),
                                                      ConditionExpression="attribute_not_exists(#r)",
                                                      ExpressionAttributeNames={"#r": "reference"}))

    def statuses(self, keys: Keys) -> dict[str, str]:
        """The review status of each (unit, reference), by reference: one BatchGetItem of the status alone per 100
        keys (MIIT's list across units shows a page of the submissions index, whose own status never changes)."""
        found: dict[str, str] = {}
        wanted: Keys = [*dict.fromkeys(keys)]
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {self.table: {
                "Keys": [{"unit": {"S": u}, "reference": {"S": r}} for u, r in wanted[start:start + 100]],
                "ProjectionExpression": "#r, #s", "ExpressionAttributeNames": {"#r": "reference", "#s": "status"}}}
            while request:
                with mapped():
                    page = self.dynamodb.batch_get_item(RequestItems=request)
                for raw in page.get("Responses", {}).get(self.table, []):
                    item = unmarshal(raw)
                    found[str(item["reference"])] = str(item.get("status") or "")
                request = page.get("UnprocessedKeys") or {}
        return found

    def current(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Index items with the review status their units' items hold, 100 at a time: the submissions index
        keeps the status it was stored with (received) and the review writes only the units table."""
        rows = iter(items)
        while chunk := list(islice(rows, 100)):
            found = self.statuses([(rules.unit_of(str(i.get("recommender") or "")), str(i.get("reference") or ""))
                                   for i in chunk])
            for item in chunk:
                yield {**item, "status": found.get(str(item.get("reference") or ""), item.get("status"))}

    def count(self, unit: str, upto: int | None = None) -> int:
        """How many submissions name this unit (Select=COUNT, page by page: 1 MB of items per page); with `upto`,
        at most that many (one Query of Limit `upto`, so a large unit costs no more than a small one)."""
        # Submissions only: the unit's state item (reference "#UNIT", store/review) sorts before every one.
        kwargs: dict[str, Any] = {"TableName": self.table, "Select": "COUNT",
                                  "KeyConditionExpression": "#u = :u AND #r > :state",
                                  "ExpressionAttributeNames": {"#u": "unit", "#r": "reference"},
                                  "ExpressionAttributeValues": {":u": {"S": unit}, ":state": {"S": STATE_ITEM}}}
        if upto is not None:
            kwargs["Limit"] = max(1, upto)
            with mapped():
                return int(self.dynamodb.query(**kwargs).get("Count", 0))
        return count_all(self.dynamodb, kwargs)

    def search(self, unit: str, text: str, cursor: str | None = None,
               limit: int = PAGE) -> tuple[Items, str | None]:
        """The unit's submissions whose applicant name contains `text` or whose USCC starts with it (upper case),
        newest first: at most `limit` found within at most SEARCH_PAGES pages read, and the cursor to search on
        (None when the partition is exhausted). A page may hold fewer than `limit` with a cursor still given."""
        text = text.strip()
        if not text:
            return self.list(unit, cursor, limit)
        kwargs = self._query(unit, cursor, SEARCH_PAGE) | {
            "ScanIndexForward": False,
            "FilterExpression": "contains(#a, :t) OR begins_with(#c, :c)",
        }
        kwargs["ExpressionAttributeNames"] |= {"#a": "applicant", "#c": "uscc"}
        kwargs["ExpressionAttributeValues"] |= {":t": {"S": text}, ":c": {"S": text.upper()}}
        found: Items = []
        for _ in range(SEARCH_PAGES):
            # Never more than `limit` found: the page after the last one kept must start right behind it.
            kwargs["Limit"] = SEARCH_PAGE
            with mapped():
                page = self.dynamodb.query(**kwargs)
            items = page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if len(found) + len(items) >= limit and (len(found) + len(items) > limit or last):
                kept = items[:limit - len(found)]
                found += [unmarshal(i) for i in kept]
                return found, encode_cursor({k: kept[-1][k] for k in _CURSOR_KEYS})
            found += [unmarshal(i) for i in items]
            if last is None:
                return found, None
            kwargs["ExclusiveStartKey"] = last
        return found, encode_cursor(kwargs["ExclusiveStartKey"])

    def _query(self, unit: str, cursor: str | None, limit: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": UNITS_BY_TIME, "KeyConditionExpression": "#u = :u",
            "ExpressionAttributeNames": {"#u": "unit"}, "ExpressionAttributeValues": {":u": {"S": unit}},
            "Limit": max(1, min(limit, MAX_PAGE)),
        }
        start = decode_cursor(cursor, unit)
        if start:
            kwargs["ExclusiveStartKey"] = start
        return kwargs


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    """An opaque cursor for a LastEvaluatedKey (URL-safe base64 of its JSON)."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, unit: str) -> dict[str, Any] | None:
    """The start key a cursor holds, only if it is a key of this unit's partition; None otherwise."""
    if not cursor or len(cursor) > 2048:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(key, dict) or set(key) != _CURSOR_KEYS:
        return None
    if not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values()):
        return None
    return key if key["unit"]["S"] == unit else None


def stack_units_table(session: Any, stack_name: str, endpoint_url: str | None = None) -> str | None:
    """The units table a deployed stack created (its output UnitsTableName), or None when it has none."""
    with mapped():
        stacks = session.client("cloudformation", endpoint_url=endpoint_url).describe_stacks(
            StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])} if stacks else {}
    return outputs.get("UnitsTableName")
