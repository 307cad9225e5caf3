"""Exact formats of the codes and numbers on the 申报书 (the message shown when one is wrong is the wording
catalogue's `formats` section, keyed by the error kinds below and in application.py).

Each format is a pattern (published in the JSON Schema, so the browser checks the same thing) plus, for the
统一社会信用代码, the GB 32100-2015 check character.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from bdpilot.domain import wording
from bdpilot.domain.campaign import TZ

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PATTERN = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
LANDLINE_PATTERN = r"^0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?$"
POSTCODE_PATTERN = r"^[0-9]{6}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"

_SPACES = re.compile(r"\s+")


def halfwidth(value: str) -> str:
    """Full-width digits, letters and hyphens typed on a Chinese keyboard become ASCII; spaces go."""
    value = unicodedata.normalize("NFKC", value)
    # NFKC has made a full-width hyphen ASCII already; an em dash it keeps.
    return _SPACES.sub("", value.replace("\N{EM DASH}", "-"))


def uscc_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 computed from the first 17."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    check = 31 - total % 31
    return USCC_ALPHABET[0 if check == 31 else check]


def normalize_uscc(value: str) -> str:
    return halfwidth(value).upper()


def uscc_problem(code: str) -> str | None:
    """Why a normalized code is not a valid 统一社会信用代码 (the error kind `uscc_format` or `uscc_check`), or
    None if it is."""
    if not re.fullmatch(USCC_PATTERN, code):
        return "uscc_format"
    if uscc_check_char(code[:17]) != code[17]:
        return "uscc_check"
    return None


def size_text(size: int) -> str:
    """A file size for people: 20 MB, 3.4 MB, 12 KB."""
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // 1024 // 1024} MB"
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def beijing_time(value: Any, *, seconds: bool = True) -> str:
    """A time for people: 2019年11月15日 10:00:00（北京时间）, or without seconds (a deadline: 2019年11月22日
    00:00（北京时间）). site.js's beijingTime says it the same way; the site's pages state the deadline with it."""
    try:
        when = datetime.fromisoformat(str(value)).astimezone(TZ)
    except ValueError:
        return str(value or "")
    return wording.text("dates.beijing", date=date_text(when), time=f"{when:{'%H:%M:%S' if seconds else '%H:%M'}}")


def date_text(day: date) -> str:
    """A date for people: 2019年11月22日."""
    return wording.text("dates.date", year=day.year, month=day.month, day=day.day)
