"""The anti-bot form token: `/api/campaign` signs the time a form was opened; a submission must bring it back
no sooner than a person could have filled the form and no later than a week."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TokenProblem:
    code: str  # "invalid" | "too_fast"
    retry_after: int = 0


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, b"form:" + payload.encode(), hashlib.sha256).hexdigest()[:32]


def issue(secret: bytes, now: datetime) -> str:
    payload = f"{int(now.timestamp() * 1000)}.{secrets.token_hex(8)}"
    return f"{payload}.{_sign(secret, payload)}"


def check(secret: bytes, token: object, now: datetime, *, min_seconds: int, max_seconds: int) -> TokenProblem | None:
    """None when the token is genuine and its age is within bounds."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 100:
        return TokenProblem("invalid")
    payload, signature = token.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        return TokenProblem("invalid")
    try:
        issued_ms = int(payload.split(".", 1)[0])
    except ValueError:
        return TokenProblem("invalid")
    age = now.timestamp() - issued_ms / 1000
    if age > max_seconds or age < -60:
        return TokenProblem("invalid")
    if age < min_seconds:
        return TokenProblem("too_fast", retry_after=max(1, int(min_seconds - age + 0.999)))
    return None
