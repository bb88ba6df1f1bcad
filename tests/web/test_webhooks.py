"""Webhooks: verified by the provider, applied exactly once, whatever order they come in.

Stripe events are posted with REAL ``Stripe-Signature`` headers
(``t=…,v1=HMAC-SHA256``) and verified by the real SDK; the sessions live in
the local fake API server. A bad or old signature, or a malformed body,
answers 400 and changes nothing; a replay answers 200 and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop import clock
from shop.domain.lifecycle import OrderStatus, PaymentStatus
from shop.extensions import db
from shop.models import AuditEntry, Order, Payment, ProviderEvent
from shop.payments.sandbox import SandboxOutcome
from shop.services import payments
from tests.factories import make_order, make_product
from tests.fakes.klarna_api import FakeKlarna
from tests.fakes.stripe_api import FakeStripe
from tests.payments_support import (
    confirmations,
    count,
    klarna_config,
    registry_for,
    signed_stripe_headers,
    status_of,
    stripe_config,
    use_registry,
)

RETURN = "http://localhost/betalning/retur"


@pytest.fixture
def stripe_fake(app: Flask) -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    with use_registry(app, registry_for(app, **stripe_config(fake))):
        yield fake
    fake.stop()


def _started(order: Order) -> str:
    start = payments.start_payment(order, now=clock.utcnow(), return_url=RETURN, cancel_url=RETURN)
    return start.provider_reference


def _post(client: FlaskClient, body: bytes, **kwargs: int):  # type: ignore[no-untyped-def]
    return client.post("/webhooks/stripe", data=body, headers=signed_stripe_headers(body, **kwargs))


def _nothing_changed(order: Order) -> None:
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    assert count(ProviderEvent) == 0
    assert db.session.scalars(db.select(Payment)).one().status == PaymentStatus.PENDING.value


# --- Stripe -------------------------------------------------------------------------------------


def test_valid_event_confirms_the_order_once(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    session_id = _started(order)
    stripe_fake.pay(session_id)
    body = stripe_fake.event(session_id, "checkout.session.completed")
    response = _post(client, body)
    assert response.status_code == 200
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.status == PaymentStatus.CAPTURED.value
    event = db.session.scalars(db.select(ProviderEvent)).one()
    assert (event.provider, event.kind) == ("stripe", "checkout.session.completed")
    assert event.processed_at is not None


def test_the_same_event_five_times_fulfils_once(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    """A replayed webhook answers 200 and changes nothing."""
    order = make_order(payment_method="card")
    session_id = _started(order)
    stripe_fake.pay(session_id)
    body = stripe_fake.event(session_id, "checkout.session.completed", event_id="evt_same")
    answers = [_post(client, body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.get_data(as_text=True).strip() for a in answers] == ["Mottaget."] + [
        "Redan mottaget."
    ] * 4
    assert confirmations(order) == 1
    assert count(ProviderEvent) == 1


def test_completed_after_expired_fulfils_nothing(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    """Out of order: the expired event released the order; a late completion is recorded only."""
    product = make_product(stock=4)
    order = make_order(payment_method="card", lines=[(product, 3)])
    session_id = _started(order)
    stripe_fake.expire(session_id)
    expired = stripe_fake.event(session_id, "checkout.session.expired")
    stripe_fake.pay(session_id)
    completed = stripe_fake.event(session_id, "checkout.session.completed")
    assert _post(client, expired).status_code == 200
    assert _post(client, completed).status_code == 200
    assert status_of(order) == OrderStatus.CANCELLED.value
    assert confirmations(order) == 0
    db.session.expire_all()
    assert db.session.get(type(product), product.id).stock.reserved == 0  # type: ignore[union-attr]
    assert count(AuditEntry, AuditEntry.action == "payment.event_ignored") == 1


def test_async_failed_after_succeeded_fulfils_once(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    session_id = _started(order)
    stripe_fake.pay(session_id, asynchronous=True)
    completed = stripe_fake.event(session_id, "checkout.session.completed")
    stripe_fake.settle(session_id, succeeded=True)
    succeeded = stripe_fake.event(session_id, "checkout.session.async_payment_succeeded")
    failed = stripe_fake.event(session_id, "checkout.session.async_payment_failed")
    for body in (completed, succeeded, failed, succeeded, completed):
        assert _post(client, body).status_code == 200
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1
    assert db.session.scalars(db.select(Payment)).one().status == PaymentStatus.CAPTURED.value


def test_bad_signature_answers_400_and_changes_nothing(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    session_id = _started(order)
    stripe_fake.pay(session_id)
    body = stripe_fake.event(session_id, "checkout.session.completed")
    headers = signed_stripe_headers(body)
    headers["Stripe-Signature"] = headers["Stripe-Signature"][:-4] + "0000"
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400
    assert "Ogiltig signatur" in response.get_data(as_text=True)
    tampered = body.replace(b'"paid"', b'"paid" ')
    assert (
        client.post(
            "/webhooks/stripe", data=tampered, headers=signed_stripe_headers(body)
        ).status_code
        == 400
    )
    no_header = client.post("/webhooks/stripe", data=body, content_type="application/json")
    assert no_header.status_code == 400
    _nothing_changed(order)


def test_old_signature_answers_400(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    session_id = _started(order)
    stripe_fake.pay(session_id)
    body = stripe_fake.event(session_id, "checkout.session.completed")
    assert _post(client, body, age_seconds=3600).status_code == 400
    _nothing_changed(order)


def test_malformed_body_answers_400(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    _started(order)
    for body in (b"not json at all", b'{"object": "event"}', b"[]", b"\xff\xfe"):
        assert _post(client, body).status_code == 400
    _nothing_changed(order)


def test_webhooks_need_no_csrf_token_but_only_post(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    assert client.get("/webhooks/stripe").status_code == 405
    response = client.post("/webhooks/stripe", data=b"{}", content_type="application/json")
    assert response.status_code == 400  # refused by the signature check, not by CSRF


def test_unconfigured_provider_answers_404(app: Flask, client: FlaskClient) -> None:
    response = client.post("/webhooks/stripe", data=b"{}", content_type="application/json")
    assert response.status_code == 404


def test_event_for_another_shop_is_accepted_and_ignored(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    """A verified event about a session this shop does not know: 200, nothing to change."""
    order = make_order(payment_method="card")
    session_id = _started(order)
    payload = json.loads(stripe_fake.event(session_id, "checkout.session.completed"))
    payload["data"]["object"]["id"] = "cs_test_someone_else"
    payload["data"]["object"]["client_reference_id"] = "999999"
    payload["data"]["object"]["metadata"] = {}
    body = json.dumps(payload).encode()
    assert _post(client, body).status_code == 200
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value


# --- sandbox and Klarna ---------------------------------------------------------------------------


def test_sandbox_webhook_verifies_and_applies_once(app: Flask, client: FlaskClient) -> None:
    order = make_order(payment_method="sandbox")
    reference = _started(order)
    provider = payments.sandbox_provider()
    assert provider is not None
    signed = provider.simulate(reference, SandboxOutcome.PAY, clock.utcnow())
    headers = dict(signed.headers)
    bad = {k: v[:-2] + "00" for k, v in headers.items()}
    assert client.post("/webhooks/sandbox", data=signed.payload, headers=bad).status_code == 400
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    first = client.post("/webhooks/sandbox", data=signed.payload, headers=headers)
    second = client.post("/webhooks/sandbox", data=signed.payload, headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1


def test_klarna_notification_is_checked_with_klarna(app: Flask, client: FlaskClient) -> None:
    """Klarna's notifications are unsigned: the state comes from Order Management."""
    fake = FakeKlarna()
    fake.start()
    try:
        with use_registry(app, registry_for(app, **klarna_config(fake))):
            order = make_order(payment_method="klarna")
            session_id = _started(order)
            token = fake.authorize(session_id, fraud_status="PENDING")
            placed = payments.place_widget_order(
                order, token, now=clock.utcnow(), return_url=RETURN, cancel_url=RETURN
            )
            assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
            forged = json.dumps(
                {"order_id": "no-such-order", "event_type": "FRAUD_RISK_ACCEPTED"}
            ).encode()
            assert client.post("/webhooks/klarna", data=forged).status_code == 400
            fake.decide_fraud(placed.provider_reference, "ACCEPTED")
            body = json.dumps(
                {"order_id": placed.provider_reference, "event_type": "FRAUD_RISK_ACCEPTED"}
            ).encode()
            assert client.post("/webhooks/klarna", data=body).status_code == 200
            assert client.post("/webhooks/klarna", data=body).status_code == 200
            assert status_of(order) == OrderStatus.CONFIRMED.value
            assert confirmations(order) == 1
    finally:
        fake.stop()
