"""VAT (moms) contained in VAT-inclusive prices, split per rate (T2.1).

Prices are shown including VAT. For each line the VAT is computed from the
line's gross amount and rounded half up to the öre; the net amount is gross
minus VAT. Per rate and in total, net, VAT and gross are the sums of the
lines, so a receipt always adds up to the öre. Rates are basis points: 25 %
(standard), 6 % (printed and digital books and sheet music) and 0 % (the
reminder fee of T3.5, which is not a supply and carries no VAT).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from shop.domain.errors import InvalidAmount
from shop.domain.money import BASIS_POINTS_PER_WHOLE, div_half_up, require_int


class VatRate(IntEnum):
    """The Swedish VAT rates the shop uses, in basis points (T2.1)."""

    STANDARD = 2500
    REDUCED = 600
    ZERO = 0


def _require_rate(rate_bp: int) -> int:
    require_int(rate_bp, "rate_bp")
    if not 0 <= rate_bp <= BASIS_POINTS_PER_WHOLE:
        raise InvalidAmount(f"Momssatsen måste vara mellan 0 och 100 %: {rate_bp} baspunkter.")
    return rate_bp


def vat_of_gross(gross_ore: int, rate_bp: int) -> int:
    """The VAT contained in a VAT-inclusive amount, half up to the öre (T2.1).

    ``vat_of_gross(12500, 2500) == 2500``; ``vat_of_gross(10600, 600) == 600``.
    A negative amount (a credit line) gives the mirror of the positive one.
    """
    require_int(gross_ore, "gross_ore")
    _require_rate(rate_bp)
    return div_half_up(gross_ore * rate_bp, BASIS_POINTS_PER_WHOLE + rate_bp)


@dataclass(frozen=True)
class VatLine:
    """One line of a receipt: its VAT-inclusive amount and its VAT rate (T2.1).

    ``gross_ore`` is the line total (unit price × quantity). It may be
    negative for a credit or discount line.
    """

    gross_ore: int
    rate_bp: int

    def __post_init__(self) -> None:
        require_int(self.gross_ore, "gross_ore")
        _require_rate(self.rate_bp)

    @property
    def vat_ore(self) -> int:
        """The VAT in this line (T2.1, per-line rounding)."""
        return vat_of_gross(self.gross_ore, self.rate_bp)

    @property
    def net_ore(self) -> int:
        """The line amount without VAT (gross − VAT)."""
        return self.gross_ore - self.vat_ore


@dataclass(frozen=True)
class VatRateSum:
    """Net, VAT and gross for one rate on a receipt or invoice (T2.1)."""

    rate_bp: int
    net_ore: int
    vat_ore: int
    gross_ore: int


@dataclass(frozen=True)
class VatSummary:
    """The VAT specification of a receipt: one sum per rate and the totals (T2.1)."""

    rates: tuple[VatRateSum, ...]

    @property
    def total_gross_ore(self) -> int:
        """Total to pay, VAT included."""
        return sum(r.gross_ore for r in self.rates)

    @property
    def total_vat_ore(self) -> int:
        """Total VAT over all rates."""
        return sum(r.vat_ore for r in self.rates)

    @property
    def total_net_ore(self) -> int:
        """Total without VAT."""
        return sum(r.net_ore for r in self.rates)


def split_vat(lines: Iterable[VatLine]) -> VatSummary:
    """Split receipt lines per VAT rate, rounding per line (T2.1).

    Each rate's net, VAT and gross are sums of its lines; the totals are sums
    of the rates, so ``total_net + total_vat == total_gross`` always. Rates
    are listed from the highest to the lowest; a rate with no line is left
    out.
    """
    sums: dict[int, tuple[int, int, int]] = {}
    for line in lines:
        if not isinstance(line, VatLine):
            raise TypeError(f"split_vat takes VatLine, not {type(line).__name__}")
        net, vat, gross = sums.get(line.rate_bp, (0, 0, 0))
        sums[line.rate_bp] = (net + line.net_ore, vat + line.vat_ore, gross + line.gross_ore)
    return VatSummary(
        rates=tuple(
            VatRateSum(rate_bp=rate, net_ore=net, vat_ore=vat, gross_ore=gross)
            for rate, (net, vat, gross) in sorted(sums.items(), reverse=True)
        )
    )
