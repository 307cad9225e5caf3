"""The kinds of answer a 申报书 field takes, as pydantic types and Field() helpers: text, codes, money, counts,
dates. application.py builds the form's sections from them.

Every failure here is raised by its error kind only (`refuse`): errors.TEMPLATES words it from the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from bdpilot.domain import campaign, formats, wording

SHORT = 60
NAME = 100
ADDRESS = 200
SUMMARY = 500
LONG = 3000

# C0/C1 control characters other than tab and newline never belong in a form answer (NUL breaks storage,
# the rest hide text from reviewers).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def refuse(kind: str, /, **ctx: Any) -> PydanticCustomError:
    """A failure of `kind`. errors.TEMPLATES words every kind from the catalogue (with `ctx`), so the message
    pydantic carries is only the kind: a second wording here would never be shown."""
    return PydanticCustomError(kind, kind, ctx or None)


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if CONTROL.search(value):
        raise refuse("control_chars")
    return value


def _code(normalize: Callable[[str], str]) -> BeforeValidator:
    return BeforeValidator(lambda v: normalize(v) if isinstance(v, str) else v)


def _match(pattern: str, message_key: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise refuse(message_key)
        return value

    return AfterValidator(check)


def _uscc(value: str) -> str:
    problem = formats.uscc_problem(value)
    if problem:
        raise refuse(problem)
    return value


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise refuse("decimal_parsing")
    if value.adjusted() >= 12:  # beyond any real budget, and beyond what quantize can hold exactly
        raise refuse("decimal_max_digits")
    if value != value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP):
        raise refuse("decimal_max_places")
    # Stored and printed with exactly two decimals, so the paper copy reads like the form.
    return value.quantize(Decimal("0.01"))


# "1,500" or "1，500" as people write amounts: thousands separators go, full-width digits become ASCII. Only
# well-formed groups of three, so "1,5" stays an error instead of silently becoming 15.
_GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = formats.halfwidth(value)
    return value.replace(",", "") if _GROUPED.fullmatch(value) else value


def _not_future(value: date) -> date:
    if value > datetime.now(campaign.TZ).date():
        raise refuse("date_in_future")
    return value


def text(title: str, max_length: int, description: str | None = None, *, widget: str = "text", **extra: Any) -> Any:
    return Field(
        title=title, description=description, min_length=1, max_length=max_length,
        json_schema_extra={"x-widget": widget, **extra},
    )


def long_text(title: str, description: str, max_length: int = LONG) -> Any:
    return text(title, max_length, description, widget="textarea")


Text = Annotated[str, BeforeValidator(_text)]
Uscc = Annotated[str, _code(formats.normalize_uscc), AfterValidator(_uscc)]
Mobile = Annotated[str, _code(formats.halfwidth), _match(formats.MOBILE_PATTERN, "mobile")]
Landline = Annotated[str, _code(formats.halfwidth), _match(formats.LANDLINE_PATTERN, "landline")]
Postcode = Annotated[str, _code(formats.halfwidth), _match(formats.POSTCODE_PATTERN, "postcode")]
Email = Annotated[str, _code(lambda v: formats.halfwidth(v).lower()), _match(formats.EMAIL_PATTERN, "email")]
Money = Annotated[Decimal, BeforeValidator(_number), AfterValidator(_money)]
Count = Annotated[int, BeforeValidator(_number)]
PastDate = Annotated[date, AfterValidator(_not_future)]


def money(title: str, description: str | None = None, *, ge: int | None = 0, gt: int | None = None) -> Any:
    return Field(
        title=title, description=description, ge=ge, gt=gt, le=10**11,
        json_schema_extra={"x-widget": "money", "x-unit": wording.text("labels.money_unit")},
    )


def code(title: str, pattern: str, message_key: str, description: str | None = None, *,
         widget: str = "text", max_length: int = 32) -> Any:
    return Field(
        title=title, description=description, max_length=max_length,
        json_schema_extra={"x-widget": widget, "pattern": pattern,
                           "x-messages": {"pattern": wording.text(f"formats.{message_key}")}},
    )


class Section(BaseModel):
    # Unknown keys are an error rather than silently dropped: what was sent must be what is stored.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)
