"""Delivery fees, dispatch window and parcels that come back (T2.2, T2.3, T4.1, T7).

Physical goods (and boxed software) go by letter when every item is thin and
the whole shipment is light enough, otherwise as a parcel with PostNord or
DHL. The fee comes from a :class:`DeliveryRateTable`, which is configuration
(part of the shop's :class:`~shop.domain.policy.Policy`), not code: price
steps by weight, and for heavy or oversized parcels the actual freight
(a price per started kilo above the last step, and a surcharge for
oversize). Downloads and codes carry no delivery fee (T2.3). Delivery fees
carry 25 % VAT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from shop.domain.calendar import add_working_days
from shop.domain.catalog import DeliveryMode, ProductKind, SizeClass
from shop.domain.errors import InvalidFacts, InvalidPolicy
from shop.domain.fees import FeeKind, FeeLine
from shop.domain.money import require_int, require_non_negative
from shop.domain.vat import VatRate

if TYPE_CHECKING:
    from shop.domain.policy import Policy


@dataclass(frozen=True)
class PriceStep:
    """Fee (incl. VAT) for a shipment weighing at most ``max_weight_g`` grams."""

    max_weight_g: int
    fee_ore: int

    def __post_init__(self) -> None:
        require_non_negative(self.max_weight_g, "max_weight_g")
        require_non_negative(self.fee_ore, "fee_ore")


def _check_steps(steps: tuple[PriceStep, ...], what: str) -> None:
    if not steps:
        raise InvalidPolicy(f"Pristabellen för {what} är tom.")
    weights = [s.max_weight_g for s in steps]
    if weights != sorted(set(weights)):
        raise InvalidPolicy(f"Viktstegen för {what} måste vara i stigande ordning.")


def _step_fee(steps: tuple[PriceStep, ...], weight_g: int) -> int | None:
    for step in steps:
        if weight_g <= step.max_weight_g:
            return step.fee_ore
    return None


@dataclass(frozen=True)
class LetterRates:
    """Letter (A-brev / varubrev with PostNord) for thin, light shipments (T2.2)."""

    steps: tuple[PriceStep, ...]
    size_classes: tuple[SizeClass, ...] = (SizeClass.THIN,)
    method: str = "letter"
    label_sv: str = "Brev med PostNord (varubrev)"

    def __post_init__(self) -> None:
        _check_steps(self.steps, "brev")

    @property
    def max_weight_g(self) -> int:
        """The heaviest shipment that may go as a letter."""
        return self.steps[-1].max_weight_g


@dataclass(frozen=True)
class ParcelRates:
    """One parcel carrier's price list (T2.2).

    Above the last step, the actual freight: the last step's fee plus
    ``per_started_kg_above_ore`` for every started kilo over it. An oversize
    item adds ``oversize_surcharge_ore`` once per parcel.
    """

    method: str
    label_sv: str
    steps: tuple[PriceStep, ...]
    per_started_kg_above_ore: int
    oversize_surcharge_ore: int

    def __post_init__(self) -> None:
        _check_steps(self.steps, self.method)
        require_non_negative(self.per_started_kg_above_ore, "per_started_kg_above_ore")
        require_non_negative(self.oversize_surcharge_ore, "oversize_surcharge_ore")

    def fee_for(self, weight_g: int, oversize: bool) -> int:
        """The freight for a parcel of ``weight_g`` grams (T2.2)."""
        fee = _step_fee(self.steps, weight_g)
        if fee is None:
            last = self.steps[-1]
            started_kg = -(-(weight_g - last.max_weight_g) // 1000)
            fee = last.fee_ore + started_kg * self.per_started_kg_above_ore
        return fee + (self.oversize_surcharge_ore if oversize else 0)


@dataclass(frozen=True)
class DeliveryRateTable:
    """The shop's delivery price list (T2.2): letter and parcel carriers, VAT rate."""

    letter: LetterRates
    parcels: tuple[ParcelRates, ...]
    vat_rate_bp: int = VatRate.STANDARD

    def __post_init__(self) -> None:
        if not self.parcels:
            raise InvalidPolicy("Minst ett paketalternativ måste finnas.")
        methods = [self.letter.method, *(p.method for p in self.parcels)]
        if len(set(methods)) != len(methods):
            raise InvalidPolicy("Varje leveranssätt måste ha ett eget namn.")


#: Realistic 2026 Swedish prices incl. 25 % VAT (PostNord varubrev, PostNord
#: MyPack Collect, DHL Service Point), rounded to whole kronor.
DEFAULT_RATE_TABLE = DeliveryRateTable(
    letter=LetterRates(
        steps=(
            PriceStep(100, 2900),
            PriceStep(250, 4500),
            PriceStep(500, 5900),
            PriceStep(1000, 7900),
            PriceStep(2000, 9900),
        ),
    ),
    parcels=(
        ParcelRates(
            method="postnord_parcel",
            label_sv="Paket med PostNord (hämtas hos ombud)",
            steps=(
                PriceStep(1000, 7900),
                PriceStep(3000, 9900),
                PriceStep(5000, 11900),
                PriceStep(10000, 15900),
                PriceStep(20000, 22900),
            ),
            per_started_kg_above_ore=1500,
            oversize_surcharge_ore=25000,
        ),
        ParcelRates(
            method="dhl_parcel",
            label_sv="Paket med DHL (hämtas hos ombud)",
            steps=(
                PriceStep(1000, 8900),
                PriceStep(3000, 10500),
                PriceStep(5000, 12500),
                PriceStep(10000, 16500),
                PriceStep(20000, 23900),
            ),
            per_started_kg_above_ore=1400,
            oversize_surcharge_ore=20000,
        ),
    ),
)


