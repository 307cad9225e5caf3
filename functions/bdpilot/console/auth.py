"""Identity without AWS: password hashes and rules, TOTP, recovery codes, session ids and timeouts, CSRF tokens,
and the sign-in throttle. Pure functions of their arguments (the time is always passed in), so every rule is
tested without a table; the handler and the pages store what these functions return.

The checklist is OWASP ASVS 5.0, chapters V6 (authentication) and V7 (session management); the requirement each
rule answers is named beside it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# --- passwords (V6.2) -----------------------------------------------------------------------------------------

MIN_PASSWORD = 12  # V6.2.1: at least 8, 15 recommended; 12 with the common-password list below
MAX_PASSWORD = 128  # V6.2.9: at least 64 allowed; the bound also caps argon2's input

# V6.2.4: refuse the passwords people choose first (a short list: the length rule already removes most).
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "123456789abc", "1qaz2wsx3edc", "1q2w3e4r5t6y",
    "qwertyuiop12", "qwertyuiop123", "qwerty123456", "qwer1234qwer", "asdfghjkl123", "zxcvbnm12345",
    "password1234", "password123!", "passw0rd1234", "p@ssw0rd1234", "administrator", "admin1234567",
    "admin@123456", "iloveyou1234", "welcome12345", "abc123456789", "abcd12345678", "a123456789012",
    "woaini123456", "woaini1314520", "5201314520", "aa123456789a", "111111111111", "000000000000",
    "888888888888", "666666666666", "123123123123", "123321123321", "112233445566", "qazwsxedcrfv",
    "bigdata12345", "bigdata2020!", "miit12345678", "changeme1234", "letmein12345", "trustno11234",
})

# RFC 9106's second recommended option (64 MiB, 3 passes), stated rather than left to the library's defaults
# so a library upgrade cannot weaken stored hashes silently (V11.4.2: a slow, salted, memory-hard hash).
HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID)


def password_problem(password: str, email: str) -> str | None:
    """The wording key (console.password_*) of the first rule the password breaks, or None when it is fine.
    V6.2.5: no composition rules; V6.2.9: any Unicode character; V6.2.11: not the account's own name."""
    if len(password) < MIN_PASSWORD:
        return "console.password_short"
    if len(password) > MAX_PASSWORD:
        return "console.password_long"
    folded = password.casefold()
    local = email.casefold().split("@")[0]
    if folded == email.casefold() or (len(local) >= 4 and local in folded):
        return "console.password_email"
    if folded in COMMON_PASSWORDS:
        return "console.password_common"
    return None


def hash_password(password: str) -> str:
    return HASHER.hash(password)


