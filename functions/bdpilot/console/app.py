"""The staff function: API Gateway REST events for /staff/* in, server-rendered pages out.

Interface shared by the console's modules (the lead's skeleton; auth fills in `handler`):
- `route(method, pattern, roles=...)` registers a view `view(ctx) -> Answer`; `{name}` in the pattern is a path
  parameter (`ctx.request.params["name"]`). `roles=None` means reachable signed out (sign-in, invitation).
- A view gets a `Context`: the parsed request, the signed-in `Staff` (from the verified session only), the
  session's CSRF token for its forms, the stores, and `audit(action, target)`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

STAFF_ROLES = ("miit", "unit")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)  # path parameters
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)  # urlencoded body, one value per name
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    cookies: dict[str, str] = field(default_factory=dict)
    address: str = ""  # the caller's IP as API Gateway saw it


@dataclass(frozen=True)
class Staff:
    email: str
    name: str
    role: str  # "miit" | "unit"
    unit: str | None  # the 推荐单位 of a unit account; None for MIIT


@dataclass
class Answer:
    status: int
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # full Set-Cookie values


@dataclass
class Context:
    request: Request
    staff: Staff | None
    csrf: str  # the hidden `csrf` field every POST form carries
    services: Any  # the stores (units, accounts, audit, reader), built once per container
    audit: Callable[..., None]  # audit(action: str, target: str = "", outcome: str = "ok", actor: str = "")
    now: datetime | None = None  # the request's time (domain.clock), one value for the whole request
    session: dict[str, Any] | None = None  # the stored session (a full one, or an invitation's set-up one)


View = Callable[[Context], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    view: View
    roles: tuple[str, ...] | None


ROUTES: list[Route] = []


def route(method: str, pattern: str, *, roles: tuple[str, ...] | None = STAFF_ROLES) -> Callable[[View], View]:
    """Register a view. A signed-out caller of a route with roles is sent to sign in; a signed-in caller whose
    role is not listed gets the same answer as for a page that does not exist."""
    compiled = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def register(view: View) -> View:
        ROUTES.append(Route(method, compiled, view, roles))
        return view

    return register


MAX_BODY_BYTES = 16 * 1024  # the largest console form is a few hundred bytes: refuse more before parsing
MAX_FIELDS = 40
FORM = "application/x-www-form-urlencoded"


class BadRequest(Exception):
    """A request the handler refuses before any view sees it: `status` is 400 or 413."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def parse_cookies(header: str) -> dict[str, str]:
    """`a=1; b=2` -> {a: 1, b: 2}; the first of repeated names wins (the most specific path, RFC 6265 5.4)."""
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip().strip('"')
    return found


def _body(event: dict[str, Any]) -> str:
    raw = event.get("body") or ""
    # Bound the size before decoding anything: base64 grows a body by a third.
    if len(raw) > (MAX_BODY_BYTES * 4 // 3 + 4 if event.get("isBase64Encoded") else MAX_BODY_BYTES):
        raise BadRequest(413)
    try:
        return base64.b64decode(raw).decode("utf-8") if event.get("isBase64Encoded") else raw
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(400) from None


def parse_request(event: dict[str, Any]) -> Request:
    """An API Gateway REST (v1) proxy event as a Request (BadRequest for a body too large or not text)."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if str(name).lower() == "cookie" and values:
            headers["cookie"] = "; ".join(str(v) for v in values)
    method = str(event.get("httpMethod") or "GET").upper()
    form: dict[str, str] = {}
    body = _body(event)
    if method == "POST" and headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        try:
            parsed = parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            raise BadRequest(400) from None
        form = {name: values[0] for name, values in parsed.items()}
    query = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
    address = str(((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "")
    return Request(method=method, path=str(event.get("path") or "/"), query=query, form=form, headers=headers,
                   cookies=parse_cookies(headers.get("cookie", "")), address=address)



def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if found and candidate.method == method:
            return candidate, found.groupdict()
    return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse, load the session, check CSRF on POST, dispatch, set headers (bdpilot.console.serving)."""
    from bdpilot.console import serving

    return serving.handle(event)