@dataclass(frozen=True)
class DeliveryItem:
    """One cart line as far as delivery is concerned (T2.2, T2.3)."""

    kind: ProductKind
    weight_g: int
    size_class: SizeClass
    quantity: int

    def __post_init__(self) -> None:
        require_non_negative(self.weight_g, "weight_g")
        require_int(self.quantity, "quantity")
        if self.quantity < 1:
            raise InvalidFacts(f"Antalet måste vara minst 1, inte {self.quantity}.")


@dataclass(frozen=True)
class DeliveryOption:
    """A delivery method offered at checkout with its fee incl. VAT (T2.2)."""

    method: str
    label_sv: str
    fee_ore: int
    vat_rate_bp: int

    @property
    def fee_line(self) -> FeeLine:
        """The delivery fee as its own order line."""
        return FeeLine(FeeKind.DELIVERY, self.label_sv, self.fee_ore, self.vat_rate_bp)


def delivery_mode_for(
    kind: ProductKind, weight_g: int, size_class: SizeClass, table: DeliveryRateTable
) -> DeliveryMode:
    """How a single item travels, for the note on the product page (T2.2, T2.3)."""
    require_non_negative(weight_g, "weight_g")
    if kind is ProductKind.DOWNLOAD:
        return DeliveryMode.DOWNLOAD
    if kind is ProductKind.SOFTWARE_CODE:
        return DeliveryMode.CODE
    if size_class in table.letter.size_classes and weight_g <= table.letter.max_weight_g:
        return DeliveryMode.LETTER
    return DeliveryMode.PARCEL


def delivery_options(
    items: Iterable[DeliveryItem], table: DeliveryRateTable
) -> tuple[DeliveryOption, ...]:
    """The delivery methods offered for a cart, cheapest first (T2.2, T2.3).

    All shipped items travel together. A letter is offered when every shipped
    item is thin and the total weight fits the letter steps. An empty tuple
    when nothing is shipped (only downloads and codes: no delivery fee).
    """
    shipped = [item for item in items if item.kind.is_shipped]
    if not shipped:
        return ()
    weight = sum(item.weight_g * item.quantity for item in shipped)
    oversize = any(item.size_class is SizeClass.OVERSIZE for item in shipped)
    options: list[DeliveryOption] = []
    letter = table.letter
    if all(item.size_class in letter.size_classes for item in shipped):
        fee = _step_fee(letter.steps, weight)
        if fee is not None:
            options.append(DeliveryOption(letter.method, letter.label_sv, fee, table.vat_rate_bp))
    for carrier in table.parcels:
        options.append(
            DeliveryOption(
                carrier.method,
                carrier.label_sv,
                carrier.fee_for(weight, oversize),
                table.vat_rate_bp,
            )
        )
    return tuple(sorted(options, key=lambda option: option.fee_ore))


def estimate_delivery_fee(items: Iterable[DeliveryItem], table: DeliveryRateTable) -> int:
    """The cheapest delivery fee for a cart; 0 when nothing is shipped (T2.2, T2.3, T5.6)."""
    options = delivery_options(items, table)
    return options[0].fee_ore if options else 0


def dispatch_window(placed_on: date, *, policy: Policy) -> tuple[date, date]:
    """T4.1: the first and last expected dispatch day (1–4 working days after the order)."""
    first, last = policy.dispatch_working_days
    return add_working_days(placed_on, first), add_working_days(placed_on, last)


def unclaimed_parcel_charges(
    outbound_freight_ore: int, return_freight_ore: int, *, policy: Policy
) -> tuple[FeeLine, ...]:
    """T7.1: an unclaimed parcel costs the freight both ways plus a 50 kr admin fee.

    The freight lines carry the delivery VAT rate; the admin fee carries
    ``policy.unclaimed_admin_fee_vat_bp``. A delivery fee the buyer already
    paid is offset by the service, not here.
    """
    vat = policy.delivery.vat_rate_bp
    return (
        FeeLine(
            FeeKind.UNCLAIMED,
            "Frakt till dig (outlöst paket)",
            require_non_negative(outbound_freight_ore, "outbound_freight_ore"),
            vat,
        ),
        FeeLine(
            FeeKind.UNCLAIMED,
            "Returfrakt (outlöst paket)",
            require_non_negative(return_freight_ore, "return_freight_ore"),
            vat,
        ),
        FeeLine(
            FeeKind.UNCLAIMED,
            "Administrativ avgift (outlöst paket)",
            policy.unclaimed_admin_fee_ore,
            policy.unclaimed_admin_fee_vat_bp,
        ),
    )


def undeliverable_parcel_charge(actual_freight_ore: int, *, policy: Policy) -> FeeLine:
    """T7.2: a parcel returned for a wrong address costs the actual freight."""
    return FeeLine(
        FeeKind.UNDELIVERABLE,
        "Fraktkostnad (felaktig adress, kom i retur)",
        require_non_negative(actual_freight_ore, "actual_freight_ore"),
        policy.delivery.vat_rate_bp,
    )
