import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.codes import (
    ALPHABET,
    RANDOM_SYMBOLS,
    REBATE,
    VOUCHER,
    check_symbol,
    is_consistent,
    new_code,
    parse_code,
)
from loyalty.errors import ValidationError

payloads = st.text(alphabet=ALPHABET, min_size=RANDOM_SYMBOLS, max_size=RANDOM_SYMBOLS)


def test_a_code_carries_at_least_60_random_bits() -> None:
    assert len(ALPHABET) == 32 == len(set(ALPHABET))
    assert RANDOM_SYMBOLS * math.log2(len(ALPHABET)) >= 60
    codes = {new_code(REBATE).canonical for _ in range(2000)}
    assert len(codes) == 2000


def test_the_alphabet_has_no_look_alikes() -> None:
    assert not set("ILOU") & set(ALPHABET)


def test_codes_are_grouped_for_reading() -> None:
    code = new_code(REBATE)
    text = str(code)
    assert text.startswith("THX-")
    assert [len(group) for group in text.split("-")] == [3, 4, 4, 4, 1]
    assert parse_code(text) == code


def test_typing_is_forgiving() -> None:
    code = new_code(VOUCHER)
    sloppy = str(code).lower().replace("-", " ")
    assert parse_code(sloppy) == code
    assert parse_code(code.canonical) == code
    body = code.body.replace("0", "o").replace("1", "l")
    assert parse_code(f"rwd {body}") == code


@given(payloads, st.integers(0, RANDOM_SYMBOLS), st.sampled_from(ALPHABET))
def test_every_single_wrong_symbol_is_caught(payload: str, at: int, typo: str) -> None:
    whole = REBATE + payload + check_symbol(REBATE + payload)
    position = len(REBATE) + at
    if whole[position] == typo:
        return
    wrong = whole[:position] + typo + whole[position + 1 :]
    assert is_consistent(whole)
    assert not is_consistent(wrong)


@given(payloads, st.integers(0, RANDOM_SYMBOLS - 1))
def test_every_swap_of_neighbours_is_caught(payload: str, at: int) -> None:
    whole = REBATE + payload + check_symbol(REBATE + payload)
    i = len(REBATE) + at
    if whole[i] == whole[i + 1]:
        return
    swapped = whole[:i] + whole[i + 1] + whole[i] + whole[i + 2 :]
    assert not is_consistent(swapped)


def test_all_single_errors_and_swaps_on_one_code_exhaustively() -> None:
    whole = REBATE + "7K2M9QPD4WNR"
    whole += check_symbol(whole)
    for position, typo in itertools.product(range(len(whole)), ALPHABET):
        if whole[position] != typo:
            assert not is_consistent(whole[:position] + typo + whole[position + 1 :])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("THX-1234", "reads like"),
        ("ABC-7K2M-9QPD-4WNR-E", "reads like"),
        ("THX-7K2M-9QPD-4WNR-U", "'U' is not a character"),
    ],
)
def test_malformed_codes_say_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_code(typed)
    assert caught.value.field == "code"


def test_a_typo_is_reported_as_a_typo() -> None:
    code = str(new_code(REBATE))
    last = code[-1]
    typo = ALPHABET[(ALPHABET.index(last) + 1) % 32]
    with pytest.raises(ValidationError, match="typo"):
        parse_code(code[:-1] + typo)
