"""Shipping (T4.2): shipments, dispatch with stock and status, Klarna capture, delivery dates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus, PaymentStatus
from shop.extensions import db
from shop.models import (
    AuditEntry,
    Order,
    OutboxMessage,
    Payment,
    Product,
    Shipment,
    StockLevel,
    StockMovement,
)
from shop.models.customer import Role
from shop.services import payments, shipping
from shop.services.customers import create_staff_member
from tests.factories import NOW, PASSWORD, make_order, make_product
from tests.fakes.klarna_api import FakeKlarna
from tests.fakes.server import Fault
from tests.payments_support import count, klarna_config, registry_for, status_of, use_registry

TODAY = date(2026, 11, 23)
RETURN = "http://localhost/betalning/klar"


@pytest.fixture
def staff_id(app: Flask) -> int:
    person = create_staff_member(
        email="lager@example.se", name="Lars Lager", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    return int(person.id)


@pytest.fixture
def klarna(app: Flask) -> Iterator[FakeKlarna]:
    fake = FakeKlarna()
    fake.start()
    try:
        with use_registry(app, registry_for(app, **klarna_config(fake))):
            yield fake
    finally:
        fake.stop()


def two_products() -> tuple[Product, Product]:
    a = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500)
    b = make_product(title="Bach: Cellosviter", price_ore=24900, vat_rate_bp=600)
    return a, b


def two_product_order() -> tuple[Order, Product, Product]:
    a, b = two_products()
    return make_order(lines=[(a, 3), (b, 1)], status=OrderStatus.CONFIRMED), a, b


def line_for(order: Order, product: Product) -> int:
    return next(line.id for line in order.lines if line.product_id == product.id)


def stock(product: Product) -> tuple[int, int]:
    db.session.expire_all()
    level = db.session.scalars(select(StockLevel).where(StockLevel.product_id == product.id)).one()
    return level.on_hand, level.reserved


def ship(order: Order, quantities: dict[int, int], staff_id: int, **kwargs: object) -> Shipment:
    return shipping.create_shipment(
        order,
        quantities,
        carrier=str(kwargs.get("carrier", "postnord")),
        tracking_number=str(kwargs.get("tracking", "PN123456789SE")),
        staff_id=staff_id,
        now=NOW,
    )


def dispatch(shipment: Shipment, staff_id: int, today: date = TODAY) -> shipping.DispatchResult:
    return shipping.mark_dispatched(shipment, staff_id=staff_id, today=today, now=NOW)


def test_partial_then_complete_shipment_moves_stock_and_status_t4_2(
    app: Flask, staff_id: int
) -> None:
    order, a, b = two_product_order()
    assert stock(a) == (10, 3)
    first = ship(order, {line_for(order, a): 2}, staff_id)
    assert shipping.unshipped(order) == {line_for(order, a): 1, line_for(order, b): 1}
    assert status_of(order) == OrderStatus.CONFIRMED.value  # creating is not dispatching

    result = dispatch(first, staff_id)
    assert result.dispatched
    assert result.capture is None  # sandbox: nothing to capture
    assert status_of(order) == OrderStatus.PARTLY_SHIPPED.value
    assert stock(a) == (8, 1)
    moves = db.session.scalars(select(StockMovement).where(StockMovement.kind == "ship")).all()
    assert [(m.product_id, m.quantity, m.order_id) for m in moves] == [(a.id, -2, order.id)]

    second = ship(
        order,
        {line_for(order, a): 1, line_for(order, b): 1},
        staff_id,
        carrier="dhl",
        tracking="JD0001",
    )
    dispatch(second, staff_id)
    assert status_of(order) == OrderStatus.SHIPPED.value
    assert stock(a) == (7, 0)
    assert stock(b) == (9, 0)
    assert shipping.unshipped(order) == {}
    transitions = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "order.status").order_by(AuditEntry.id)
    ).all()
    assert [(t.details["to"], t.actor) for t in transitions][-2:] == [
        ("partly_shipped", f"staff:{staff_id}"),
        ("shipped", f"staff:{staff_id}"),
    ]
    mails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "shipment").order_by(OutboxMessage.id)
    ).all()
    assert len(mails) == 2
    assert "PostNord" in mails[0].body_text
    assert "PN123456789SE" in mails[0].body_text
    assert "DHL" in mails[1].body_text
    assert "JD0001" in mails[1].body_text
    assert mails[0].to_address == order.email


def test_dispatching_twice_does_nothing_the_second_time_t4_2(app: Flask, staff_id: int) -> None:
    order, a, _b = two_product_order()
    shipment = ship(order, {line_for(order, a): 3}, staff_id)
    assert dispatch(shipment, staff_id).dispatched
    again = dispatch(shipment, staff_id, today=TODAY + timedelta(days=1))
    assert not again.dispatched
    assert again.shipment.dispatched_on == TODAY
    assert stock(a) == (7, 0)
    assert count(StockMovement, StockMovement.kind == "ship") == 1
    assert count(OutboxMessage, OutboxMessage.template == "shipment") == 1


def test_shipment_quantities_are_limited_to_what_is_unshipped(app: Flask, staff_id: int) -> None:
    order, a, b = two_product_order()
    with pytest.raises(shipping.ShippingError, match="större än det som återstår"):
        ship(order, {line_for(order, a): 4}, staff_id)
    with pytest.raises(shipping.ShippingError, match="minst en vara"):
        ship(order, {line_for(order, a): 0}, staff_id)
    with pytest.raises(shipping.ShippingError, match="fraktbolag"):
        ship(order, {line_for(order, a): 1}, staff_id, carrier="bring")
    with pytest.raises(shipping.ShippingError, match="kollinummer"):
        ship(order, {line_for(order, a): 1}, staff_id, tracking="  ")
    ship(order, {line_for(order, a): 3}, staff_id)
    with pytest.raises(shipping.ShippingError, match="större än det som återstår"):
        ship(order, {line_for(order, a): 1}, staff_id)
    assert count(Shipment) == 1
    assert shipping.unshipped(order) == {line_for(order, b): 1}


def test_unpaid_order_cannot_ship(app: Flask, staff_id: int) -> None:
    product = make_product()
    order = make_order(lines=[(product, 1)])
    with pytest.raises(shipping.ShippingError, match="nuvarande status"):
        ship(order, {order.lines[0].id: 1}, staff_id)


def test_pick_list_has_unshipped_goods_only_not_downloads(app: Flask, staff_id: int) -> None:
    book = make_product(title="Notbok")
    download = make_product(title="Noter som PDF", kind="download")
    order = make_order(lines=[(book, 2), (download, 1)], status=OrderStatus.CONFIRMED)
    make_order(lines=[(make_product(title="Obetald"), 1)])  # not paid: not on the list
    picks = shipping.pick_list()
    assert [(p.order.number, [(i.line.title, i.quantity) for i in p.lines]) for p in picks] == [
        (order.number, [("Notbok", 2)])
    ]
    ship(order, {order.lines[0].id: 1}, staff_id)
    assert [i.quantity for i in shipping.pick_list()[0].lines] == [1]
    ship(order, {order.lines[0].id: 1}, staff_id)
    assert shipping.pick_list() == []


# --- T4.2 delivery date -------------------------------------------------------------------


def dispatched_order(staff_id: int) -> tuple[Order, Shipment, Shipment]:
    order, a, b = two_product_order()
    first = ship(order, {line_for(order, a): 3}, staff_id)
    second = ship(order, {line_for(order, b): 1}, staff_id)
    dispatch(first, staff_id, today=TODAY - timedelta(days=2))
    dispatch(second, staff_id, today=TODAY - timedelta(days=2))
    return order, first, second


def record(shipment: Shipment, day: date, staff_id: int) -> bool:
    return shipping.record_delivery(shipment, day, staff_id=staff_id, today=TODAY, now=NOW)


def test_t4_2_delivery_on_the_dispatch_day_is_accepted(app: Flask, staff_id: int) -> None:
    order, first, _second = dispatched_order(staff_id)
    assert record(first, TODAY - timedelta(days=2), staff_id)
    assert db.session.get(Shipment, first.id).delivered_on == TODAY - timedelta(days=2)  # type: ignore[union-attr]
    assert status_of(order) == OrderStatus.SHIPPED.value  # one parcel still on its way


def test_t4_2_delivery_before_dispatch_is_refused(app: Flask, staff_id: int) -> None:
    _order, first, _second = dispatched_order(staff_id)
    with pytest.raises(shipping.ShippingError, match="före avsändningsdagen"):
        record(first, TODAY - timedelta(days=3), staff_id)
    assert db.session.get(Shipment, first.id).delivered_on is None  # type: ignore[union-attr]


def test_t4_2_delivery_in_the_future_is_refused(app: Flask, staff_id: int) -> None:
    _order, first, _second = dispatched_order(staff_id)
    with pytest.raises(shipping.ShippingError, match="framtiden"):
        record(first, TODAY + timedelta(days=1), staff_id)
    assert record(first, TODAY, staff_id)  # today is fine


def test_t4_2_delivery_needs_a_dispatched_parcel(app: Flask, staff_id: int) -> None:
    order, a, _b = two_product_order()
    shipment = ship(order, {line_for(order, a): 1}, staff_id)
    with pytest.raises(shipping.ShippingError, match="inte skickad"):
        record(shipment, TODAY, staff_id)


def test_t4_2_order_is_delivered_when_every_parcel_is(app: Flask, staff_id: int) -> None:
    order, first, second = dispatched_order(staff_id)
    record(first, TODAY - timedelta(days=1), staff_id)
    assert not record(first, TODAY - timedelta(days=1), staff_id)  # same date again: nothing
    record(second, TODAY, staff_id)
    assert status_of(order) == OrderStatus.DELIVERED.value
    delivered = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "shipment.delivered")
    ).all()
    assert len(delivered) == 2
    assert all(entry.actor == f"staff:{staff_id}" for entry in delivered)
    assert all(entry.rule_id == "T4.2" for entry in delivered)


# --- Klarna capture -----------------------------------------------------------------------


def klarna_order(fake: FakeKlarna) -> tuple[Order, Product, Product, str]:
    a, b = two_products()
    order = make_order(lines=[(a, 3), (b, 1)], payment_method="klarna")
    start = payments.start_payment(order, now=NOW, return_url=RETURN, cancel_url=RETURN)
    token = fake.authorize(start.provider_reference)
    placed = payments.place_widget_order(
        order, token, now=NOW, return_url=RETURN, cancel_url=RETURN
    )
    assert status_of(order) == OrderStatus.CONFIRMED.value
    return db.session.get(Order, order.id), a, b, placed.provider_reference  # type: ignore[return-value]


def test_dispatch_captures_the_shipped_amount_at_klarna_once(
    app: Flask, staff_id: int, klarna: FakeKlarna
) -> None:
    order, a, b, reference = klarna_order(klarna)
    fees = sum(fee.amount_ore for fee in order.fees)
    first = ship(order, {line_for(order, a): 2}, staff_id)
    result = dispatch(first, staff_id)
    assert result.capture is not None
    assert result.capture.done
    assert result.capture.amount_ore == 2 * 30000 + fees  # goods + the order's fees
    calls = klarna.calls("POST", f"/ordermanagement/v1/orders/{reference}/captures")
    assert [c.headers["klarna-idempotency-key"] for c in calls] == [f"capture-shipment-{first.id}"]
    assert klarna.orders[reference]["captured_amount"] == 2 * 30000 + fees
    payment = db.session.scalars(select(Payment)).one()
    assert payment.status == PaymentStatus.AUTHORISED.value

    dispatch(first, staff_id)  # a second click: no second capture
    assert len(klarna.calls("POST", f"/ordermanagement/v1/orders/{reference}/captures")) == 1

    second = ship(order, {line_for(order, a): 1, line_for(order, b): 1}, staff_id)
    assert dispatch(second, staff_id).capture == shipping.CaptureState(True, 30000 + 24900)
    assert klarna.orders[reference]["captured_amount"] == order.total_ore
    assert klarna.orders[reference]["status"] == "CAPTURED"
    db.session.expire_all()
    payment = db.session.scalars(select(Payment)).one()
    assert payment.status == PaymentStatus.CAPTURED.value


def test_failed_capture_keeps_the_dispatch_and_is_retried_with_the_same_key(
    app: Flask, staff_id: int, klarna: FakeKlarna
) -> None:
    order, a, b, reference = klarna_order(klarna)
    shipment = ship(order, {line_for(order, a): 3, line_for(order, b): 1}, staff_id)
    path = f"/ordermanagement/v1/orders/{reference}/captures"
    klarna.inject(Fault(path, method="POST", status=503, times=3))
    result = dispatch(shipment, staff_id)
    assert result.dispatched
    assert result.capture is not None
    assert not result.capture.done
    assert result.capture.error
    assert status_of(order) == OrderStatus.SHIPPED.value
    assert klarna.orders[reference]["captured_amount"] == 0
    state = shipping.capture_state(db.session.get(Shipment, shipment.id))  # type: ignore[arg-type]
    assert state is not None
    assert not state.done

    retried = shipping.retry_capture(shipment, staff_id=staff_id, now=NOW)
    assert retried.done
    assert klarna.orders[reference]["captured_amount"] == order.total_ore
    keys = {c.headers["klarna-idempotency-key"] for c in klarna.calls("POST", path)}
    assert keys == {f"capture-shipment-{shipment.id}"}
    assert shipping.retry_capture(shipment, staff_id=staff_id, now=NOW).done  # already done
    assert len(klarna.orders[reference]["captures"]) == 1


def test_sandbox_and_invoice_orders_capture_nothing(app: Flask, staff_id: int) -> None:
    order, a, _b = two_product_order()
    shipment = ship(order, {line_for(order, a): 1}, staff_id)
    assert dispatch(shipment, staff_id).capture is None
    assert shipping.capture_states(order, [shipment]) == {}
