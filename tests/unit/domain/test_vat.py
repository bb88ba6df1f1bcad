"""VAT split per rate with per-line rounding (T2.1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.errors import InvalidAmount
from shop.domain.vat import VatLine, VatRate, split_vat, vat_of_gross


def test_T2_1_rates_in_basis_points() -> None:
    assert (VatRate.STANDARD, VatRate.REDUCED, VatRate.ZERO) == (2500, 600, 0)


@pytest.mark.parametrize(
    ("gross", "rate", "vat"),
    [
        (12500, 2500, 2500),
        (10600, 600, 600),
        (129900, 2500, 25980),
        (1900, 2500, 380),  # the invoice fee
        (5000, 0, 0),  # the reminder fee
        (1, 2500, 0),  # 0.2 öre
        (3, 2500, 1),  # 0.6 öre → 1
        (53, 600, 3),  # 3.0 öre exactly
        (159, 600, 9),  # 9.0
        (2, 2500, 0),  # 0.4 öre
        (10, 2500, 2),
        (-12500, 2500, -2500),  # credit line mirrors
    ],
)
def test_T2_1_vat_of_gross_half_up(gross: int, rate: int, vat: int) -> None:
    assert vat_of_gross(gross, rate) == vat


def test_T2_1_vat_of_gross_exact_tie_rounds_half_up() -> None:
    # At 25 % and 6 % an exact half öre cannot occur (gross/5, gross*6/106);
    # at 100 % it can: 3 öre contain 1.5 öre VAT → 2, and a credit mirrors it.
    assert vat_of_gross(3, 10000) == 2
    assert vat_of_gross(-3, 10000) == -2


def test_T2_1_split_vat_per_rate_sorted_and_totals() -> None:
    summary = split_vat(
        [
            VatLine(29900, VatRate.REDUCED),  # sheet music
            VatLine(129900, VatRate.STANDARD),  # instrument
            VatLine(1900, VatRate.STANDARD),  # invoice fee
            VatLine(5000, VatRate.ZERO),  # reminder fee
            VatLine(15950, VatRate.REDUCED),
        ]
    )
    assert [r.rate_bp for r in summary.rates] == [2500, 600, 0]
    standard, reduced, zero = summary.rates
    assert (standard.gross_ore, standard.vat_ore, standard.net_ore) == (131800, 26360, 105440)
    assert reduced.gross_ore == 45850
    assert reduced.vat_ore == vat_of_gross(29900, 600) + vat_of_gross(15950, 600) == 1692 + 903
    assert (zero.gross_ore, zero.vat_ore, zero.net_ore) == (5000, 0, 5000)
    assert summary.total_gross_ore == 182650
    assert summary.total_net_ore + summary.total_vat_ore == summary.total_gross_ore


def test_T2_1_per_line_rounding_differs_from_rounding_the_sum() -> None:
    # Three lines of 0,03 kr at 25 %: each 0.6 öre → 1, so 3 öre VAT; the sum
    # 0,09 kr rounded once would give 2 öre. Per-line is the rule.
    summary = split_vat([VatLine(3, 2500)] * 3)
    assert summary.total_vat_ore == 3
    assert vat_of_gross(9, 2500) == 2


def test_T2_1_empty_receipt() -> None:
    summary = split_vat([])
    assert summary.rates == ()
    assert (summary.total_gross_ore, summary.total_vat_ore, summary.total_net_ore) == (0, 0, 0)


@pytest.mark.parametrize("rate", [-1, 10001])
def test_T2_1_impossible_rate_is_refused(rate: int) -> None:
    with pytest.raises(InvalidAmount):
        VatLine(100, rate)


def test_T2_1_float_amount_is_refused() -> None:
    with pytest.raises(TypeError):
        VatLine(99.5, 2500)  # type: ignore[arg-type]


lines = st.lists(
    st.builds(
        VatLine,
        gross_ore=st.integers(-10_000_000, 10_000_000),
        rate_bp=st.sampled_from([2500, 1200, 600, 0]),
    ),
    max_size=40,
)


@given(lines)
def test_T2_1_property_vat_lines_always_sum_to_the_totals(vat_lines: list[VatLine]) -> None:
    summary = split_vat(vat_lines)
    assert summary.total_gross_ore == sum(line.gross_ore for line in vat_lines)
    assert summary.total_vat_ore == sum(line.vat_ore for line in vat_lines)
    assert summary.total_net_ore == sum(line.net_ore for line in vat_lines)
    assert summary.total_net_ore + summary.total_vat_ore == summary.total_gross_ore
    for rate in summary.rates:
        assert rate.net_ore + rate.vat_ore == rate.gross_ore
        same = [line for line in vat_lines if line.rate_bp == rate.rate_bp]
        assert rate.gross_ore == sum(line.gross_ore for line in same)
    assert [r.rate_bp for r in summary.rates] == sorted(
        {x.rate_bp for x in vat_lines}, reverse=True
    )
