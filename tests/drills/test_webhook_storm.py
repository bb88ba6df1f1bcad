"""Drill: the same webhooks delivered 5 times each and out of order give one fulfilment.

Providers retry deliveries and send them in any order. Whatever the order of
five copies each of Stripe's ``checkout.session.completed`` (still
processing, an asynchronous method) and ``async_payment_succeeded``, mixed with
the buyer's return page asking Stripe itself, the order is confirmed once:
one captured payment, one order confirmation in the outbox, the stock
reserved once. The same for the sandbox's signed event and the buyer's own
click. tests/web/test_webhooks.py has the single-kind replays; the concurrent
deliveries on PostgreSQL are in tests/services/test_payments.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop import clock
from shop.domain.lifecycle import OrderStatus, PaymentStatus
from shop.extensions import db
from shop.models import Order, OutboxMessage, Payment, Product, ProviderEvent, StockMovement
from shop.payments.sandbox import SandboxOutcome
from shop.services import payments
from tests.factories import make_order, make_product
from tests.fakes.stripe_api import FakeStripe
from tests.payments_support import (
    confirmations,
    count,
    registry_for,
    signed_stripe_headers,
    status_of,
    stripe_config,
    use_registry,
)

RETURN = "http://localhost/betalning/retur"
COPIES = 5


@pytest.fixture
def stripe_fake(app: Flask) -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    with use_registry(app, registry_for(app, **stripe_config(fake))):
        yield fake
    fake.stop()


def _order() -> tuple[Order, Product]:
    product = make_product(stock=3)
    return make_order(payment_method="card", lines=[(product, 2)]), product


def _fulfilled_once(order: Order, product: Product) -> None:
    db.session.expire_all()
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1
    assert db.session.scalars(db.select(Payment)).one().status == PaymentStatus.CAPTURED.value
    assert count(OutboxMessage, OutboxMessage.template == "order_confirmation") == 1
    movements = db.session.scalars(
        db.select(StockMovement).where(StockMovement.product_id == product.id)
    ).all()
    assert [(m.kind, m.quantity) for m in movements] == [("reserve", 2)]
    assert db.session.get(Product, product.id).stock.reserved == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_stripe_events_five_times_each_in_any_order_fulfil_once(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe, seed: int
) -> None:
    order, product = _order()
    start = payments.start_payment(order, now=clock.utcnow(), return_url=RETURN, cancel_url=RETURN)
    session_id = start.provider_reference
    stripe_fake.pay(session_id, asynchronous=True)
    completed = stripe_fake.event(session_id, "checkout.session.completed", event_id="evt_done")
    stripe_fake.settle(session_id, succeeded=True)
    succeeded = stripe_fake.event(
        session_id, "checkout.session.async_payment_succeeded", event_id="evt_paid"
    )
    deliveries: list[bytes | None] = [completed] * COPIES + [succeeded] * COPIES + [None] * 2
    random.Random(seed).shuffle(deliveries)
    for body in deliveries:
        if body is None:  # the buyer's return page asks Stripe in between
            payments.refresh_state(order, now=clock.utcnow())
            continue
        response = client.post("/webhooks/stripe", data=body, headers=signed_stripe_headers(body))
        assert response.status_code == 200
    _fulfilled_once(order, product)
    kinds = {e.event_id for e in db.session.scalars(db.select(ProviderEvent))}
    assert {"evt_done", "evt_paid"} <= kinds


def test_sandbox_event_five_times_and_the_buyers_click_fulfil_once(
    app: Flask, client: FlaskClient
) -> None:
    product = make_product(stock=3)
    order = make_order(payment_method="sandbox", lines=[(product, 2)])
    start = payments.start_payment(order, now=clock.utcnow(), return_url=RETURN, cancel_url=RETURN)
    provider = payments.sandbox_provider()
    assert provider is not None
    signed = provider.simulate(start.provider_reference, SandboxOutcome.PAY, clock.utcnow())
    for _ in range(COPIES):
        response = client.post("/webhooks/sandbox", data=signed.payload, headers=signed.headers)
        assert response.status_code == 200
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1
    assert count(OutboxMessage, OutboxMessage.template == "order_confirmation") == 1
    assert count(StockMovement, StockMovement.product_id == product.id) == 1
