"""Money in whole öre, and percentages in basis points (T2.1).

1 kr = 100 öre. Amounts are Python ``int`` öre, never ``float`` or
``Decimal``: the :class:`Money` type refuses them outright, so a rounding
error cannot creep in unnoticed. Percentages are integer basis points
(1 % = 100 bp, 25 % = 2 500 bp) and every rounding is explicit: half up, to
the whole öre.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

from shop.domain.errors import InvalidAmount

NBSP = "\u00a0"
BASIS_POINTS_PER_WHOLE = 10_000


def require_int(value: object, name: str) -> int:
    """Return ``value`` if it is an ``int`` (an IntEnum too, never bool), else ``TypeError``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int number of öre, not {type(value).__name__}")
    return value


def require_non_negative(value: int, name: str) -> int:
    """Return ``value`` if it is an int >= 0, else raise :class:`InvalidAmount`."""
    require_int(value, name)
    if value < 0:
        raise InvalidAmount(f"Beloppet ({name}) får inte vara negativt: {value} öre.")
    return value


@total_ordering
@dataclass(frozen=True)
class Money:
    """An amount in öre (T2.1). Refuses float, bool and Decimal with ``TypeError``.

    Supports ``+``, ``-``, unary ``-``, multiplication by an ``int`` and
    comparison with other ``Money`` values.
    """

    ore: int

    def __post_init__(self) -> None:
        require_int(self.ore, "Money.ore")
        object.__setattr__(self, "ore", int(self.ore))

    @classmethod
    def zero(cls) -> Money:
        """The amount 0,00 kr."""
        return cls(0)

    @classmethod
    def kr(cls, kronor: int) -> Money:
        """Whole kronor as money (``Money.kr(19) == Money(1900)``)."""
        return cls(require_int(kronor, "kronor") * 100)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.ore + other.ore)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.ore - other.ore)

    def __neg__(self) -> Money:
        return Money(-self.ore)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            return NotImplemented
        return Money(self.ore * factor)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.ore < other.ore

    def __str__(self) -> str:
        return format_sek(self.ore)

    def percent(self, basis_points: int) -> Money:
        """This amount times ``basis_points`` / 10 000, half up (see :func:`percent_of`)."""
        return Money(percent_of(self.ore, basis_points))


def sum_money(amounts: Iterable[Money]) -> Money:
    """The sum of ``amounts`` (0 kr for none)."""
    total = 0
    for amount in amounts:
        if not isinstance(amount, Money):
            raise TypeError(f"sum_money takes Money, not {type(amount).__name__}")
        total += amount.ore
    return Money(total)


def div_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up (away from zero on a tie).

    The rounding is symmetric, so a credit (negative amount) mirrors the
    amount it credits to the öre.
    """
    require_int(numerator, "numerator")
    require_int(denominator, "denominator")
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def percent_of(amount_ore: int, basis_points: int) -> int:
    """``amount_ore`` × ``basis_points`` / 10 000, half up to the whole öre (T2.1, T9.3).

    ``percent_of(1001, 5000) == 501`` (50 % of 10,01 kr). ``basis_points``
    must be >= 0; a negative amount gives the mirror of the positive one.
    """
    require_int(amount_ore, "amount_ore")
    require_int(basis_points, "basis_points")
    if basis_points < 0:
        raise InvalidAmount(f"Procentsatsen får inte vara negativ: {basis_points} baspunkter.")
    return div_half_up(amount_ore * basis_points, BASIS_POINTS_PER_WHOLE)


def format_sek(ore: int) -> str:
    """Swedish display of an amount: ``format_sek(129900) == "1 299,00 kr"`` (T2.1).

    Non-breaking spaces separate thousands and the unit; the decimal sign is
    a comma; a negative amount starts with ``-``.
    """
    require_int(ore, "ore")
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    grouped = f"{kronor:,}".replace(",", NBSP)
    return f"{sign}{grouped},{rest:02d}{NBSP}kr"
