"""The signed receipt link: whoever holds it may see (and, while allowed, revise) one application.

A token is `<reference>.<issued-at seconds, base 36>.<signature>`: the reference and when the link was made,
signed with a key derived from the function's secret for this purpose only ("receipt:"), so a form token or any
other signature made with the same secret can never pass as a receipt token. Only URL-safe characters. A token
stays valid for VALID_DAYS: long enough to outlast the review, short enough that an old mail does not open the
application forever. A lost link is sent again to the contact address on file (resend), never shown elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta
from urllib.parse import quote

from bdpilot.domain import reference

VALID_DAYS = 365
# A clock a little ahead on another machine must not make a fresh token "from the future".
_SKEW = timedelta(minutes=5)
_SHAPE = re.compile(r"(BD2020(?:-[0-9A-Z]{4}){4})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{43})")
MAX_TOKEN_CHARS = 80


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, b"receipt:", hashlib.sha256).digest()


def _sign(secret: bytes, payload: str) -> str:
    mac = hmac.new(_key(secret), payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def token(secret: bytes, ref: str, now: datetime) -> str:
    """A link token for `ref`, issued at `now` (timezone-aware)."""
    payload = f"{ref}.{_base36(int(now.timestamp()))}"
    return f"{payload}.{_sign(secret, payload)}"


def check(secret: bytes, value: object, now: datetime) -> str | None:
    """The reference a genuine, unexpired token names; None for anything else (forged, expired, malformed)."""
    # Only the shape `token` makes gets as far as the signature: no other string reaches encode() or int().
    if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS or not (parts := _SHAPE.fullmatch(value)):
        return None
    ref, issued, signature = parts.groups()
    if not hmac.compare_digest(signature, _sign(secret, f"{ref}.{issued}")):
        return None
    at = datetime.fromtimestamp(int(issued, 36), tz=now.tzinfo)
    if at > now + _SKEW or now - at > timedelta(days=VALID_DAYS) or not reference.is_valid(ref):
        return None
    return ref


def url(site_url: str, value: str) -> str:
    """The receipt page's address on the public site (the link e-mailed and shown after submitting)."""
    return f"{site_url.rstrip('/')}/api/receipt?t={quote(value, safe='')}"


def revise_url(site_url: str, value: str) -> str:
    """The form opened in revise mode for the holder of `value` (apply.js reads ?revise=)."""
    return f"{site_url.rstrip('/')}/apply/?revise={quote(value, safe='')}"


def link(secret: bytes, site_url: str, ref: str, now: datetime) -> str:
    """A fresh receipt link for `ref`: what the e-mails carry (cfg.secret, cfg.site_url)."""
    return url(site_url, token(secret, ref, now))
