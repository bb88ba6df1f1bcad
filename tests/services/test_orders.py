"""Orders after checkout: transitions with audit, releasing stock, expiry, guest links."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from shop.domain.errors import IllegalTransition
from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import AuditEntry, Order, Payment, StockLevel, StockMovement
from shop.services import orders
from tests.factories import NOW, make_customer, make_order, make_product


def stock(product_id: int) -> tuple[int, int]:
    level = db.session.get(StockLevel, product_id, populate_existing=True)
    assert level is not None
    return level.on_hand, level.reserved


def test_record_transition_follows_the_table_and_audits_without_personal_data(
    app: Flask,
) -> None:
    customer = make_customer(email="hemlig@example.se", name="Hemlig Person")
    order = make_order(customer=customer)
    orders.record_transition(
        order, OrderStatus.CONFIRMED, actor=orders.customer_actor(customer), now=NOW
    )
    db.session.commit()
    assert order.status == "confirmed"
    assert order.confirmed_at == NOW
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "order.status")).one()
    assert entry.details == {"from": "pending_payment", "to": "confirmed"}
    assert entry.actor == f"customer:{customer.pseudonym}"
    assert entry.subject_id == str(order.id)
    assert "hemlig" not in repr(entry.details).lower()
    assert "Hemlig" not in entry.actor
    with pytest.raises(IllegalTransition):
        orders.record_transition(order, OrderStatus.PENDING_PAYMENT, actor="system", now=NOW)
    assert order.status == "confirmed"


def test_release_order_cancels_and_gives_the_stock_back_once(app: Flask) -> None:
    product = make_product(stock=5)
    download = make_product(kind="download")
    order = make_order(lines=[(product, 3), (download, 1)])
    assert stock(product.id) == (5, 3)

    orders.release_order(order, reason="payment_failed", now=NOW + timedelta(minutes=5))
    db.session.commit()
    assert order.status == "cancelled"
    assert order.cancelled_at == NOW + timedelta(minutes=5)
    assert stock(product.id) == (5, 0)

    orders.release_order(order, reason="expired", now=NOW + timedelta(minutes=40))  # again
    db.session.commit()
    assert stock(product.id) == (5, 0)
    kinds = db.session.scalars(select(StockMovement.kind).order_by(StockMovement.id)).all()
    assert kinds == ["reserve", "release"]
    release = db.session.scalars(select(StockMovement).where(StockMovement.kind == "release")).one()
    assert release.quantity == -3
    assert order.cancelled_at == NOW + timedelta(minutes=5)


def test_release_order_never_makes_stock_negative(app: Flask) -> None:
    product = make_product(stock=2)
    order = make_order(lines=[(product, 2)])
    level = db.session.get(StockLevel, product.id)
    assert level is not None
    level.reserved = 1  # someone adjusted the stock by hand
    db.session.commit()
    orders.release_order(order, reason="expired", now=NOW)
    db.session.commit()
    assert stock(product.id) == (2, 0)


def test_expire_command_at_the_timeout_boundary(app: Flask, runner: FlaskCliRunner) -> None:
    """An unpaid order expires strictly after placed_at + ORDER_PAYMENT_TIMEOUT_MINUTES."""
    timeout = app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"]
    assert timeout == 60
    product = make_product(stock=3)
    order = make_order(lines=[(product, 1)])
    assert order.expires_at == NOW + timedelta(minutes=timeout)

    with time_machine.travel(NOW + timedelta(minutes=timeout - 1), tick=False):
        result = runner.invoke(args=["orders", "expire"])
    assert result.exit_code == 0, result.output
    assert "Expired 0 unpaid order(s)." in result.output
    with time_machine.travel(NOW + timedelta(minutes=timeout), tick=False):
        result = runner.invoke(args=["orders", "expire"])
    assert "Expired 0 unpaid order(s)." in result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "pending_payment"  # type: ignore[union-attr]
    assert stock(product.id) == (3, 1)

    with time_machine.travel(NOW + timedelta(minutes=timeout + 1), tick=False):
        result = runner.invoke(args=["orders", "expire"])
    assert "Expired 1 unpaid order(s)." in result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"  # type: ignore[union-attr]
    assert stock(product.id) == (3, 0)


def test_expiry_leaves_paid_and_authorised_orders_and_works_in_batches(app: Flask) -> None:
    product = make_product(stock=10)
    unpaid = [make_order(lines=[(product, 1)]) for _ in range(3)]
    authorised = make_order(lines=[(product, 1)])
    db.session.add(
        Payment(
            order_id=authorised.id,
            provider="klarna",
            method="klarna",
            idempotency_key="k-1",
            amount_ore=authorised.total_ore,
            status="authorised",
            created_at=NOW,
            updated_at=NOW,
        )
    )
    confirmed = make_order(lines=[(product, 1)], status="confirmed")
    db.session.commit()
    later = NOW + timedelta(hours=2)
    assert orders.expire_unpaid_orders(later, batch=2) == 3
    assert orders.expire_unpaid_orders(later, batch=2) == 0
    db.session.expire_all()
    assert {o.status for o in unpaid} == {"cancelled"}
    assert authorised.status == "pending_payment"
    assert confirmed.status == "confirmed"
    assert stock(product.id) == (10, 2)


def test_order_timeout_is_configurable(app: Flask) -> None:
    app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"] = 5  # the app fixture restores the config
    order = make_order()
    assert order.expires_at == NOW + timedelta(minutes=5)


def test_order_for_customer_finds_only_their_own(app: Flask) -> None:
    owner = make_customer()
    other = make_customer()
    order = make_order(customer=owner)
    assert order.number is not None
    assert orders.order_for_customer(owner, order.number) is order
    assert orders.order_for_customer(other, order.number) is None
    assert orders.orders_for_customer(owner) == [order]
    assert orders.orders_for_customer(other) == []


def test_guest_token_is_bound_to_the_order_and_refuses_tampering(app: Flask) -> None:
    first = make_order(email="a@example.se")
    second = make_order(email="b@example.se")
    token = orders.guest_order_token(first)
    assert orders.order_from_guest_token(token) is first
    assert orders.order_from_guest_token(orders.guest_order_token(second)) is second
    assert orders.order_from_guest_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert orders.order_from_guest_token("") is None
    assert orders.order_from_guest_token("nonsense.token") is None
    # The link stops working if the order's e-mail is not the one it was made for.
    first.email = "c@example.se"
    db.session.commit()
    assert orders.order_from_guest_token(token) is None
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2
