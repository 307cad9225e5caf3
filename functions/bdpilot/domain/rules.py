"""The call's rules as plain functions: the submission window, one project per applicant, one name per
推荐单位, quotas.

每个项目限申报1个方向 needs no function: the 申报书 model takes exactly one direction."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

from bdpilot.domain import campaign
from bdpilot.domain.unitwords import AFTER_CITY_NOT_A_CITY, CATEGORY_WORDS, CITY, PREFIXES, SUFFIXES


class Window(NamedTuple):
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


# --- 推荐单位 named in free text ---------------------------------------------------------------------------------

# Characters that change no visible letter but make two spellings differ, or reorder what is shown: C0/C1
# controls, zero-width and bidi controls (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069), word joiners, the BOM,
# the Arabic letter mark, the soft hyphen and the Mongolian vowel separator.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u2069\ufeff]")
_NOT_ASCII = "[^\x00-\x7f]"
_SPACE_IN_CJK = re.compile(f"(?<={_NOT_ASCII}) (?={_NOT_ASCII})")
# What a name's key drops: punctuation and spaces (after NFKC, full-width brackets are ASCII ones).
_PUNCTUATION = re.compile(r"[\W_]+")



def clean_name(raw: str) -> str:
    """A unit's name as stored and counted: NFKC (full-width letters and brackets become plain ones), invisible
    and control characters removed, runs of whitespace made one space, and no space between two CJK characters
    (so "河 北 省" is "河北省")."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", raw))
    text = " ".join(text.split())
    return _SPACE_IN_CJK.sub("", text)


def name_key(name: str) -> str:
    """What two spellings of one unit share: the cleaned name without punctuation, and without the company
    forms, region suffixes and departments around it (中国电子科技集团有限公司 and 中国电子科技集团 → 电子科技)."""
    key = _PUNCTUATION.sub("", clean_name(name))
    while True:
        before = key
        for suffix in SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[:-len(suffix)]
                break
        for prefix in PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                key = key[len(prefix):]
                break
        if key == before:
            return key


# The tables below are built when a 推荐单位 is first checked: a cold start's first answers never check one.
@cache
def _listed_keys() -> dict[str, campaign.Recommender]:
    """Every listed 推荐单位 by its key (regions first); two listed units never share one (a test keeps it so)."""
    keys: dict[str, campaign.Recommender] = {}
    for recommender in campaign.LISTED_RECOMMENDERS:
        keys.setdefault(name_key(recommender.name), recommender)
    return keys


@cache
def _category_keys() -> frozenset[str]:
    return frozenset(name_key(w) for w in CATEGORY_WORDS)


@cache
def _region_names() -> re.Pattern[str]:
    """A region's full name anywhere in a name (河北省工业和信息化厅), except a city's name running on into 市场."""
    return re.compile("|".join(
        re.escape(n) + (f"(?!{AFTER_CITY_NOT_A_CITY})" if n.endswith(CITY) else "")
        for n in sorted((r.name for r in campaign.RECOMMENDERS), key=len, reverse=True)))


@cache
def _listed_clean() -> dict[str, str]:
    return {clean_name(r.name): r.name for r in campaign.LISTED_RECOMMENDERS}


class NameProblem(NamedTuple):
    code: str  # an error kind, worded by the catalogue's `rules` section (with the listed unit's {name})
    listed: campaign.Recommender | None = None


def unlisted_name_problem(name: str) -> NameProblem | None:
    """Why a cleaned free-text 推荐单位 may not be used, or None. It may not be, or pose as, a listed one (the same
    name in another spelling, a region's name inside it), since it would then be counted apart from that unit or
    in its place; nor a category ("中央企业") instead of a unit."""
    compact = _PUNCTUATION.sub("", name)
    key = name_key(name)
    listed = _listed_keys().get(key)
    if listed is None and (m := _region_names().search(compact)):
        listed = campaign.RECOMMENDERS_BY_NAME[m.group(0)]
    if listed is not None and listed.kind is campaign.RecommenderKind.CENTRAL:
        return NameProblem("recommender_listed_central", listed)
    if listed is not None:
        return NameProblem("recommender_listed", listed)
    if key in _category_keys():
        return NameProblem("recommender_category")
    return None


def unit_of(recommender_name: str) -> str:
    """The 推荐单位 whose staff read a submission: a listed unit by its campaign name; any other name (an unlisted
    其他有关单位, typed by the applicant and verified by nobody) goes to campaign.UNLISTED_RECOMMENDER, read by
    MIIT, so typing a name can never place an applicant in a listed unit's list."""
    if recommender_name in campaign.RECOMMENDERS_BY_NAME:
        return recommender_name
    # NFKC turns the full-width brackets of some listed names (南光（集团）有限公司) into ASCII ones.
    return _listed_clean().get(clean_name(recommender_name), campaign.UNLISTED_RECOMMENDER)



# --- quotas -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)  # not a NamedTuple: its `count` would shadow tuple.count
class QuotaUse:
    recommender: str
    kind: campaign.RecommenderKind
    count: int
    quota: int

    @property
    def over(self) -> bool:
        return self.count > self.quota

    @property
    def listed(self) -> bool:
        """Chosen from a list (a region, a city, a central enterprise), so a known unit; otherwise a name typed by
        the applicant under 其他有关单位, which nobody has verified."""
        return self.kind is not campaign.RecommenderKind.OTHER


def quota_use(counts: dict[str, int]) -> list[QuotaUse]:
    """Each 推荐单位's submissions against its quota (10 / 5 / 3 by kind): the listed units fullest first, then
    apart from them the unlisted 其他有关单位, fullest first."""
    uses = [QuotaUse(name, campaign.recommender_kind(name), n, campaign.quota_for(name)) for name, n in counts.items()]
    return sorted(uses, key=lambda u: (not u.listed, -u.count / u.quota, u.recommender))
