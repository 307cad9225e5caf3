from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bdpilot.domain import reference, tokens
from bdpilot.domain.campaign import TZ

SECRET = b"test-secret"
NOW = datetime(2019, 11, 20, 9, 0, tzinfo=TZ)


def test_reference_shape_and_check():
    ref = reference.reference_for(SECRET, "key-0123456789abcdef")
    assert reference.PATTERN.fullmatch(ref)
    assert reference.is_valid(ref)
    assert ref == reference.reference_for(SECRET, "key-0123456789abcdef")  # a retry lands on the same record
    assert ref != reference.reference_for(SECRET, "key-0123456789abcdeg")
    assert ref != reference.reference_for(b"other", "key-0123456789abcdef")


def test_references_carry_at_least_60_bits():
    # 35 bits fell to a birthday search in seconds; every reference must come from a space of ≥ 2^60.
    body = len(reference.reference_for(SECRET, "key-0123456789abcdef").replace("-", "")) - len(reference.PREFIX) - 1
    assert len(reference.ALPHABET) ** body >= 2**60
    refs = {reference.reference_for(SECRET, f"key-{i:016d}") for i in range(20_000)}
    assert len(refs) == 20_000


def test_attempts_give_other_references_for_the_same_key():
    key = "key-0123456789abcdef"
    refs = [reference.reference_for(SECRET, key, attempt) for attempt in range(4)]
    assert len(set(refs)) == 4 and all(reference.is_valid(r) for r in refs)
    assert refs[0] == reference.reference_for(SECRET, key)


@given(st.text(min_size=16, max_size=40), st.integers(0, 15), st.sampled_from(reference.ALPHABET))
def test_any_single_mistyped_character_is_caught(key, position, char):
    ref = reference.reference_for(SECRET, key)
    code = ref.replace("-", "")[len(reference.PREFIX):]
    if code[position] == char:
        return
    typo = code[:position] + char + code[position + 1:]
    assert not reference.is_valid(reference.format_code(typo))


def test_token_round_trip_and_age_bounds():
    token = tokens.issue(SECRET, NOW)
    later = NOW + timedelta(seconds=30)
    assert tokens.check(SECRET, token, later, min_seconds=10, max_seconds=3600) is None
    too_fast = tokens.check(SECRET, token, NOW + timedelta(seconds=3), min_seconds=10, max_seconds=3600)
    assert too_fast and too_fast.code == "too_fast" and too_fast.retry_after == 7
    expired = tokens.check(SECRET, token, NOW + timedelta(hours=2), min_seconds=10, max_seconds=3600)
    assert expired and expired.code == "invalid"


def test_forged_tokens_are_invalid():
    token = tokens.issue(SECRET, NOW)
    issued, nonce, sig = token.split(".")
    later = NOW + timedelta(minutes=5)
    for forged in (f"{int(issued) - 600_000}.{nonce}.{sig}", f"{issued}.{nonce}.{'0' * 32}",
                   tokens.issue(b"wrong", NOW), "", "abc", None, 12, "a.b.c"):
        problem = tokens.check(SECRET, forged, later, min_seconds=0, max_seconds=3600)
        assert problem is not None and problem.code == "invalid", forged
