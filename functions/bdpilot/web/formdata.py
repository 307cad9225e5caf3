"""A 申报书 posted as a plain HTML form (application/x-www-form-urlencoded), turned into the JSON API's body.

Browsers without JavaScript post the /apply/ form as it is: control names are dotted paths
("application.applicant.uscc", "application.attachments.0.kind"), so the nested structure follows from the
names. An empty box means "not answered" (as if the key were absent); a checked checkbox sends "on".
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from bdpilot.domain import bounds, wording
from bdpilot.domain.application import Application, form_schema
from bdpilot.intake.refusals import Unreadable
from bdpilot.intake.submission import canonical
from bdpilot.web import limits
from bdpilot.web.schemawalk import all_fields

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
    return frozenset(f.path for f in all_fields(form_schema()) if f.spec.get("type") == "boolean")


def _listify(node: Any) -> Any:
    """Objects whose keys are all indices ("0", "1", …) become lists, in index order."""
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isascii() and k.isdigit() and len(k) <= 9 for k in items):  # what int() takes, cheaply
        return [items[k] for k in sorted(items, key=int)]
    return items


def prepare() -> None:
    """Build what the first no-JavaScript post would (web.warmup, before a SnapStart snapshot)."""
    _booleans(), _max_parts()


@cache
def _max_parts() -> int:
    """The most dotted parts a control's name has: "application" and the 申报书's deepest field below it."""
    return 1 + bounds.depth(bounds.shape_of(Application))


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """[("application.cover.direction", "3"), …] → {"cover": {"direction": "3"}, …}."""
    root: dict[str, Any] = {}
    booleans = _booleans()
    deepest = _max_parts()
    for name, value in pairs:
        parts = name.split(".", deepest)
        if parts[0] != ROOT or len(parts) < 2 or "" in parts:
            continue
        if len(parts) > deepest:
            # No control of the form is named that deep; the nesting (and _listify's recursion) stays the form's.
            raise Unreadable("malformed", wording.text("intake.form_unreadable"))
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
        raise Unreadable("malformed", wording.text("intake.not_utf8")) from exc
    except ValueError as exc:
        raise Unreadable("malformed", wording.text("intake.form_too_many")) from exc
    top = dict(pairs)
    application = nest(pairs)
    token = top.get("form_token", "")
    payload: dict[str, Any] = {"application": application, "form_token": token}
    if "website" in top:
        payload["website"] = top["website"]
    # The same ceiling as a JSON body, before the answers are hashed, validated or drawn back into the form.
    limits.enforce("/api/submissions", payload)
    key = header_key or top.get("idempotency_key") or derive_key(token, application)
    return Posted(payload, key)


def site_base(headers: dict[str, str]) -> str:
    """Where storage should send the browser back to: BDPILOT_SITE_URL when the API sits behind another host
    name (CloudFront), else the host the request came to."""
    configured = os.environ.get("BDPILOT_SITE_URL", "").rstrip("/")
    if configured:
        return configured
    lower = {k.lower(): v for k, v in headers.items()}
    host = lower.get("x-forwarded-host") or lower.get("host") or "localhost"
    proto = lower.get("x-forwarded-proto") or ("http" if host.startswith(("127.0.0.1", "localhost")) else "https")
    return f"{proto}://{host}"


