"""The console's identity rules, without AWS: passwords, TOTP, recovery codes, sessions, CSRF, throttling."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import pytest

from bdpilot.console import auth
from bdpilot.domain import campaign

AT = datetime(2020, 3, 2, 9, 0, 10, tzinfo=campaign.TZ)


def test_password_hash_is_argon2id_with_stated_parameters():
    stored = auth.hash_password("a long enough passphrase")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert auth.verify_password(stored, "a long enough passphrase")
    assert not auth.verify_password(stored, "a long enough passphrasE")
    assert not auth.needs_rehash(stored)


def test_weaker_hash_needs_rehash_and_garbage_or_missing_hash_never_verifies():
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("a long enough passphrase")
    assert auth.verify_password(weak, "a long enough passphrase")
    assert auth.needs_rehash(weak)
    assert not auth.verify_password("not a hash", "anything at all")
    assert not auth.verify_password(None, "anything at all")  # the decoy runs, the answer is still no


@pytest.mark.parametrize(("password", "problem"), [
    ("short pass1", "console.password_short"),  # 11 characters
    ("x" * 129, "console.password_long"),
    ("zhang.wei@example.cn", "console.password_email"),
    ("my zhang.wei secret", "console.password_email"),
    ("Password1234", "console.password_common"),
    ("woaini1314520", "console.password_common"),
])
def test_password_rules(password, problem):
    assert auth.password_problem(password, "Zhang.Wei@example.cn") == problem


@pytest.mark.parametrize("password", ["twelve chars", "x" * 128, "大数据产业发展试点示范项目申报",
                                      "correct horse battery"])
def test_passwords_that_pass(password):
    assert auth.password_problem(password, "zhang.wei@example.cn") is None


def test_totp_accepts_one_step_either_side_and_refuses_replay():
    secret = auth.new_totp_secret()
    now_step = auth.totp_step(AT)
    for offset in (-1, 0, 1):
        code = auth.totp_code(secret, AT + timedelta(seconds=30 * offset))
        assert auth.verify_totp(secret, code, AT, 0) == now_step + offset
    assert auth.verify_totp(secret, auth.totp_code(secret, AT + timedelta(seconds=60)), AT, 0) is None
    assert auth.verify_totp(secret, auth.totp_code(secret, AT - timedelta(seconds=60)), AT, 0) is None
    code = auth.totp_code(secret, AT)
    assert auth.verify_totp(secret, code, AT, now_step) is None  # its step was used: refused
    assert auth.verify_totp(secret, code, AT, now_step - 1) == now_step


def test_totp_matches_a_standard_authenticator_and_refuses_malformed_codes():
    secret = auth.new_totp_secret()
    assert len(pyotp.random_base32()) <= len(secret)
    standard = pyotp.TOTP(secret).at(AT)
    assert auth.verify_totp(secret, standard, AT, 0) is not None
    assert auth.verify_totp(secret, f" {standard[:3]} {standard[3:]} ", AT, 0) is not None
    for bad in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert auth.verify_totp(secret, bad, AT, 0) is None
    uri = auth.totp_uri(secret, "a@example.cn", "控制台")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri


def test_recovery_codes_are_ten_distinct_and_normalised_when_hashed():
    codes = auth.new_recovery_codes()
    assert len(codes) == len(set(codes)) == auth.RECOVERY_COUNT
    code = codes[0]
    assert len(code) == 11 and code[5] == "-"
    assert auth.recovery_digest(code) == auth.recovery_digest(" " + code.lower().replace("-", " ") + " ")
    assert auth.recovery_digest(code) != auth.recovery_digest(codes[1])


def test_tokens_are_random_and_stored_hashed():
    a, b = auth.token(), auth.token()
    assert a != b and len(a) >= 43
    assert auth.digest(a) != a and len(auth.digest(a)) == 64


def test_csrf_comparison():
    good = auth.token()
    assert auth.same(good, good)
    assert not auth.same(good, good[:-1])
    assert not auth.same(good, "")
    assert not auth.same("", "")


def test_idle_and_absolute_timeouts():
    start = auth.epoch(AT)
    assert auth.session_alive(start, start, AT + timedelta(minutes=29))
    assert not auth.session_alive(start, start, AT + timedelta(minutes=30))
    # Active all along, still ended after 12 hours.
    late = AT + timedelta(hours=12)
    assert auth.session_alive(start, auth.epoch(late) - 60, late - timedelta(seconds=1))
    assert not auth.session_alive(start, auth.epoch(late) - 60, late)
    assert auth.session_expiry(start) == start + 12 * 3600
    assert not auth.needs_touch(start, AT + timedelta(seconds=59))
    assert auth.needs_touch(start, AT + timedelta(seconds=60))


def test_account_lock_comes_at_the_fifth_failure_and_ends_by_itself():
    assert auth.lock_after(4, AT) is None
    until = auth.lock_after(5, AT)
    assert until == auth.epoch(AT) + 15 * 60
    record = {"failures": 5, "since": auth.epoch(AT), "locked_until": until}
    assert auth.account_locked(record, AT + timedelta(minutes=14, seconds=59))
    assert not auth.account_locked(record, AT + timedelta(minutes=15))
    assert not auth.account_locked(None, AT)


def test_address_is_blocked_at_thirty_failures_within_the_window():
    since = auth.epoch(AT)
    assert not auth.address_blocked({"failures": 29, "since": since}, AT)
    assert auth.address_blocked({"failures": 30, "since": since}, AT + timedelta(minutes=14))
    assert not auth.address_blocked({"failures": 30, "since": since}, AT + timedelta(minutes=15))
    assert not auth.address_blocked(None, AT)


def test_cookies_carry_the_host_prefix_attributes():
    cookie = auth.session_cookie("abc")
    assert cookie.startswith("__Host-bdstaff=abc;")
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    assert "Max-Age=0" in auth.clear_cookie()
