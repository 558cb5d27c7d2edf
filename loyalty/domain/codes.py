"""Codes a cashier can read out and type: rebate codes and reward vouchers.

A code is a prefix naming its kind, 60 random bits as twelve symbols of Crockford's base 32
(digits and letters without I, L, O and U), and one check symbol: THX-7K2M-9QPD-4WNR-E.
Typing is forgiving: case, spaces and dashes do not matter, O reads as 0, I and L as 1.

The check symbol is Damm's algorithm over the quasigroup x * y = 2x + y in GF(32): it
catches every single wrong symbol and every swap of two neighbouring symbols, which
covers most of what goes wrong when a code is read over a counter.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from loyalty.errors import ValidationError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_SYMBOLS = 12  # 60 bits
GROUP = 4
REBATE = "THX"
VOUCHER = "RWD"
PREFIXES = (REBATE, VOUCHER)
_REDUCE = 0b100101  # x^5 + x^2 + 1, irreducible over GF(2)


@dataclass(frozen=True)
class Code:
    prefix: str
    body: str  # the random symbols and the check symbol

    @property
    def canonical(self) -> str:
        """How the code is stored: no dashes, upper case."""
        return self.prefix + self.body

    def __str__(self) -> str:
        groups = [self.body[i : i + GROUP] for i in range(0, len(self.body), GROUP)]
        return "-".join([self.prefix, *groups])


def _step(interim: int, value: int) -> int:
    doubled = interim << 1
    if doubled & 0b100000:
        doubled ^= _REDUCE
    return doubled ^ value


def check_symbol(payload: str) -> str:
    """The symbol that makes the whole code fold to zero."""
    interim = 0
    for symbol in payload:
        interim = _step(interim, VALUES[symbol])
    # interim * c = 0 means 2 * interim + c = 0; in GF(2^5), minus is plus.
    return ALPHABET[_step(interim, 0)]


def is_consistent(text: str) -> bool:
    interim = 0
    for symbol in text:
        interim = _step(interim, VALUES[symbol])
    return interim == 0


def new_code(prefix: str) -> Code:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown code prefix {prefix!r}")
    random = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
    return Code(prefix, random + check_symbol(prefix + random))


def parse_code(text: str, field: str = "code") -> Code:
    """The code typed, or a ValidationError a cashier can act on."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(LOOK_ALIKES)
    prefix = cleaned[: len(REBATE)]
    body = cleaned[len(REBATE) :]
    if prefix not in PREFIXES or len(body) != RANDOM_SYMBOLS + 1:
        raise ValidationError(
            field, f"a code reads like {REBATE}-XXXX-XXXX-XXXX-X or {VOUCHER}-XXXX-XXXX-XXXX-X"
        )
    if unknown := sorted(set(body) - VALUES.keys()):
        raise ValidationError(field, f"{unknown[0]!r} is not a character codes use")
    if not is_consistent(cleaned):
        raise ValidationError(field, "this code has a typo: check each character and try again")
    return Code(prefix, body)


def shown(canonical: str) -> str:
    """A stored code as people read and type it: THX-XXXX-XXXX-XXXX-X."""
    return str(parse_code(canonical))
