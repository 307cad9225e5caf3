"""What a staff caller may read and how it reaches them, shared by the reading pages (listing, detail, exports,
auditlog): the unit check, short-lived presigned downloads, and the pages' wording.

Isolation is by key, never by a filter: a unit account's submission is the item GetItem(unit=<the session's
unit>, reference) finds in the units table, so another unit's reference is simply absent and every route answers
it as it answers a reference that does not exist (`views.not_found`). The unit comes only from `ctx.staff`.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote

from bdpilot.console.app import Answer, Context, Staff
from bdpilot.console.records.verification import safe_reference
from bdpilot.domain import campaign, wording
from bdpilot.domain.application import form_schema

DOWNLOAD_SECONDS = 300  # a presigned GET lives 5 minutes: long enough to start, too short to pass around
PAGE_SIZE = 50


def t(key: str, /, **params: Any) -> str:
    return wording.text(f"staff.{key}", **params)


@cache
def schema() -> dict[str, Any]:
    return form_schema()


def is_miit(staff: Staff | None) -> bool:
    return staff is not None and staff.role == "miit"


def unit_of(ctx: Context) -> str | None:
    """The unit a unit account may read (from the verified session); None for MIIT, who may read all."""
    staff = ctx.staff
    if staff is None or staff.role != "unit" or not staff.unit:
        # A unit account without a unit sees nothing: an empty string is a key no submission holds.
        return None if is_miit(staff) else ""
    return staff.unit


def visible(ctx: Context, ref: str) -> dict[str, Any] | None:
    """The submission's index item (SUB#) if the caller may see it, else None (absent and foreign alike)."""
    safe = safe_reference(ref)
    if safe is None:
        return None
    unit = unit_of(ctx)
    if unit is not None and (not unit or ctx.services.units.get(unit, safe) is None):
        return None
    index: dict[str, Any] | None = ctx.services.reader.get_index(safe)
    return index


def listed_units() -> list[str]:
    """Every 推荐单位 a unit account can be for: the listed ones in campaign order, then the unlisted group."""
    return [r.name for r in campaign.LISTED_RECOMMENDERS] + [campaign.UNLISTED_RECOMMENDER]


def chosen_unit(ctx: Context) -> str | None:
    """The unit a page is about: a unit account's own; for MIIT the one chosen (?unit=, a listed name), or None
    for all."""
    own = unit_of(ctx)
    if own is not None:
        return own
    wanted = ctx.request.query.get("unit", "")
    return wanted if wanted in listed_units() else None


def disposition(filename: str) -> str:
    """Content-Disposition for a download: an ASCII fallback name, then the real one (RFC 6266 / RFC 5987)."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def presigned(ctx: Context, key: str, filename: str, content_type: str) -> Any:
    """A 303 to a short-lived presigned GET of `key` (the bytes never pass through the function)."""
    url = ctx.services.reader.presign_get(key, expires=DOWNLOAD_SECONDS, disposition=disposition(filename),
                                          content_type=content_type)
    return Answer(303, "", {"Location": url, "Cache-Control": "no-store"})


def direction_text(value: Any) -> str:
    try:
        return campaign.DIRECTIONS_BY_NUMBER[int(value)].label
    except (KeyError, TypeError, ValueError):
        return str(value or "")
