"""Parcels that come back (T7): the charge from the domain as fee rows, stock, status, mail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import (
    AuditEntry,
    Order,
    OrderFee,
    OutboxMessage,
    Product,
    Shipment,
    StockLevel,
    StockMovement,
)
from shop.models.customer import Role
from shop.services import returned_parcels, shipping
from shop.services.customers import create_staff_member
from shop.services.returned_parcels import ReturnedKind
from tests.factories import NOW, PASSWORD, make_order, make_product

TODAY = date(2026, 11, 23)
DISPATCHED = date(2026, 11, 18)


@pytest.fixture
def staff_id(app: Flask) -> int:
    person = create_staff_member(
        email="lager@example.se", name="Lars Lager", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    return int(person.id)


def dispatched_order(staff_id: int) -> tuple[Order, Shipment, Product]:
    product = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500)
    order = make_order(lines=[(product, 2)], status=OrderStatus.CONFIRMED)
    line = order.lines[0]
    shipment = shipping.create_shipment(
        order,
        {line.id: 2},
        carrier="postnord",
        tracking_number="PN1SE",
        staff_id=staff_id,
        now=NOW,
    )
    shipping.mark_dispatched(shipment, staff_id=staff_id, today=DISPATCHED, now=NOW)
    return order, shipment, product


def delivery_fee(order: Order) -> int:
    return sum(fee.amount_ore for fee in order.fees if fee.kind == "delivery")


def mark(
    shipment: Shipment,
    staff_id: int,
    kind: ReturnedKind = ReturnedKind.UNCLAIMED,
    returned_on: date = TODAY,
    freight: int = 0,
    back: int = 0,
) -> returned_parcels.ReturnedResult:
    return returned_parcels.mark_returned(
        shipment,
        kind,
        returned_on,
        freight_ore=freight,
        return_freight_ore=back,
        staff_id=staff_id,
        today=TODAY,
        now=NOW,
    )


def fee_rows(order: Order, kind: str) -> list[tuple[str, int, int, int]]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(OrderFee).where(OrderFee.order_id == order.id, OrderFee.kind == kind)
    )
    return [(f.label, f.amount_ore, f.vat_rate_bp, f.vat_ore) for f in rows]


def on_hand(product: Product) -> int:
    db.session.expire_all()
    level = db.session.scalars(select(StockLevel).where(StockLevel.product_id == product.id)).one()
    return level.on_hand


def test_unclaimed_parcel_costs_freight_both_ways_and_the_admin_fee_t7_1(
    app: Flask, staff_id: int
) -> None:
    order, shipment, _ = dispatched_order(staff_id)
    paid = delivery_fee(order)
    assert paid > 0
    total_before, vat_before = order.total_ore, order.vat_ore
    # Odd öre: 33,33 kr over the paid delivery fee out, 79,01 kr back.
    result = mark(shipment, staff_id, freight=paid + 3333, back=7901)
    assert result.marked
    assert fee_rows(order, "unclaimed") == [
        ("Frakt till dig (outlöst paket)", 3333, 2500, 667),  # 666,6 → 667
        ("Returfrakt (outlöst paket)", 7901, 2500, 1580),  # 1580,2 → 1580
        ("Administrativ avgift (outlöst paket)", 5000, 0, 0),
    ]
    order = db.session.get(Order, order.id)  # type: ignore[assignment]
    assert order.total_ore == total_before + 3333 + 7901 + 5000
    assert order.vat_ore == vat_before + 667 + 1580
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "shipment.returned")
    ).one()
    assert entry.rule_id == "T7.1"
    assert entry.actor == f"staff:{staff_id}"
    assert entry.details["delivery_fee_offset_ore"] == paid
    assert entry.details["charged_ore"] == 3333 + 7901 + 5000
    assert order.email not in str(entry.details)
    assert order.name not in str(entry.details)


def test_unclaimed_offsets_the_paid_delivery_fee_only_once_t7_1(app: Flask, staff_id: int) -> None:
    """The delivery fee the buyer paid covers the outbound freight; no row for a zero line."""
    order, shipment, _ = dispatched_order(staff_id)
    paid = delivery_fee(order)
    mark(shipment, staff_id, freight=paid - 100, back=4900)
    assert fee_rows(order, "unclaimed") == [
        ("Returfrakt (outlöst paket)", 4900, 2500, 980),
        ("Administrativ avgift (outlöst paket)", 5000, 0, 0),
    ]
    assert returned_parcels._offset_used(order.id) == paid - 100


def test_undeliverable_parcel_costs_the_actual_freight_t7_2(app: Flask, staff_id: int) -> None:
    order, shipment, _ = dispatched_order(staff_id)
    total_before = order.total_ore
    result = mark(shipment, staff_id, ReturnedKind.UNDELIVERABLE, freight=8951, back=999)
    assert [fee.amount_ore for fee in result.fees] == [8951]
    assert fee_rows(order, "undeliverable") == [
        ("Fraktkostnad (felaktig adress, kom i retur)", 8951, 2500, 1790)
    ]
    assert fee_rows(order, "unclaimed") == []
    db.session.expire_all()
    assert db.session.get(Order, order.id).total_ore == total_before + 8951  # type: ignore[union-attr]
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "shipment.returned")
    ).one()
    assert entry.rule_id == "T7.2"
    assert entry.details["return_freight_ore"] == 0


def test_returned_on_may_be_the_dispatch_day_t7(app: Flask, staff_id: int) -> None:
    _, shipment, _ = dispatched_order(staff_id)
    assert mark(shipment, staff_id, returned_on=DISPATCHED, freight=5000).marked
    assert db.session.get(Shipment, shipment.id).returned_on == DISPATCHED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("returned_on", "message"),
    [
        (DISPATCHED - timedelta(days=1), "Returdatumet kan inte vara före avsändningsdagen"),
        (TODAY + timedelta(days=1), "Returdatumet kan inte ligga i framtiden."),
    ],
)
def test_returned_on_before_dispatch_or_in_the_future_is_refused_t7(
    app: Flask, staff_id: int, returned_on: date, message: str
) -> None:
    order, shipment, product = dispatched_order(staff_id)
    with pytest.raises(shipping.ShippingError) as refused:
        mark(shipment, staff_id, returned_on=returned_on, freight=5000)
    assert message in refused.value.message
    db.session.expire_all()
    assert db.session.get(Shipment, shipment.id).returned_kind is None  # type: ignore[union-attr]
    assert fee_rows(order, "unclaimed") == []
    assert on_hand(product) == 8


def test_a_delivered_or_unsent_parcel_cannot_come_back_t7(app: Flask, staff_id: int) -> None:
    order, shipment, _ = dispatched_order(staff_id)
    shipping.record_delivery(shipment, TODAY, staff_id=staff_id, today=TODAY, now=NOW)
    with pytest.raises(shipping.ShippingError) as refused:
        mark(shipment, staff_id, freight=5000)
    assert refused.value.message == (
        "Försändelsen är redan levererad och kan inte markeras som tillbakakommen."
    )
    assert fee_rows(order, "unclaimed") == []

    product = make_product()
    other = make_order(lines=[(product, 1)], status=OrderStatus.CONFIRMED)
    unsent = shipping.create_shipment(
        other,
        {other.lines[0].id: 1},
        carrier="dhl",
        tracking_number="JD1",
        staff_id=staff_id,
        now=NOW,
    )
    with pytest.raises(shipping.ShippingError) as refused:
        mark(unsent, staff_id, freight=5000)
    assert refused.value.message == "Försändelsen är inte skickad än."


def test_negative_freight_is_refused_t7(app: Flask, staff_id: int) -> None:
    _, shipment, _ = dispatched_order(staff_id)
    with pytest.raises(shipping.ShippingError) as refused:
        mark(shipment, staff_id, freight=5000, back=-1)
    assert refused.value.message == "Fraktkostnaden kan inte vara negativ."


def test_marking_twice_does_nothing_the_second_time_t7(app: Flask, staff_id: int) -> None:
    order, shipment, product = dispatched_order(staff_id)
    assert mark(shipment, staff_id, freight=9000, back=9000).marked
    again = mark(shipment, staff_id, ReturnedKind.UNDELIVERABLE, freight=9000)
    assert not again.marked
    assert again.fees == ()
    assert len(fee_rows(order, "unclaimed")) == 3
    assert fee_rows(order, "undeliverable") == []
    assert on_hand(product) == 10
    assert db.session.query(StockMovement).filter_by(kind="restock").count() == 1
    assert db.session.query(AuditEntry).filter_by(action="shipment.returned").count() == 1
    assert db.session.query(OutboxMessage).filter_by(template="returned_parcel").count() == 1
    assert db.session.get(Shipment, shipment.id).returned_kind == "unclaimed"  # type: ignore[union-attr]


def test_the_goods_go_back_on_the_shelf_and_the_order_is_returned_to_sender_t7(
    app: Flask, staff_id: int
) -> None:
    order, shipment, product = dispatched_order(staff_id)
    assert on_hand(product) == 8
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.SHIPPED.value  # type: ignore[union-attr]
    mark(shipment, staff_id, freight=5000, back=5000)
    assert on_hand(product) == 10
    moves = db.session.scalars(select(StockMovement).where(StockMovement.kind == "restock")).all()
    assert [(m.product_id, m.quantity, m.order_id) for m in moves] == [(product.id, 2, order.id)]
    assert db.session.get(Order, order.id).status == "returned_to_sender"  # type: ignore[union-attr]
    status = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "order.status")
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).one()
    assert status.details == {"from": "shipped", "to": "returned_to_sender"}
    assert status.actor == f"staff:{staff_id}"
    assert status.rule_id == "T7.1"


def test_the_customer_is_told_what_is_charged_and_why_t7(app: Flask, staff_id: int) -> None:
    order, shipment, _ = dispatched_order(staff_id)
    paid = delivery_fee(order)
    mark(shipment, staff_id, freight=paid + 3333, back=7901)
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "returned_parcel")
    ).one()
    assert message.to_address == order.email
    assert str(order.number) in message.subject
    text = message.body_text
    assert "hämtades inte ut" in text
    assert "frakten åt båda hållen och en administrativ avgift på 50 kr" in text
    assert f"Frakt till dig (outlöst paket): {format_sek(3333)}" in text
    assert f"varav moms 25 %: {format_sek(667)}" in text
    assert f"Returfrakt (outlöst paket): {format_sek(7901)}" in text
    assert f"Administrativ avgift (outlöst paket): {format_sek(5000)}" in text
    assert f"varav moms 0 %: {format_sek(0)}" in text
    assert f"Att betala: {format_sek(16234)} (varav moms {format_sek(2247)})" in text
    assert f"({format_sek(paid)}) är avräknad" in text
    assert "dras av från det vi betalar tillbaka" in text
    assert "separat faktura" in text
    assert message.body_html is not None
    assert format_sek(16234) in message.body_html


def test_the_undeliverable_mail_gives_the_reason_t7_2(app: Flask, staff_id: int) -> None:
    _, shipment, _ = dispatched_order(staff_id)
    mark(shipment, staff_id, ReturnedKind.UNDELIVERABLE, freight=8951)
    text = db.session.scalars(
        select(OutboxMessage.body_text).where(OutboxMessage.template == "returned_parcel")
    ).one()
    assert "adressen var felaktig" in text
    assert f"Fraktkostnad (felaktig adress, kom i retur): {format_sek(8951)}" in text
    assert "avräknad" not in text