@cache
def _decoy() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`. With no stored hash (unknown account, invitation not finished) a
    decoy is verified instead, so the answer takes as long as for a real account (V6.3.8)."""
    try:
        ok = HASHER.verify(stored or _decoy(), password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


def needs_rehash(stored: str) -> bool:
    """The stored hash was made with weaker parameters than HASHER's: replace it at the next sign-in."""
    return HASHER.check_needs_rehash(stored)


# --- TOTP (V6.6, RFC 6238) ------------------------------------------------------------------------------------

TOTP_STEP = 30
TOTP_DIGITS = 6
TOTP_DRIFT = 1  # one step either side: a phone clock 30 s off still works


def new_totp_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, RFC 4226's recommended length


def totp_uri(secret: str, email: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP).provisioning_uri(name=email, issuer_name=issuer)


def totp_step(at: datetime) -> int:
    return int(at.timestamp()) // TOTP_STEP


def totp_code(secret: str, at: datetime) -> str:
    """The code an authenticator shows at `at` (tests and the local run use it)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP).at(at)


def verify_totp(secret: str, code: str, at: datetime, last_step: int) -> int | None:
    """The time step `code` belongs to, or None. A step at or before `last_step` (the last one accepted) is
    refused, so a code seen over a shoulder cannot be used again (V6.6.4)."""
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP)
    now = totp_step(at)
    for step in range(now - TOTP_DRIFT, now + TOTP_DRIFT + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirmed(account: Mapping[str, Any]) -> bool:
    """The account's authenticator is set up: a first code was accepted (its step is above 0)."""
    return int(account.get("totp_last_step") or 0) > 0 and bool(account.get("password_hash"))


def looks_like_totp(code: str) -> bool:
    code = code.strip().replace(" ", "")
    return len(code) == TOTP_DIGITS and code.isascii() and code.isdigit()


# --- recovery codes (V6.5) ------------------------------------------------------------------------------------

RECOVERY_COUNT = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper


def new_recovery_codes() -> list[str]:
    """Ten codes of 10 characters (50 bits each), shown once as XXXXX-XXXXX; only their digests are kept."""
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_COUNT)]
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def recovery_digest(code: str) -> str:
    """What is stored for a recovery code: sha256 of the code without spaces or dashes, in capitals. Codes are
    random (not chosen by people), so a fast hash suffices (V6.5.2)."""
    normal = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode()).hexdigest()


# --- sessions and CSRF (V7) -----------------------------------------------------------------------------------

IDLE_SECONDS = 30 * 60  # V7.3.1: inactivity timeout
ABSOLUTE_SECONDS = 12 * 3600  # V7.3.2: absolute lifetime, whatever the activity
TOUCH_SECONDS = 60  # last_seen is written at most once a minute: idle time is exact to a minute
INVITATION_SECONDS = 72 * 3600
SETUP_SECONDS = 30 * 60  # between setting the password and confirming the first code


def token() -> str:
    """A fresh random token: session ids, CSRF tokens, invitation links (256 bits, V7.2.3)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """What the table keeps of a session id or invitation token: a leaked table holds nothing usable (V7.2.4)."""
    return hashlib.sha256(value.encode()).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two tokens (the CSRF check); an empty expected token never matches."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


COOKIE = "__Host-bdstaff"  # __Host-: only from this host over HTTPS with Path=/, never set by a subdomain
PRE_COOKIE = "__Host-bdstaff-pre"  # the CSRF token of forms posted before sign-in (double submit)
COOKIE_ATTRS = "HttpOnly; Secure; SameSite=Strict; Path=/"


def session_cookie(session_id: str, name: str = COOKIE) -> str:
    """No Max-Age: the browser forgets it when closed; the server's timeouts bound it either way (V7.3)."""
    return f"{name}={session_id}; {COOKIE_ATTRS}"


def clear_cookie(name: str = COOKIE) -> str:
    return f"{name}=; Max-Age=0; {COOKIE_ATTRS}"


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def session_alive(created_at: int, last_seen: int, at: datetime) -> bool:
    now = epoch(at)
    return now - last_seen < IDLE_SECONDS and now - created_at < ABSOLUTE_SECONDS


def session_expiry(created_at: int) -> int:
    """The session item's TTL: the absolute end (the idle timeout is checked on every request)."""
    return created_at + ABSOLUTE_SECONDS


def needs_touch(last_seen: int, at: datetime) -> bool:
    return epoch(at) - last_seen >= TOUCH_SECONDS


# --- throttling (V6.3.1) --------------------------------------------------------------------------------------
# The counts live in the staff table (store.accounts: an atomic ADD per failure within a window that starts at
# the first failure); these are the decisions taken on them.

ACCOUNT_FAILURES = 5
ACCOUNT_LOCK_SECONDS = 15 * 60  # also the window the five failures are counted in
ADDRESS_FAILURES = 30
ADDRESS_WINDOW_SECONDS = 15 * 60


def account_locked(record: Mapping[str, Any] | None, at: datetime) -> bool:
    """A lock ends by itself after ACCOUNT_LOCK_SECONDS: guessing someone's e-mail delays them, never shuts
    them out for good. Failures are counted for unknown e-mails too, so a lock tells nobody an account exists."""
    return record is not None and epoch(at) < int(record.get("locked_until") or 0)


def lock_after(failures: int, at: datetime) -> int | None:
    """Until when the account is locked after its `failures`-th failure in the window, or None."""
    return epoch(at) + ACCOUNT_LOCK_SECONDS if failures >= ACCOUNT_FAILURES else None


def address_blocked(record: Mapping[str, Any] | None, at: datetime) -> bool:
    """Too many failures from one address in the current window (any accounts): refused until it ends."""
    if record is None:
        return False
    in_window = epoch(at) < int(record.get("since") or 0) + ADDRESS_WINDOW_SECONDS
    return in_window and int(record.get("failures") or 0) >= ADDRESS_FAILURES
