"""Reference numbers such as BD2020-7KQ4-M9XR-3HCW-P6TA: read aloud over the phone, checked by a character.

The alphabet leaves out 0/O and 1/I. Fifteen characters carry 75 bits, so guessing or colliding is out of reach
(a birthday search over 35 bits took seconds); the last character is a Luhn mod N check, which catches every
single mistyped character and most swapped neighbours. A reference is derived from the request's
Idempotency-Key, so a retried request after a partial failure writes to the same place instead of leaving a
second copy; `attempt` gives the next candidate when a reference is already held by another key.
"""

from __future__ import annotations

import hashlib
import hmac
import re

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PREFIX = "BD2020"
GROUPS = 4
_BODY = GROUPS * 4 - 1  # 15 characters × 5 bits = 75 bits, plus the check character
PATTERN = re.compile(rf"^{PREFIX}((?:-[{ALPHABET}]{{4}}){{{GROUPS}}})$")
EXAMPLE = f"{PREFIX}-7KQ4-M9XR-3HCW-P6TA"


def _check_char(body: str) -> str:
    n = len(ALPHABET)
    total, factor = 0, 2
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def format_code(code: str) -> str:
    """BD2020 and the 16 characters in groups of four."""
    return PREFIX + "".join(f"-{code[i:i + 4]}" for i in range(0, len(code), 4))


def reference_for(secret: bytes, idempotency_key: str, attempt: int = 0) -> str:
    salt = b"ref:" if attempt == 0 else f"ref{attempt}:".encode()
    digest = hmac.new(secret, salt + idempotency_key.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:12], "big")
    body = ""
    for _ in range(_BODY):
        number, index = divmod(number, len(ALPHABET))
        body += ALPHABET[index]
    return format_code(body + _check_char(body))


def is_valid(reference: str) -> bool:
    match = PATTERN.fullmatch(reference)
    if not match:
        return False
    code = match.group(1).replace("-", "")
    return _check_char(code[:-1]) == code[-1]
