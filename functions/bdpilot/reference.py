"""Reference numbers such as BD2020-7KQ4-M9XR: short, read aloud over the phone, checked by a character.

The alphabet leaves out 0/O and 1/I. The last character is a Luhn mod N check, which catches every single
mistyped character and most swapped neighbours. A reference is derived from the request's Idempotency-Key, so a
retried request after a partial failure writes to the same place instead of leaving a second copy.
"""

from __future__ import annotations

import hashlib
import hmac
import re

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PREFIX = "BD2020"
_BODY = 7
PATTERN = re.compile(rf"^{PREFIX}-([{ALPHABET}]{{4}})-([{ALPHABET}]{{4}})$")


def _check_char(body: str) -> str:
    n = len(ALPHABET)
    total, factor = 0, 2
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def reference_for(secret: bytes, idempotency_key: str) -> str:
    digest = hmac.new(secret, b"ref:" + idempotency_key.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    body = ""
    for _ in range(_BODY):
        number, index = divmod(number, len(ALPHABET))
        body += ALPHABET[index]
    code = body + _check_char(body)
    return f"{PREFIX}-{code[:4]}-{code[4:]}"


def is_valid(reference: str) -> bool:
    match = PATTERN.fullmatch(reference)
    if not match:
        return False
    code = match.group(1) + match.group(2)
    return _check_char(code[:-1]) == code[-1]
