"""A 申报书 posted as a plain HTML form (application/x-www-form-urlencoded), turned into the JSON API's body.

Browsers without JavaScript post the /apply/ form as it is: control names are dotted paths
("application.applicant.uscc", "application.attachments.0.kind"), so the nested structure follows from the
names. An empty box means "not answered" (as if the key were absent); a checked checkbox sends "on".
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from bdpilot import settings
from bdpilot.domain import bounds, tokens
from bdpilot.intake.submission import Rejection, canonical
from bdpilot.store import Store
from bdpilot.web import limits

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
    from bdpilot.domain.application import form_schema
    from bdpilot.web.formhtml import all_fields

    return frozenset(f.path for f in all_fields(form_schema()) if f.spec.get("type") == "boolean")


def _listify(node: Any) -> Any:
    """Objects whose keys are all indices ("0", "1", …) become lists, in index order."""
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isascii() and k.isdigit() and len(k) <= 9 for k in items):  # what int() takes, cheaply
        return [items[k] for k in sorted(items, key=int)]
    return items


@cache
def _max_parts() -> int:
    """The most dotted parts a control's name has: "application" and the 申报书's deepest field below it."""
    from bdpilot.domain.application import Application

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
            raise Rejection(400, "malformed", "表单内容无法处理，请刷新页面后重新填写提交")
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
    # The same ceiling as a JSON body, before the answers are hashed, validated or drawn back into the form.
    refused = limits.refused("/api/submissions", payload)
    if refused:
        raise Rejection(422, "validation_failed", *refused)
    key = header_key or top.get("idempotency_key") or derive_key(token, application)
    return Posted(payload, key)


# --- attachments without JavaScript -------------------------------------------------------------------------------
# A file cannot ride along a urlencoded form, and attachments never pass through the function. So a browser
# without JavaScript uploads first, on a page of plain forms that post each PDF straight to storage (presigned
# POST); storage redirects back here (success_action_redirect) with the object key, the upload is checked and
# listed, and "继续填写申报书" opens the form with the form token and the uploads filled in. The state between
# steps is the form token plus "kind:upload_id,…" in the query string; nothing is kept on the server.

STATE_ITEM = re.compile(r"^([a-z]+):([0-9a-f]{32})$")
MAX_STATE_ITEMS = 20


def parse_state(raw: str | None) -> list[tuple[str, str]]:
    from bdpilot.domain.application import ATTACHMENT_KINDS

    kinds = {k.value for k in ATTACHMENT_KINDS}
    items = []
    for part in (raw or "").split(",")[:MAX_STATE_ITEMS]:
        m = STATE_ITEM.fullmatch(part)
        if m and m.group(1) in kinds and m.groups() not in items:
            items.append((m.group(1), m.group(2)))
    return items


def state_text(items: list[tuple[str, str]]) -> str:
    return ",".join(f"{k}:{u}" for k, u in items)


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


def _token(cfg: settings.Settings, raw: str | None, now: datetime) -> str | None:
    problem = tokens.check(cfg.secret, raw, now, min_seconds=0, max_seconds=settings.TOKEN_MAX_AGE_SECONDS)
    return raw if problem is None else None


def upload_page(store: Store, cfg: settings.Settings, now: datetime, query: dict[str, str],
                base: str) -> tuple[int, str, list[str]]:
    """GET /api/apply/uploads: the no-JavaScript upload step, also where storage redirects after each file."""
    from bdpilot.domain import rules
    from bdpilot.domain.application import ATTACHMENT_KINDS
    from bdpilot.intake.submission import owner_of, upload_problem
    from bdpilot.web import pages
    from bdpilot.web.formhtml import size_text

    if not rules.window(now, cfg.deadline).open:
        return 403, pages.closed_page(), []
    token = _token(cfg, query.get("token"), now)
    items = parse_state(query.get("a")) if token else []
    notice, problem = "", ""
    if token is None:
        token = tokens.issue(cfg.secret, now)
        if query.get("token"):
            problem = "页面已过期，之前上传的附件需要重新上传"
    key = query.get("key") or ""
    arrived = key.rsplit("/", 1)[-1]
    kind = query.get("kind") or ""
    if key and STATE_ITEM.fullmatch(f"{kind}:{arrived}") and not problem:
        info = store.inspect_upload(arrived)
        title = next((t for k, (t, _) in ATTACHMENT_KINDS.items() if k.value == kind), "")
        problem = upload_problem(info, owner_of(token), title) or ""
        if info is not None and not problem:
            if sum(1 for k, _ in items if k == kind) >= 5:
                problem = f"{title}最多上传5个文件"
            else:
                items.append((kind, arrived))
                notice = f"已上传{title}（{size_text(info.size)}）"
    tickets = {}
    owner = owner_of(token)
    for k in ATTACHMENT_KINDS:
        redirect = f"{base}/api/apply/uploads?" + urlencode({"token": token, "a": state_text(items), "kind": k.value})
        tickets[k.value] = store.presign_upload(secrets.token_hex(16), owner, max_bytes=settings.MAX_UPLOAD_BYTES,
                                                expires=settings.UPLOAD_EXPIRES_SECONDS, redirect=redirect)
    origins = sorted({"{0.scheme}://{0.netloc}".format(urlsplit(t["url"])) for t in tickets.values()})
    return 200, pages.upload_page(token, state_text(items), items, tickets, notice, problem), origins


def form_with_uploads(cfg: settings.Settings, now: datetime, query: dict[str, str]) -> tuple[int, str]:
    """GET /api/apply/form: the form again, with the no-JavaScript uploads and their form token filled in."""
    from bdpilot.domain import rules
    from bdpilot.web import pages

    if not rules.window(now, cfg.deadline).open:
        return 403, pages.closed_page()
    token = _token(cfg, query.get("token"), now)
    if token is None:
        return 200, pages.form_page(None, [], tokens.issue(cfg.secret, now),
                                    "页面已过期，请重新上传附件", upload_state="")
    items = parse_state(query.get("a"))
    return 200, pages.form_page({"attachments": attachment_values(items)}, [], token, "",
                                upload_state=state_text(items))


def attachment_values(items: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Without JavaScript the original file name never reaches us: each file is named after its kind."""
    from bdpilot.domain.application import ATTACHMENT_KINDS

    titles = {k.value: t for k, (t, _) in ATTACHMENT_KINDS.items()}
    values, seen = [], dict.fromkeys(titles, 0)
    for kind, upload_id in items:
        seen[kind] += 1
        name = titles[kind] + (f"-{seen[kind]}" if seen[kind] > 1 else "") + ".pdf"
        values.append({"kind": kind, "upload_id": upload_id, "filename": name})
    return values
