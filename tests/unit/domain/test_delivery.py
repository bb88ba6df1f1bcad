"""Delivery fees, dispatch window and returned parcels (T2.2, T2.3, T4.1, T7)."""

from datetime import date

import pytest

from shop.domain.catalog import DeliveryMode, ProductKind, SizeClass
from shop.domain.delivery import (
    DEFAULT_RATE_TABLE,
    DeliveryItem,
    DeliveryRateTable,
    LetterRates,
    ParcelRates,
    PriceStep,
    delivery_mode_for,
    delivery_options,
    dispatch_window,
    estimate_delivery_fee,
    unclaimed_parcel_charges,
    undeliverable_parcel_charge,
)
from shop.domain.errors import InvalidAmount, InvalidFacts, InvalidPolicy
from shop.domain.fees import FeeKind
from shop.domain.policy import DEFAULT_POLICY, Policy

T = DEFAULT_RATE_TABLE
K, S = ProductKind, SizeClass


def item(kind: ProductKind, grams: int, size: SizeClass, qty: int = 1) -> DeliveryItem:
    return DeliveryItem(kind=kind, weight_g=grams, size_class=size, quantity=qty)


@pytest.mark.parametrize(
    ("kind", "grams", "size", "mode"),
    [
        (K.DOWNLOAD, 0, S.THIN, DeliveryMode.DOWNLOAD),
        (K.SOFTWARE_CODE, 0, S.THIN, DeliveryMode.CODE),
        (K.PHYSICAL, 150, S.THIN, DeliveryMode.LETTER),  # sheet music
        (K.PHYSICAL, 2000, S.THIN, DeliveryMode.LETTER),  # the heaviest letter
        (K.PHYSICAL, 2001, S.THIN, DeliveryMode.PARCEL),  # one gram more
        (K.SOFTWARE_BOXED, 300, S.SMALL, DeliveryMode.PARCEL),
        (K.PHYSICAL, 9000, S.OVERSIZE, DeliveryMode.PARCEL),
    ],
)
def test_T2_2_delivery_mode_for_product_page(
    kind: ProductKind, grams: int, size: SizeClass, mode: DeliveryMode
) -> None:
    assert delivery_mode_for(kind, grams, size, T) is mode


@pytest.mark.parametrize(
    "items",
    [
        [],
        [item(K.DOWNLOAD, 0, S.THIN)],
        [item(K.SOFTWARE_CODE, 0, S.THIN, 3), item(K.DOWNLOAD, 0, S.THIN)],
    ],
)
def test_T2_3_no_delivery_fee_for_downloads_and_codes(items: list[DeliveryItem]) -> None:
    assert delivery_options(items, T) == ()
    assert estimate_delivery_fee(items, T) == 0


@pytest.mark.parametrize(
    ("items", "methods", "cheapest"),
    [
        ([item(K.PHYSICAL, 100, S.THIN)], ["letter", "postnord_parcel", "dhl_parcel"], 2900),
        ([item(K.PHYSICAL, 101, S.THIN)], ["letter", "postnord_parcel", "dhl_parcel"], 4500),
        ([item(K.PHYSICAL, 500, S.THIN, 2)], ["letter", "postnord_parcel", "dhl_parcel"], 7900),
        ([item(K.PHYSICAL, 700, S.THIN, 3)], ["postnord_parcel", "dhl_parcel"], 7900 + 2000),
        ([item(K.PHYSICAL, 400, S.SMALL)], ["postnord_parcel", "dhl_parcel"], 7900),
        (
            [item(K.PHYSICAL, 200, S.THIN), item(K.PHYSICAL, 400, S.LARGE)],
            ["postnord_parcel", "dhl_parcel"],
            7900,
        ),
        # downloads in a mixed cart do not change the fee (T2.3)
        (
            [item(K.PHYSICAL, 200, S.THIN), item(K.DOWNLOAD, 0, S.THIN, 5)],
            ["letter", "postnord_parcel", "dhl_parcel"],
            4500,
        ),
    ],
)
def test_T2_2_options_and_cheapest_fee(
    items: list[DeliveryItem], methods: list[str], cheapest: int
) -> None:
    options = delivery_options(items, T)
    assert [o.method for o in options] == methods
    assert [o.fee_ore for o in options] == sorted(o.fee_ore for o in options)
    assert estimate_delivery_fee(items, T) == cheapest == options[0].fee_ore
    assert all(o.vat_rate_bp == 2500 and o.label_sv for o in options)


