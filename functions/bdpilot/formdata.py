"""A 申报书 posted as a plain HTML form (application/x-www-form-urlencoded), turned into the JSON API's body.

Browsers without JavaScript post the /apply/ form as it is: control names are dotted paths
("application.applicant.uscc", "application.attachments.0.kind"), so the nested structure follows from the
names. An empty box means "not answered" (as if the key were absent); a checked checkbox sends "on".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from bdpilot.submission import Rejection, canonical

FORM = "application/x-www-form-urlencoded"
ROOT = "application"
MAX_FIELDS = 500  # the form has about 60 controls; a body with thousands of names is not a person's


@dataclass(frozen=True)
class Posted:
    payload: dict[str, Any]  # as the JSON API takes it: {"application": {...}, "form_token": ..., "website": ...}
    key: str


def is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == FORM


@cache
def _booleans() -> frozenset[str]:
    from bdpilot.application import form_schema
    from bdpilot.formhtml import all_fields

    return frozenset(f.path for f in all_fields(form_schema()) if f.spec.get("type") == "boolean")


def _listify(node: Any) -> Any:
    """Objects whose keys are all indices ("0", "1", …) become lists, in index order."""
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """[("application.cover.direction", "3"), …] → {"cover": {"direction": "3"}, …}."""
    root: dict[str, Any] = {}
    booleans = _booleans()
    for name, value in pairs:
        parts = name.split(".")
        if parts[0] != ROOT or len(parts) < 2 or "" in parts:
            continue
        node = root
        for part in parts[1:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # "a.b=1" and "a.b.c=2" both posted: keep the first
                break
            node = child
        else:
            # Sections are created even when all their boxes are empty, so errors name the fields.
            if name in booleans:
                node[parts[-1]] = value == "on" or value == "true"
            elif value != "":
                node[parts[-1]] = value
    return _listify(root)


def derive_key(token: str, application: Any) -> str:
    """The Idempotency-Key of a form posted without one: the same form posted twice is one submission."""
    return hashlib.sha256(token.encode() + b"\n" + canonical(application)).hexdigest()[:40]


def parse(body: bytes, header_key: str | None) -> Posted:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS,
                          encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise Rejection(400, "malformed", "请求内容不是有效的UTF-8文本") from exc
    except ValueError as exc:
        raise Rejection(400, "malformed", "表单内容过多，无法处理") from exc
    top = dict(pairs)
    application = nest(pairs)
    token = top.get("form_token", "")
    payload: dict[str, Any] = {"application": application, "form_token": token}
    if "website" in top:
        payload["website"] = top["website"]
    key = header_key or top.get("idempotency_key") or derive_key(token, application)
    return Posted(payload, key)
