"""The audit trail: who did what to which submission or account, appended and never changed.

AuditTable: HASH `day` (Beijing date YYYY-MM-DD), RANGE `at` (ISO time in Beijing + "#" + 8 random hex, so two
events in one millisecond both stay). `append` is a Put on the condition that no item has the key, so even a
role that may Put could never overwrite an event (its IAM policy has no UpdateItem/DeleteItem either). Items
expire (TTL `expires_at`) after RETENTION_DAYS. MIIT reads it back day by day with `recent`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from bdpilot.domain import campaign, clock
from bdpilot.store.errors import StorageUnavailable, mapped, written
from bdpilot.store.layout import marshal, unmarshal

RETENTION_DAYS = 400  # kept at least a year
FIELDS = ("actor", "role", "unit", "action", "target", "address", "outcome")
MAX_DAYS = 400
MAX_LIMIT = 500


class Audit:
    def __init__(self, client: Any, table: str) -> None:
        self.dynamodb = client
        self.table = table

    def append(self, event: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        """Add one event (its FIELDS; others are not kept); the item written."""
        at = (now or clock.now()).astimezone(campaign.TZ)
        base: dict[str, Any] = {f: str(event.get(f) or "") for f in FIELDS}
        base["expires_at"] = int((at + timedelta(days=RETENTION_DAYS)).timestamp())
        for _ in range(3):
            item = {"day": at.date().isoformat(),
                    "at": at.isoformat(timespec="milliseconds") + "#" + secrets.token_hex(4), **base}
            if written(lambda: self.dynamodb.put_item(TableName=self.table, Item=marshal(item),  # noqa: B023
                                                      ConditionExpression="attribute_not_exists(#d)",
                                                      ExpressionAttributeNames={"#d": "day"})):
                return item
            # the same millisecond and suffix: draw another suffix
        raise StorageUnavailable("AuditKeyExhausted")

    def recent(self, days: int = 7, limit: int = 100, cursor: str | None = None,
               now: datetime | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Events of the last `days` Beijing days (today included), newest first: at most `limit`, and the
        cursor of the rest (None when there is none). One Query per day read, never a Scan."""
        days = max(1, min(days, MAX_DAYS))
        limit = max(1, min(limit, MAX_LIMIT))
        today = (now or clock.now()).astimezone(campaign.TZ).date()
        first = today - timedelta(days=days - 1)
        day, start = _decode(cursor, first, today) or (today, None)
        found: list[dict[str, Any]] = []
        while day >= first:
            kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": "#d = :d",
                                      "ExpressionAttributeNames": {"#d": "day"},
                                      "ExpressionAttributeValues": {":d": {"S": day.isoformat()}},
                                      "ScanIndexForward": False, "Limit": limit - len(found)}
            if start:
                kwargs["ExclusiveStartKey"] = start
            with mapped():
                page = self.dynamodb.query(**kwargs)
            found += [unmarshal(i) for i in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                day -= timedelta(days=1)
            if len(found) >= limit:
                more = start is not None or day >= first
                return found, _encode(day, start) if more else None
        return found, None


def _encode(day: date, start: dict[str, Any] | None) -> str:
    data = {"day": day.isoformat(), "start": start}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode(cursor: str | None, first: date, today: date) -> tuple[date, dict[str, Any] | None] | None:
    """Where a cursor resumes, only if it points inside the days asked for; None to start from today."""
    if not cursor or len(cursor) > 1024:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        day = date.fromisoformat(data["day"])
        start = data["start"]
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError):
        return None
    if not first <= day <= today:
        return None
    if start is not None and not (isinstance(start, dict) and set(start) == {"day", "at"}
                                  and start["day"] == {"S": day.isoformat()} and isinstance(start["at"], dict)
                                  and set(start["at"]) == {"S"} and isinstance(start["at"]["S"], str)):
        return None
    return day, start
