"""Which submissions: filters on the index, the queries they make, and the counts `stats` shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bdpilot.domain import campaign, review, rules, wording
from bdpilot.store.reader import Reader
from bdpilot.store.units import UnitIndex


@dataclass(frozen=True)
class Filters:
    """Which submissions: each filter that has an index is a key condition, the rest filter the pages read."""

    direction: int | None = None
    recommender: str | None = None
    since: str | None = None  # inclusive bounds on received_at, compared as ISO strings in Beijing time
    until: str | None = None
    status: str | None = None
    newest_first: bool = False

    def index(self) -> tuple[str, str | None]:
        """The GSI to query: a 推荐单位 has the fewest items, then a direction, else everything by time."""
        if self.recommender:
            return "recommender", self.recommender
        if self.direction is not None:
            return "direction", str(self.direction)
        return "time", None

    def residual(self) -> dict[str, str]:
        """Equality conditions the chosen index does not apply."""
        index, _ = self.index()
        rest: dict[str, str] = {}
        if self.direction is not None and index != "direction":
            rest["direction"] = str(self.direction)
        if self.status:
            rest["status"] = self.status
        return rest

    def describe(self) -> str:
        parts = []
        if self.direction is not None:
            parts.append(wording.text("admin.filters.direction", n=self.direction))
        if self.recommender:
            parts.append(wording.text("admin.filters.recommender", name=self.recommender))
        received = wording.text("common.received_at")
        if self.since:
            parts.append(wording.text("admin.filters.since", received_at=received, since=self.since))
        if self.until:
            parts.append(wording.text("admin.filters.until", received_at=received, until=self.until))
        if self.status:
            parts.append(wording.text("admin.filters.status", status=review.status_label(self.status)))
        return wording.text("admin.filters.joiner").join(parts) or wording.text("admin.filters.all")

    def admits(self, view: dict[str, str]) -> bool:
        """Whether the record itself (its index fields as the record says them) is one these filters select."""
        if self.direction is not None and view["direction"] != str(self.direction):
            return False
        if self.recommender and view["recommender"] != self.recommender:
            return False
        if self.since and view["received_at"] < self.since:
            return False
        return not (self.until and view["received_at"] > self.until)


def day_bound(text: str, *, end: bool) -> str:
    """A --since/--until value as a received_at bound: a date covers the whole day (Beijing time); a date and
    time without offset is Beijing time."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return f"{day.isoformat()}T24" if end else day.isoformat()
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(wording.text("admin.filters.bad_date", text=text)) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=campaign.TZ)
    return moment.astimezone(campaign.TZ).isoformat(timespec="milliseconds")


def select(store: Reader, filters: Filters, *, page_size: int = 200,
           with_status: bool = True) -> Iterator[dict[str, Any]]:
    """Index items in received order, page by page from one GSI (never a Scan), each with its review status
    (read from the units table, 100 items at a time; `with_status=False` when no status is shown or filtered on).
    The status filter applies to the review status: the index's own never changes."""
    index, key = filters.index()
    rest = filters.residual()
    status = rest.pop("status", None)
    pages = store.query(index, key, since=filters.since, until=filters.until, newest_first=filters.newest_first,
                        page_size=page_size)
    found: Iterator[dict[str, Any]] = (item for item in pages if all(str(item.get(k)) == v for k, v in rest.items()))
    if store.units_table and (with_status or status):
        found = UnitIndex(store.dynamodb, store.units_table).current(found)
    for item in found:
        if status is None or str(item.get("status") or review.RECEIVED) == status:
            yield item


def count(store: Reader, filters: Filters) -> int:
    """How many submissions the filters select: a COUNT on the index, or with a review status, the items read."""
    if filters.status:
        return sum(1 for _ in select(store, filters))
    index, key = filters.index()
    return store.count(index, key, since=filters.since, until=filters.until, equals=filters.residual())


@dataclass
class Stats:
    """Counts per direction and per 推荐单位, each 推荐单位 beside its quota (10 / 5 / 3)."""

    directions: Counter[int] = field(default_factory=Counter)
    recommenders: Counter[str] = field(default_factory=Counter)
    total: int = 0

    def add(self, item: dict[str, Any]) -> None:
        self.total += 1
        try:
            self.directions[int(item.get("direction") or 0)] += 1
        except ValueError:
            self.directions[0] += 1
        self.recommenders[str(item.get("recommender") or "")] += 1

    def direction_rows(self) -> list[tuple[str, int]]:
        rows = [(d.label, self.directions.get(d.number, 0)) for d in campaign.DIRECTIONS]
        unknown = sum(n for k, n in self.directions.items() if k not in campaign.DIRECTIONS_BY_NUMBER)
        if unknown:
            rows.append((wording.text("admin.stats.direction_unknown"), unknown))
        return rows

    def quota_rows(self, *, every_listed: bool = False) -> list[rules.QuotaUse]:
        counts = dict(self.recommenders)
        if every_listed:
            for r in campaign.RECOMMENDERS:
                counts.setdefault(r.name, 0)
        return rules.quota_use(counts)


def stats(store: Reader, filters: Filters) -> Stats:
    result = Stats()
    for item in select(store, filters, with_status=False):
        result.add(item)
    return result
