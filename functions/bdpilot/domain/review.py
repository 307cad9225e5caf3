"""Review and recommendation rules: what a 推荐单位 may decide about a submission, what applicants are told, and
the 推荐汇总表 a unit submits. Pure: no storage, no clock (`now` and deadlines are passed in).

Statuses (the units table item's `status`):  received 待审核 → returned 退回修改 → rejected 不予推荐 | proposed 拟推荐.
A decision moves an item to returned, rejected or proposed; only a revision (the applicant's) moves it back to
received. Every refusal is a ReviewRefused whose message names what is wrong (wording: review.refused.<code>).
The quota itself is enforced by the store (a counter in the same transaction); here only the rank's range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bdpilot.domain import campaign, wording
from bdpilot.domain.digests import canonical, digest

RECEIVED, RETURNED, REJECTED, PROPOSED = "received", "returned", "rejected", "proposed"
STATUSES: tuple[str, ...] = (RECEIVED, RETURNED, REJECTED, PROPOSED)
DECISIONS: tuple[str, ...] = (RETURNED, REJECTED, PROPOSED)  # what staff may set
NEEDS_REASON = frozenset({RETURNED, REJECTED})
REVISABLE = frozenset({RECEIVED, RETURNED})
MAX_TEXT = 500  # characters of a reason or a 推荐意见, after trimming

# What a refusal can say (review.refused.<code>).
CODES: tuple[str, ...] = (
    "status_invalid", "reason_required", "opinion_required", "rank_invalid", "text_too_long", "same_status",
    "stale", "quota_full", "list_submitted", "not_submitted", "past_deadline", "not_found", "ranks_not_unique",
    "nothing_to_submit", "not_revisable",
)


class ReviewRefused(Exception):
    """A review action that changes nothing, with the Chinese sentence that says why (`message`)."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.message = wording.text(f"review.refused.{code}", **params)
        super().__init__(code)


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str = ""  # returned / rejected
    opinion: str = ""  # 推荐意见, proposed
    rank: int | None = None  # proposed: 1..quota


def status_label(status: str | None) -> str:
    """待审核 / 退回修改 / 不予推荐 / 拟推荐 (an item without status is received)."""
    return wording.text(f"review.status.{status or RECEIVED}") if (status or RECEIVED) in STATUSES else str(status)


def parse_rank(raw: Any) -> int | None:
    """A rank as a form posts it ("3"); None for anything that is not a whole number (check refuses it)."""
    text = str(raw if raw is not None else "").strip()
    return int(text) if text.isdigit() and len(text) <= 3 else None


def check(decision: Decision, item: dict[str, Any] | None, quota: int) -> Decision:
    """The decision as it will be stored (texts trimmed, the fields of other statuses dropped), or ReviewRefused.
    `item` is the units table item as read (None: no such submission for this unit)."""
    if item is None:
        raise ReviewRefused("not_found")
    if decision.status not in DECISIONS:
        raise ReviewRefused("status_invalid")
    reason, opinion = decision.reason.strip(), decision.opinion.strip()
    if decision.status in NEEDS_REASON:
        cleaned = Decision(decision.status, reason=check_text(reason, "reason"))
    else:
        rank = decision.rank
        if rank is None or not 1 <= rank <= quota:
            raise ReviewRefused("rank_invalid", quota=quota)
        cleaned = Decision(PROPOSED, opinion=check_text(opinion, "opinion"), rank=rank)
    current = Decision(str(item.get("status") or RECEIVED), str(item.get("reason") or ""),
                       str(item.get("opinion") or ""), _int(item.get("rank")))
    if cleaned == current or (cleaned.status == current.status == RETURNED):
        # Returned twice would tell the applicant twice; any other same status must change something.
        raise ReviewRefused("same_status", status=status_label(current.status))
    return cleaned


def check_text(text: str, field: str) -> str:
    """A reason or 推荐意见 (`field`), trimmed: required, at most MAX_TEXT characters."""
    text = text.strip()
    if not text:
        raise ReviewRefused(f"{field}_required")
    if len(text) > MAX_TEXT:
        raise ReviewRefused("text_too_long", field=wording.text(f"review.field.{field}"), limit=MAX_TEXT,
                            length=len(text))
    return text


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else None


def quota_delta(before: str | None, after: str) -> int:
    """How a change moves the unit's 拟推荐 counter: +1 into proposed, -1 out of it, 0 otherwise."""
    return int(after == PROPOSED) - int((before or RECEIVED) == PROPOSED)


def past_deadline(now: datetime, deadline: datetime) -> bool:
    """Whether the units' recommendation deadline (cfg.unit_deadline) has passed: at the deadline it has."""
    return now >= deadline


