"""The call's rules as plain functions: the submission window, one project per applicant, quotas.

每个项目限申报1个方向 needs no function: the 申报书 model takes exactly one direction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bdpilot import campaign


@dataclass(frozen=True)
class Window:
    open: bool
    deadline: datetime
    now: datetime

    def as_dict(self) -> dict[str, object]:
        return {"open": self.open, "deadline": self.deadline.isoformat(), "server_time": self.now.isoformat()}


def window(now: datetime, deadline: datetime) -> Window:
    """The window is open until the deadline, compared in absolute time (the notice's dates are Beijing time)."""
    return Window(open=now < deadline, deadline=deadline.astimezone(campaign.TZ), now=now.astimezone(campaign.TZ))


def applicant_key(uscc: str) -> str:
    """每个申报主体限申报1个项目: an applicant is its 统一社会信用代码, so the guard item is keyed by it."""
    return f"USCC#{uscc}"


@dataclass(frozen=True)
class QuotaUse:
    recommender: str
    kind: campaign.RecommenderKind
    count: int
    quota: int

    @property
    def over(self) -> bool:
        return self.count > self.quota


def quota_use(counts: dict[str, int]) -> list[QuotaUse]:
    """Each 推荐单位's submissions against its quota (10 / 5 / 3 by kind), fullest first."""
    uses = [QuotaUse(name, campaign.recommender_kind(name), n, campaign.quota_for(name)) for name, n in counts.items()]
    return sorted(uses, key=lambda u: (-u.count / u.quota, u.recommender))
