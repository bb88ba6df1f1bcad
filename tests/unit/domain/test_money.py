"""Money, percentages and SEK display (T2.1)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.errors import InvalidAmount
from shop.domain.money import Money, format_sek, percent_of, sum_money


@pytest.mark.parametrize("bad", [1.0, 0.5, True, False, Decimal("1"), "100", None])
def test_T2_1_money_refuses_anything_but_int(bad: object) -> None:
    with pytest.raises(TypeError):
        Money(bad)  # type: ignore[arg-type]


def test_T2_1_money_arithmetic_and_comparison() -> None:
    a, b = Money(1999), Money(1)
    assert a + b == Money(2000)
    assert a - b == Money(1998)
    assert -a == Money(-1999)
    assert a * 3 == Money(5997)
    assert 3 * a == Money(5997)
    assert b < a <= Money(1999)
    assert a > b
    assert Money.kr(19) == Money(1900)
    assert sum_money([a, b, Money(-500)]) == Money(1500)
    assert sum_money([]) == Money(0) == Money.zero()


def test_T2_1_money_multiplication_by_float_is_refused() -> None:
    with pytest.raises(TypeError):
        Money(100) * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        sum_money([Money(1), 2])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("amount", "bp", "expected"),
    [
        (1001, 5000, 501),  # 500.5 → 501 (half up)
        (1000, 5000, 500),
        (999, 5000, 500),  # 499.5 → 500
        (1, 5000, 1),  # 0.5 → 1
        (1, 4999, 0),  # 0.4999 → 0
        (12345, 2500, 3086),  # 3086.25 → 3086
        (12346, 2500, 3087),  # 3086.5 → 3087
        (-1001, 5000, -501),  # mirror for credits
        (0, 10000, 0),
        (129900, 10000, 129900),
        (129900, 0, 0),
    ],
)
def test_T2_1_percent_of_rounds_half_up(amount: int, bp: int, expected: int) -> None:
    assert percent_of(amount, bp) == expected


def test_T2_1_percent_of_refuses_negative_rate_and_floats() -> None:
    with pytest.raises(InvalidAmount):
        percent_of(100, -1)
    with pytest.raises(TypeError):
        percent_of(100.0, 100)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ore", "text"),
    [
        (129900, "1\u00a0299,00\u00a0kr"),
        (-129900, "-1\u00a0299,00\u00a0kr"),
        (0, "0,00\u00a0kr"),
        (1, "0,01\u00a0kr"),
        (-5, "-0,05\u00a0kr"),
        (1900, "19,00\u00a0kr"),
        (99999, "999,99\u00a0kr"),
        (123456789, "1\u00a0234\u00a0567,89\u00a0kr"),
    ],
)
def test_T2_1_format_sek(ore: int, text: str) -> None:
    assert format_sek(ore) == text
    assert str(Money(ore)) == text


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(0, 10_000))
def test_T2_1_percent_of_is_within_half_an_ore_of_exact(amount: int, bp: int) -> None:
    exact_times_2 = 2 * amount * bp
    assert abs(2 * 10_000 * percent_of(amount, bp) - exact_times_2) <= 10_000
