"""A cost ceiling on what a client sends, checked before pydantic or anything else walks it.

A body is at most 256 KB, but what it makes the function do is not bounded by its size: 60,000 empty objects in
a list cost pydantic seconds and megabytes of field errors, and a lone surrogate crashes the canonical JSON
encoder. So every parsed body is first walked against a *shape* derived from the pydantic models that describe it
(which keys an object has, how long a list or a string may be, what is a plain value) and refused when it goes
beyond them. The walk is iterative and never goes deeper than the model, so its work is bounded by the model
(`max_nodes`), not by the request. What is merely wrong but cheap (a missing field, a bad date) is left to pydantic.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, NamedTuple, Union, get_args, get_origin

from annotated_types import MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from bdpilot.domain import wording
from bdpilot.domain.errors import TEMPLATES, FieldError, shown

# Keys an object may carry beyond its model's fields and still reach pydantic, which names each one (extra_forbidden).
EXTRA_KEYS = 8
# Longer key names are not the form's (and are quoted shortened: an answer never echoes a huge name).
KEY_CHARS = 64
# A value for a number, date, choice or checkbox is a few characters; this is far beyond any valid one.
SCALAR_CHARS = 100


class Leaf(NamedTuple):
    """A plain value: text, number, date, choice or checkbox."""

    title: str
    wrong_type: str  # the errors.TEMPLATES key for a container where this value belongs
    max_chars: int  # a longer string cannot be valid
    max_length: int | None = None  # for text: the limit quoted in the message


class Obj(NamedTuple):
    title: str
    fields: dict[str, Shape]
    closed: bool  # extra="forbid": unknown keys are errors (else the consumer ignores them)


class Seq(NamedTuple):
    title: str
    item: Shape
    max_items: int


Shape = Leaf | Obj | Seq

# Order matters: bool is an int, a StrEnum is a str.
_SCALARS: list[tuple[type, str]] = [(bool, "bool_type"), (Enum, "enum"), (Decimal, "decimal_type"),
                                    (date, "date_type"), (int, "int_type"), (float, "decimal_type"),
                                    (str, "string_type")]


@cache
def shape_of(model: type[BaseModel], title: str | None = None) -> Obj:
    """The shape of a pydantic model: its fields, their titles, and the limits its Field()s declare."""
    fields = {name: _field_shape(info, name) for name, info in model.model_fields.items()}
    return Obj(title or model.model_config.get("title") or model.__name__, fields,
               model.model_config.get("extra") == "forbid")


def _max_length(info: FieldInfo) -> int | None:
    return next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)


def _field_shape(info: FieldInfo, name: str) -> Shape:
    return _annotation_shape(info.annotation, info.title or name, _max_length(info))


def _annotation_shape(annotation: Any, title: str, max_length: int | None) -> Shape:
    origin = get_origin(annotation)
    if origin is list:
        if max_length is None:
            # The walk's bound on a list comes from the model; a list without one would be unbounded.
            raise TypeError(f"bounds: the list field {title!r} needs a max_length")
        (item,) = get_args(annotation)
        return Seq(title, _annotation_shape(item, title, None), max_length)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _annotation_shape(options[0], title, max_length)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return shape_of(annotation, title)
    elif isinstance(annotation, type):
        for base, wrong_type in _SCALARS:
            if issubclass(annotation, base):
                if base is str:
                    limit = max_length or _longest_text()
                    # Twice the limit: a browser sends each line break as CRLF, counted once after normalising.
                    return Leaf(title, wrong_type, 2 * limit, limit)
                return Leaf(title, wrong_type, SCALAR_CHARS)
    raise TypeError(f"bounds: no shape for the field {title!r} ({annotation!r})")


def _longest_text() -> int:
    """Text without a limit of its own (the form token, the honeypot) may be as long as the 申报书's longest: the
    models' long text (tests/unit/test_bounds checks that no field is longer). A constant, so an upload's body
    check need not build the 申报书's models."""
    from bdpilot.domain.fieldtypes import LONG

    return LONG


