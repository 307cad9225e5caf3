"""统一社会信用代码 (GB 32100-2015), phone numbers, postcodes and e-mail formats."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bdpilot.domain.formats import USCC_ALPHABET, halfwidth, normalize_uscc, uscc_check_char, uscc_problem
from tests.factories import VALID_USCC


@pytest.mark.parametrize("code", VALID_USCC)
def test_published_examples_are_valid(code):
    assert uscc_problem(code) is None


def test_check_value_31_maps_to_zero():
    # Find a real prefix whose weighted sum is ≡ 0 (mod 31): 31 − 0 = 31 must give "0", not fail or give "Y".
    base = "91110108551385082"
    for c in USCC_ALPHABET:
        prefix = base[:16] + c
        total = sum(USCC_ALPHABET.index(x) * w for x, w in zip(prefix, (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13,
                                                                        8, 24, 10, 30, 28), strict=True))
        if total % 31 == 0:
            assert uscc_check_char(prefix) == "0"
            assert uscc_problem(prefix + "0") is None
            return
    pytest.fail("no prefix with sum ≡ 0 mod 31 found")


def test_full_width_lower_case_and_spaces_are_normalized():
    assert normalize_uscc("９１３５０１００ｍ０００１００ｙ４３") == "91350100M000100Y43"
    assert normalize_uscc(" 9135 0100 m000 100y43\u3000") == "91350100M000100Y43"
    assert halfwidth("０１０－８８６９２４５０") == "010-88692450"


@pytest.mark.parametrize("code,problem", [
    ("91350100M000100Y4", "uscc_format"),        # 17 characters
    ("91350100M000100Y433", "uscc_format"),      # 19 characters
    ("91350100M000100I43", "uscc_format"),       # I is not in the alphabet
    ("913501O0M000100Y43", "uscc_format"),       # letter in the area code
    ("91350100M000100Y44", "uscc_check"),
])
def test_invalid_codes(code, problem):
    assert uscc_problem(code) == problem


@given(st.sampled_from(VALID_USCC), st.integers(0, 17), st.sampled_from(USCC_ALPHABET))
def test_every_single_character_change_is_rejected(code, position, replacement):
    if code[position] == replacement:
        return
    changed = code[:position] + replacement + code[position + 1:]
    assert uscc_problem(changed) is not None