def revisable(status: str | None, now: datetime, deadline: datetime, unit_deadline: datetime) -> bool:
    """Whether the applicant may revise: received before the applicants' deadline, returned before the units'."""
    status = status or RECEIVED
    return (status == RECEIVED and now < deadline) or (status == RETURNED and now < unit_deadline)


def applicant_status(status: str | None, show_results: bool) -> str:
    """What the applicant is told: received, returned, and either the result (when MIIT publishes results:
    cfg.show_results) or under_review for anything decided (wording: review.applicant.<s>)."""
    status = status or RECEIVED
    if status in (RECEIVED, RETURNED):
        return status
    if show_results and status in (PROPOSED, REJECTED):
        return status
    return "under_review"


def history_of(item: dict[str, Any] | None) -> list[dict[str, Any]]:
    """An item's history (or #UNIT's log) as a list, oldest first; [] when there is none or it is unreadable."""
    raw = (item or {}).get("history")
    return _json_list(raw)


def _json_list(raw: Any) -> list[dict[str, Any]]:
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw else []
    except ValueError:
        return []
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def log_of(state_item: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The #UNIT item's log (submit / reopen) as a list, oldest first."""
    return _json_list((state_item or {}).get("log"))


def event(at: str, actor: str, action: str, before: str | None, after: str, decision: Decision | None = None,
          **extra: Any) -> dict[str, Any]:
    """One history entry: who did what when, from which status to which, and what they wrote."""
    entry: dict[str, Any] = {"at": at, "actor": actor, "action": action, "from": before or RECEIVED, "to": after}
    if decision is not None:
        entry |= {k: v for k, v in (("reason", decision.reason), ("opinion", decision.opinion),
                                    ("rank", decision.rank)) if v}
    return entry | {k: v for k, v in extra.items() if v is not None}


# --- the 推荐汇总表 --------------------------------------------------------------------------------------------

def check_submission(items: list[dict[str, Any]], quota: int) -> list[dict[str, Any]]:
    """The unit's proposed items ranked (rank, then reference), or ReviewRefused: none proposed, more than the
    quota, or two items with one rank."""
    proposed = [i for i in items if i.get("status") == PROPOSED]
    if not proposed:
        raise ReviewRefused("nothing_to_submit")
    ranks = [_int(i.get("rank")) for i in proposed]
    if len(proposed) > quota or any(r is None or not 1 <= r <= quota for r in ranks):
        raise ReviewRefused("rank_invalid", quota=quota)
    if len(set(ranks)) != len(ranks):
        raise ReviewRefused("ranks_not_unique")
    return sorted(proposed, key=lambda i: (_int(i.get("rank")) or 0, str(i.get("reference"))))


def summary(unit: str, items: list[dict[str, Any]], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The 推荐汇总表: the unit, its quota and its ranked rows. `items` are the unit's proposed items (units
    table), `records` the stored records by reference (the current version's record.json, for the USCC and the
    total investment as the applicant declared them). Each row carries the record's digest, so the summary's
    digest covers exactly the versions recommended."""
    quota = campaign.quota_for(unit)
    rows = []
    for item in check_submission(items, quota):
        ref = str(item["reference"])
        application = records.get(ref, {}).get("application", {})
        applicant, cover = application.get("applicant", {}), application.get("cover", {})
        direction = _int(cover.get("direction")) or _int(item.get("direction"))
        known = campaign.DIRECTIONS_BY_NUMBER.get(direction or 0)
        rows.append({
            "rank": _int(item.get("rank")), "reference": ref,
            "project": str(cover.get("project_name") or item.get("project") or ""),
            "direction": known.label if known else str(item.get("direction") or ""),
            "applicant": str(applicant.get("name") or item.get("applicant") or ""),
            "uscc": str(applicant.get("uscc") or item.get("uscc") or ""),
            "total_investment": _investment(application),
            "opinion": str(item.get("opinion") or ""),
            "digest": str(item.get("digest") or ""),
        })
    return {"unit": unit, "quota": quota, "rows": rows}


def _investment(application: dict[str, Any]) -> str:
    """The declared 项目总投资（万元） as stored (a decimal string)."""
    value = (application.get("project") or {}).get("total_investment")
    return "" if value is None else str(value)


def summary_json(value: dict[str, Any]) -> str:
    """The summary as stored on #UNIT: the same canonical JSON a record is stored as."""
    return canonical(value).decode()


def summary_digest(value: dict[str, Any]) -> str:
    """The summary's 数字摘要: sha256 of its canonical JSON, as for an application."""
    return digest(canonical(value))