def depth(shape: Shape) -> int:
    """How many levels of keys and indices the deepest value of a shape sits below its root."""
    if isinstance(shape, Leaf):
        return 0
    if isinstance(shape, Seq):
        return 1 + depth(shape.item)
    return 1 + max((depth(child) for child in shape.fields.values()), default=0)


def max_nodes(shape: Shape) -> int:
    """The most values `walk` can look at for a shape (the keys it skips included): its work for any request."""
    if isinstance(shape, Leaf):
        return 1
    if isinstance(shape, Seq):
        return 1 + shape.max_items * max_nodes(shape.item)
    return 1 + sum(max_nodes(child) for child in shape.fields.values()) + EXTRA_KEYS


@dataclass
class Outcome:
    problems: list[FieldError]
    visited: int


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def has_surrogate(text: str) -> bool:
    """A lone UTF-16 surrogate (JSON's "\\ud800"): no UTF-8 encoding exists, so it cannot be stored."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _message(kind: str, title: str, **ctx: Any) -> str:
    return wording.fill(TEMPLATES[kind], title=title, **ctx)


def walk(value: Any, shape: Shape, path: str = "") -> Outcome:
    """Every way `value` goes beyond `shape`, as field errors in document order; visits at most max_nodes(shape)."""
    problems: list[FieldError] = []
    stack: list[tuple[Any, Shape, str]] = [(value, shape, path)]
    visited = 0
    while stack:
        value, shape, path = stack.pop()
        visited += 1
        if isinstance(value, str):
            # Text anywhere, even where a section belongs: the replay hash encodes it before pydantic refuses it.
            if isinstance(shape, Leaf) and len(value) > shape.max_chars:
                kind = "string_too_long" if shape.max_length else shape.wrong_type
                problems.append(FieldError(path, _message(kind, shape.title, max_length=shape.max_length,
                                                          actual_length=len(value))))
            elif has_surrogate(value):
                problems.append(FieldError(path, _message("lone_surrogate", shape.title)))
        elif isinstance(shape, Leaf):
            if isinstance(value, dict | list):
                problems.append(FieldError(path, _message(shape.wrong_type, shape.title)))
        elif isinstance(shape, Seq):
            if isinstance(value, dict):
                problems.append(FieldError(path, _message("list_type", shape.title)))
            elif isinstance(value, list):
                if len(value) > shape.max_items:
                    problems.append(FieldError(path, _message("too_long", shape.title, max_length=shape.max_items)))
                else:
                    stack.extend((v, shape.item, _join(path, i)) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, list):
            problems.append(FieldError(path, _message("model_type", shape.title)))
        elif isinstance(value, dict):
            unknown = len(value.keys() - shape.fields.keys())
            if unknown > EXTRA_KEYS:
                problems.append(FieldError(path, _message("too_many_keys", shape.title, count=unknown)))
                continue
            children = []
            for key, child in value.items():
                known = shape.fields.get(key)
                if known is not None:
                    # An open object is a request's envelope: its consumer reads each plain value with its own
                    # checks (a form token that is a list is an invalid token, 403), and never walks one.
                    if shape.closed or not isinstance(known, Leaf):
                        children.append((child, known, _join(path, key)))
                    continue
                visited += 1
                if shape.closed and (isinstance(child, dict | list) or len(key) > KEY_CHARS or has_surrogate(key)
                                       or (isinstance(child, str) and has_surrogate(child))):
                    # Pydantic would name the key as not the form's, but the encoder would walk it first.
                    problems.append(FieldError(_join(path, shown(key)), _message("extra_forbidden", shown(key))))
                # An unknown key of an open object is ignored by its consumer, and never stored or hashed.
            stack.extend(reversed(children))
    return Outcome(problems, visited)


def check(value: Any, shape: Shape, path: str = "") -> list[FieldError]:
    return walk(value, shape, path).problems