@pytest.mark.parametrize(
    ("grams", "oversize", "postnord", "dhl"),
    [
        (20000, False, 22900, 23900),  # the last step
        (20001, False, 22900 + 1500, 23900 + 1400),  # one started kilo over
        (21000, False, 22900 + 1500, 23900 + 1400),
        (21001, False, 22900 + 3000, 23900 + 2800),
        (8000, True, 15900 + 25000, 16500 + 20000),  # oversize surcharge
    ],
)
def test_T2_2_heavy_and_oversize_parcels_cost_the_actual_freight(
    grams: int, oversize: bool, postnord: int, dhl: int
) -> None:
    size = S.OVERSIZE if oversize else S.LARGE
    fees = {o.method: o.fee_ore for o in delivery_options([item(K.PHYSICAL, grams, size)], T)}
    assert fees == {"postnord_parcel": postnord, "dhl_parcel": dhl}


def test_T2_2_the_rate_table_is_configuration() -> None:
    table = DeliveryRateTable(
        letter=LetterRates(steps=(PriceStep(500, 1000),)),
        parcels=(ParcelRates("own", "Eget bud", (PriceStep(5000, 5000),), 100, 0),),
        vat_rate_bp=2500,
    )
    assert estimate_delivery_fee([item(K.PHYSICAL, 400, S.THIN)], table) == 1000
    assert estimate_delivery_fee([item(K.PHYSICAL, 600, S.THIN)], table) == 5000
    assert Policy(delivery=table).delivery is table


@pytest.mark.parametrize(
    "make",
    [
        lambda: LetterRates(steps=()),
        lambda: LetterRates(steps=(PriceStep(500, 1), PriceStep(100, 2))),
        lambda: DeliveryRateTable(letter=T.letter, parcels=()),
        lambda: DeliveryRateTable(letter=T.letter, parcels=(T.parcels[0], T.parcels[0])),
        lambda: PriceStep(-1, 100),
    ],
)
def test_T2_2_broken_rate_tables_are_refused(make: object) -> None:
    with pytest.raises((InvalidPolicy, InvalidAmount)):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("grams", "qty", "error"),
    [(-1, 1, InvalidAmount), (100, 0, InvalidFacts), (100, -2, InvalidFacts)],
)
def test_T2_2_impossible_items_are_refused(grams: int, qty: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        item(K.PHYSICAL, grams, S.THIN, qty)


def test_T2_2_delivery_option_as_fee_line() -> None:
    option = delivery_options([item(K.PHYSICAL, 100, S.THIN)], T)[0]
    line = option.fee_line
    assert line.kind is FeeKind.DELIVERY
    assert line.amount_ore == 2900
    assert line.vat_line.vat_ore == 580


@pytest.mark.parametrize(
    ("placed", "first", "last"),
    [
        ("2026-11-09", "2026-11-10", "2026-11-13"),  # Monday → Tue..Fri
        ("2026-11-06", "2026-11-09", "2026-11-12"),  # Friday → Mon..Thu
        ("2026-11-07", "2026-11-09", "2026-11-12"),  # Saturday
        ("2026-04-02", "2026-04-07", "2026-04-10"),  # Maundy Thursday: Easter
        ("2026-06-17", "2026-06-18", "2026-06-24"),  # Midsummer Eve not a dispatch day
        ("2026-12-22", "2026-12-23", "2026-12-30"),  # Christmas
    ],
)
def test_T4_1_dispatch_window_in_working_days(placed: str, first: str, last: str) -> None:
    window = dispatch_window(date.fromisoformat(placed), policy=DEFAULT_POLICY)
    assert window == (date.fromisoformat(first), date.fromisoformat(last))


def test_T7_1_unclaimed_parcel_freight_both_ways_plus_admin_fee() -> None:
    lines = unclaimed_parcel_charges(9900, 9900, policy=DEFAULT_POLICY)
    assert [line.amount_ore for line in lines] == [9900, 9900, 5000]
    assert all(line.kind is FeeKind.UNCLAIMED for line in lines)
    assert [line.vat_rate_bp for line in lines] == [2500, 2500, 0]
    assert sum(line.amount_ore for line in lines) == 24800
    assert "Administrativ avgift" in lines[2].label_sv


def test_T7_1_admin_fee_comes_from_policy() -> None:
    policy = Policy(unclaimed_admin_fee_ore=7500, unclaimed_admin_fee_vat_bp=2500)
    admin = unclaimed_parcel_charges(0, 0, policy=policy)[2]
    assert (admin.amount_ore, admin.vat_rate_bp) == (7500, 2500)


def test_T7_1_negative_freight_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        unclaimed_parcel_charges(-1, 9900, policy=DEFAULT_POLICY)


def test_T7_2_undeliverable_parcel_costs_the_actual_freight() -> None:
    line = undeliverable_parcel_charge(12345, policy=DEFAULT_POLICY)
    assert (line.kind, line.amount_ore, line.vat_rate_bp) == (FeeKind.UNDELIVERABLE, 12345, 2500)
    with pytest.raises(InvalidAmount):
        undeliverable_parcel_charge(-5, policy=DEFAULT_POLICY)
