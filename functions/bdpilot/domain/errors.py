"""Chinese messages for everything that can be wrong with a 申报书, one entry per failing field.

The templates live in the wording catalogue (errors, formats and rules sections) and are published in the form's
JSON Schema (`x-messages`), so the browser and the server word the same problem the same way. Every error kind the
models raise has a template there; the message a PydanticCustomError carries is never shown.
"""

from __future__ import annotations

from typing import Any, NamedTuple, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from bdpilot.domain import wording

# Every error kind's template, from the catalogue: pydantic's kinds and ours, the formats, the call's rules.
SECTIONS = ("errors", "formats", "rules")
TEMPLATES: dict[str, str] = {key: text for name in SECTIONS for key, text in wording.section(name).items()}


# An answer lists at most this many failing fields; the summary says how many more there are.
MAX_LISTED = 30
# A key that is not the form's is quoted in its message at most this long.
SHOWN_CHARS = 40


class FieldError(NamedTuple):
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def field_info(model: type[BaseModel], loc: tuple[str | int, ...]) -> FieldInfo | None:
    """The pydantic FieldInfo that a location such as ("applicant", "uscc") points at."""
    info: FieldInfo | None = None
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        info = current.model_fields[part]
        current = _model_of(info.annotation)
    return info


def _widget(info: FieldInfo | None) -> str | None:
    extra = info.json_schema_extra if info else None
    return extra.get("x-widget") if isinstance(extra, dict) else None  # type: ignore[return-value]


def _message(model: type[BaseModel], error: Any, loc: tuple[str | int, ...]) -> str:
    info = field_info(model, loc)
    named = [p for p in loc if isinstance(p, str)]
    title = (info.title if info and info.title else None) or (
        shown(named[-1]) if named else wording.text("answers.untitled"))
    kind = error["type"]
    if kind in ("too_long", "too_short") and isinstance(error.get("input"), str):
        kind = f"string_{kind}"
    if error.get("input") == "" and kind in _EMPTY_MEANS_MISSING:
        # An empty box is a missing answer, not a badly formatted one.
        kind = "missing"
    if kind == "missing" and f"missing.{_widget(info)}" in TEMPLATES:
        kind = f"missing.{_widget(info)}"
    extra = info.json_schema_extra if info else None
    messages = extra.get("x-messages") if isinstance(extra, dict) else None
    if kind == "string_pattern_mismatch" and isinstance(messages, dict) and isinstance(messages.get("pattern"), str):
        return str(messages["pattern"])  # the field's own format message (formats section)
    value = error.get("input")
    params = {"title": title, "actual_length": len(value) if isinstance(value, str | list) else "",
              **(error.get("ctx") or {})}
    try:
        # A kind without a template is one of pydantic's that the form cannot produce: worded generically.
        return wording.fill(TEMPLATES.get(kind, TEMPLATES["invalid"]), **params)
    except (KeyError, IndexError):
        return wording.fill(TEMPLATES["invalid"], title=title)


_EMPTY_MEANS_MISSING = frozenset({"string_too_short", "date_parsing", "date_from_datetime_parsing", "int_parsing",
                                  "decimal_parsing", "enum", "choice", "bool_parsing",
                                  *wording.section("formats")})


def field_errors(model: type[BaseModel], exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Every failing field of a validation, with its dotted path and a Chinese message, in form order."""
    result: list[FieldError] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        field = (error.get("ctx") or {}).get("field")
        if field:
            # Cross-field rules raise on their section; point the message at the field a person must change.
            loc = (*loc, field)
        path = ".".join(str(p) for p in (prefix, *loc) if p != "")
        result.append(FieldError(path, _message(model, error, loc)))
    return result


def shown(name: str) -> str:
    """A key the client chose, fit to quote: shortened, and a lone surrogate (which cannot be encoded) as "?"."""
    name = name.encode("utf-8", "replace").decode("utf-8")
    return name if len(name) <= SHOWN_CHARS else name[:SHOWN_CHARS] + "…"


def listed(summary: str, fields: list[FieldError]) -> tuple[str, list[FieldError]]:
    """The summary and the field errors an answer carries: at most MAX_LISTED, and how many more in the summary."""
    hidden = len(fields) - MAX_LISTED
    if hidden <= 0:
        return summary, fields
    return summary + wording.text("answers.more", hidden=hidden), fields[:MAX_LISTED]
