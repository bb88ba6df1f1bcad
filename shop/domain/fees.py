"""Fees as their own lines (T2.2, T3.3, T3.5, T7).

Every fee the shop charges is a line of its own with its VAT rate, never a
change to the price of goods: delivery fee, invoice fee, reminder fee and
the charges for parcels that come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shop.domain.money import require_non_negative
from shop.domain.vat import VatLine


class FeeKind(StrEnum):
    """What a fee line is for (stored on the order fee row)."""

    DELIVERY = "delivery"
    INVOICE = "invoice"
    REMINDER = "reminder"
    UNCLAIMED = "unclaimed"
    UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True)
class FeeLine:
    """One fee line: its kind, Swedish label, amount incl. VAT and VAT rate."""

    kind: FeeKind
    label_sv: str
    amount_ore: int
    vat_rate_bp: int

    def __post_init__(self) -> None:
        require_non_negative(self.amount_ore, "amount_ore")

    @property
    def vat_line(self) -> VatLine:
        """This fee as a line for :func:`shop.domain.vat.split_vat` (T2.1)."""
        return VatLine(gross_ore=self.amount_ore, rate_bp=self.vat_rate_bp)
