"""The anti-bot form token: `/api/campaign` signs the time a form was opened; a submission must bring it back
no sooner than a person could have filled the form and no later than a week."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import NamedTuple


class TokenProblem(NamedTuple):
    code: str  # "invalid" | "too_fast"
    retry_after: int = 0


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, b"form:" + payload.encode(), hashlib.sha256).hexdigest()[:32]


def issue(secret: bytes, now: datetime) -> str:
    payload = f"{int(now.timestamp() * 1000)}.{secrets.token_hex(8)}"
    return f"{payload}.{_sign(secret, payload)}"


# What `issue` makes: issued-at milliseconds, a nonce, the signature (ASCII only).
_SHAPE = re.compile(r"([0-9]{1,15})\.[0-9a-f]{16}\.[0-9a-f]{32}")


def check(secret: bytes, token: object, now: datetime, *, min_seconds: int, max_seconds: int) -> TokenProblem | None:
    """None when the token is genuine and its age is within bounds."""
    # Only the shape `issue` makes gets further: any other string (non-ASCII, a lone surrogate, digits that int()
    # refuses) would otherwise reach compare_digest or encode() and fail there instead of being refused.
    if not isinstance(token, str) or not (parts := _SHAPE.fullmatch(token)):
        return TokenProblem("invalid")
    payload, signature = token.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        return TokenProblem("invalid")
    issued_ms = int(parts.group(1))
    age = now.timestamp() - issued_ms / 1000
    if age > max_seconds or age < -60:
        return TokenProblem("invalid")
    if age < min_seconds:
        return TokenProblem("too_fast", retry_after=max(1, int(min_seconds - age + 0.999)))
    return None
