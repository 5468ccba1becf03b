"""Money rules of contract §5 for Python callers: integer minor units, banker's rounding.

The dbt macros in dbt/macros/money.sql are the same rules for SQL; tests assert they agree.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from babel.numbers import get_currency_precision


def round_half_even(value: Fraction | Decimal | int) -> int:
    """The nearest integer, ties to even, exactly (no float on the way)."""
    if isinstance(value, Decimal):
        return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))
    value = Fraction(value)
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def money_share(amount_minor: int, credits: Decimal, total_credits: Decimal) -> int:
    """round_half_even(amount × credits / total_credits) in minor units."""
    return round_half_even(Fraction(amount_minor) * Fraction(credits) / Fraction(total_credits))


def major_units(amount_minor: int, currency: str) -> str:
    """Integer minor units as exact decimal text in major units, with the currency's digits
    (babel: JPY 0, KWD 3): 14280 EUR -> "142.80". An int shifted by a power of ten, no float
    anywhere (the journal export, the Factur-X XML)."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError(f"money is integer minor units, got {amount_minor!r}")
    digits = get_currency_precision(currency)
    return format(Decimal(amount_minor).scaleb(-digits), "f")
