"""Drill: Stripe or Klarna answering 500, losing their answer, or timing out.

The buyer sees a clear Swedish message and the order waits, unpaid; the
buyer's retry sends the same idempotency key, so the provider makes one
session / one order, and nothing is charged twice. The providers are the
local fakes (tests/fakes/) spoken to by the real Stripe SDK and Klarna client,
with short timeouts (tests/payments_support.FAST_NETWORK: 0.3 s read timeout,
two retries).

Already covered elsewhere: a 500 at Stripe's start on every try
(tests/web/test_payments.py), retries at the client level
(tests/payments/test_stripe.py, test_klarna.py). Added here: the answer lost
after the provider did the work, and timeouts, seen through the buyer's pages,
up to the money.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.domain.lifecycle import OrderStatus, PaymentStatus
from shop.extensions import db
from shop.models import Order, Payment
from tests.conftest import csrf_token_from, post_form
from tests.factories import make_order
from tests.fakes.klarna_api import FakeKlarna
from tests.fakes.server import Fault
from tests.fakes.stripe_api import FakeStripe
from tests.payments_support import (
    FAST_NETWORK,
    confirmations,
    guest_token,
    klarna_config,
    registry_for,
    status_of,
    stripe_config,
    use_registry,
)

UNAVAILABLE = "Betaltjänsten svarar inte just nu. Ingenting har dragits."
#: Every try of one request fails (the first try and PAYMENT_MAX_RETRIES more).
EVERY_TRY = 1 + int(FAST_NETWORK["PAYMENT_MAX_RETRIES"])
SLOW = 2 * float(FAST_NETWORK["PAYMENT_READ_TIMEOUT"])

FAULTS = {
    "500": {"status": 500},
    "500 after the work was done (answer lost)": {"status": 500, "after_processing": True},
    "timeout": {"delay": SLOW},
    "timeout after the work was done": {"delay": SLOW, "after_processing": True},
}


@pytest.fixture
def stripe_fake(app: Flask) -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    with use_registry(app, registry_for(app, **stripe_config(fake))):
        yield fake
    fake.stop()


@pytest.fixture
def klarna_fake(app: Flask) -> Iterator[FakeKlarna]:
    fake = FakeKlarna()
    fake.start()
    with use_registry(app, registry_for(app, **klarna_config(fake))):
        yield fake
    fake.stop()


def _return(order: Order, token: str) -> str:
    return f"/betalning/{order.number}/retur?t={token}"


def _start(client: FlaskClient, order: Order, token: str):  # type: ignore[no-untyped-def]
    return post_form(
        client, f"/betalning/{order.number}/starta", {"t": token}, form_url=_return(order, token)
    )


def _payment() -> Payment:
    db.session.expire_all()
    return db.session.scalars(db.select(Payment)).one()


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_stripe_failing_at_the_start_then_a_retry_charges_once(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe, fault: str
) -> None:
    order = make_order(payment_method="card")
    token = guest_token(order)
    stripe_fake.inject(
        Fault("/v1/checkout/sessions", method="POST", times=EVERY_TRY, **FAULTS[fault])  # type: ignore[arg-type]
    )
    failed = _start(client, order, token)
    assert failed.status_code == 302
    page = client.get(failed.headers["Location"]).get_data(as_text=True)
    assert UNAVAILABLE in page
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    assert _payment().status == PaymentStatus.PENDING.value

    retry = _start(client, order, token)  # the buyer tries again
    assert retry.status_code == 303
    calls = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert len(calls) > EVERY_TRY
    assert {c.headers["idempotency-key"] for c in calls} == {_payment().idempotency_key}
    assert len(stripe_fake.sessions) == 1  # one session, whatever Stripe did before
    (session_id,) = stripe_fake.sessions
    assert retry.headers["Location"] == stripe_fake.sessions[session_id]["url"]

    stripe_fake.pay(session_id)
    returned = client.get(_return(order, token)).get_data(as_text=True)
    assert 'data-payment-state="paid"' in returned
    assert len(stripe_fake.charges) == 1  # charged once
    assert _payment().status == PaymentStatus.CAPTURED.value
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1


def test_stripe_down_when_the_buyer_comes_back_shows_the_stored_state_then_the_truth(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    """The return page asks Stripe; while Stripe times out it shows "pending", never an error,
    and the payment is applied once when Stripe answers again."""
    order = make_order(payment_method="card")
    token = guest_token(order)
    assert _start(client, order, token).status_code == 303
    (session_id,) = stripe_fake.sessions
    stripe_fake.pay(session_id)
    stripe_fake.inject(Fault("/v1/checkout/sessions/", method="GET", delay=SLOW, times=EVERY_TRY))
    page = client.get(_return(order, token))
    assert page.status_code == 200
    assert 'data-payment-state="pending"' in page.get_data(as_text=True)
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    for _ in range(2):
        again = client.get(_return(order, token)).get_data(as_text=True)
        assert 'data-payment-state="paid"' in again
    assert confirmations(order) == 1
    assert len(stripe_fake.charges) == 1


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_klarna_failing_when_placing_the_order_then_a_retry_authorises_once(
    app: Flask, client: FlaskClient, klarna_fake: FakeKlarna, fault: str
) -> None:
    order = make_order(payment_method="klarna")
    token = guest_token(order)
    widget = _start(client, order, token).headers["Location"]
    html = client.get(widget).get_data(as_text=True)
    (session_id,) = klarna_fake.sessions
    authorization = klarna_fake.authorize(session_id)
    data = {"authorization_token": authorization, "t": token, "csrf_token": csrf_token_from(html)}
    path = f"/payments/v1/authorizations/{authorization}/order"
    klarna_fake.inject(Fault(path, method="POST", times=EVERY_TRY, **FAULTS[fault]))  # type: ignore[arg-type]

    failed = client.post(f"/betalning/klarna/{order.number}/godkand", data=data)
    assert failed.status_code == 302
    page = client.get(failed.headers["Location"]).get_data(as_text=True)
    assert UNAVAILABLE in page
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value

    retry = client.post(f"/betalning/klarna/{order.number}/godkand", data=data)
    assert retry.status_code == 302
    assert 'data-payment-state="authorised"' in client.get(retry.headers["Location"]).get_data(
        as_text=True
    )
    calls = klarna_fake.calls("POST", path)
    assert len(calls) > EVERY_TRY
    assert len({c.headers["klarna-idempotency-key"] for c in calls}) == 1
    assert len(klarna_fake.orders) == 1  # one order at Klarna: one authorisation to capture
    assert _payment().status == PaymentStatus.AUTHORISED.value
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1
