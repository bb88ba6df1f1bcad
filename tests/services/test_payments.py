"""The payments service: start a payment, apply provider events exactly once (issue 4, B).

Stripe runs through the real SDK against the local fake API server
(tests/fakes/stripe_api.py), Klarna through the real client against its fake;
invoice and sandbox need no server. Rules: T3.1 (payment methods), T3.2
(invoice for organisations after a credit check), T3.3 (invoice fee).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from shop.domain.buyers import BuyerKind
from shop.domain.lifecycle import OrderStatus, PaymentStatus
from shop.extensions import db
from shop.models import AuditEntry, CreditCheck, Invoice, Payment, ProviderEvent
from shop.payments.base import PaymentFlow, PaymentState
from shop.payments.base import ProviderEvent as Event
from shop.payments.errors import (
    InvoiceRefused,
    MethodNotAvailable,
    ProviderRejected,
    ProviderUnavailable,
)
from shop.payments.sandbox import SandboxOutcome
from shop.services import payments
from tests.factories import NOW, make_customer, make_order, make_product
from tests.fakes.klarna_api import FakeKlarna
from tests.fakes.server import Fault
from tests.fakes.stripe_api import FakeStripe
from tests.payments_support import (
    add_invoice_fee,
    confirmations,
    count,
    klarna_config,
    registry_for,
    status_of,
    stripe_config,
    use_registry,
)

RETURN = "http://localhost/betalning/retur"


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def with_stripe(app: Flask, stripe_fake: FakeStripe) -> Iterator[FakeStripe]:
    with use_registry(app, registry_for(app, **stripe_config(stripe_fake))):
        yield stripe_fake


@pytest.fixture
def klarna_fake() -> Iterator[FakeKlarna]:
    fake = FakeKlarna()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def with_klarna(app: Flask, klarna_fake: FakeKlarna) -> Iterator[FakeKlarna]:
    with use_registry(app, registry_for(app, **klarna_config(klarna_fake))):
        yield klarna_fake


def _start(order, **kwargs):  # type: ignore[no-untyped-def]
    return payments.start_payment(order, now=NOW, return_url=RETURN, cancel_url=RETURN, **kwargs)


# --- methods ------------------------------------------------------------------------------------


def test_methods_without_keys_are_sandbox_and_invoice_for_organisations_t3_2(app: Flask) -> None:
    """T3.2: invoice is offered to organisations only; with no keys, only the sandbox pays."""
    consumer = [m.name for m in payments.available_methods(BuyerKind.CONSUMER)]
    organisation = [m.name for m in payments.available_methods(BuyerKind.ORGANISATION)]
    assert consumer == ["sandbox"]
    assert organisation == ["invoice", "sandbox"]


def test_configured_stripe_offers_card_t3_1(app: Flask, with_stripe: FakeStripe) -> None:
    assert [m.name for m in payments.available_methods("consumer")] == ["card", "sandbox"]


def test_payment_methods_setting_limits_the_choice(app: Flask, with_stripe: FakeStripe) -> None:
    app.config["PAYMENT_METHODS"] = ["card"]  # the app fixture restores the config
    assert [m.name for m in payments.available_methods("organisation")] == ["card"]


# --- Stripe -------------------------------------------------------------------------------------


def test_stripe_start_creates_one_session_with_the_order_total(
    app: Flask, with_stripe: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    start = _start(order)
    assert start.flow is PaymentFlow.REDIRECT
    assert start.redirect_url
    assert start.redirect_url.startswith(with_stripe.base_url)
    session = with_stripe.sessions[start.provider_reference]
    assert session["amount_total"] == order.total_ore
    assert session["client_reference_id"] == order.number
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.provider_reference == start.provider_reference
    assert payment.status == PaymentStatus.PENDING.value
    # Starting again (the buyer comes back) reuses the key: the same session.
    again = _start(order)
    assert again.provider_reference == start.provider_reference
    assert len(with_stripe.sessions) == 1
    assert count(Payment) == 1


def test_stripe_5xx_at_start_leaves_order_pending_and_retry_reuses_the_key(
    app: Flask, with_stripe: FakeStripe
) -> None:
    """A provider that errors leaves the order unpaid with a Swedish message; no double charge."""
    order = make_order(payment_method="card")
    with_stripe.inject(Fault("/v1/checkout/sessions", method="POST", status=500, times=20))
    with pytest.raises(ProviderUnavailable) as raised:
        _start(order)
    assert "Ingenting har dragits" in raised.value.message
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.failure_message == raised.value.message
    with_stripe.faults.clear()
    start = _start(order)
    keys = {
        r.headers["idempotency-key"] for r in with_stripe.calls("POST", "/v1/checkout/sessions")
    }
    assert keys == {payment.idempotency_key}
    assert list(with_stripe.sessions) == [start.provider_reference]
    assert count(Payment) == 1


def test_stripe_timeout_at_start_then_retry_creates_one_session(
    app: Flask, with_stripe: FakeStripe
) -> None:
    """The answer is lost (read time-out) though Stripe made the session: one session only."""
    order = make_order(payment_method="card")
    with_stripe.inject(
        Fault("/v1/checkout/sessions", method="POST", delay=0.6, after_processing=True, times=3)
    )
    with pytest.raises(ProviderUnavailable):
        _start(order)
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    start = _start(order)
    keys = {
        r.headers["idempotency-key"] for r in with_stripe.calls("POST", "/v1/checkout/sessions")
    }
    assert len(keys) == 1
    assert list(with_stripe.sessions) == [start.provider_reference]


def _stripe_event(fake: FakeStripe, session_id: str, kind: str, event_id: str) -> Event:
    import json

    from shop.payments.stripe import event_from_json

    return event_from_json(json.loads(fake.event(session_id, kind, event_id=event_id)))


def test_handle_event_confirms_once_whatever_the_number_of_deliveries(
    app: Flask, with_stripe: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    start = _start(order)
    with_stripe.pay(start.provider_reference)
    event = _stripe_event(
        with_stripe, start.provider_reference, "checkout.session.completed", "evt_1"
    )
    results = [payments.handle_event(event, now=NOW) for _ in range(5)]
    assert results == [True, False, False, False, False]
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1
    assert count(ProviderEvent) == 1
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.status == PaymentStatus.CAPTURED.value
    assert payment.captured_at == NOW


def test_completed_after_expired_is_recorded_and_ignored(
    app: Flask, with_stripe: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    start = _start(order)
    ref = start.provider_reference
    with_stripe.expire(ref)
    expired = _stripe_event(with_stripe, ref, "checkout.session.expired", "evt_exp")
    with_stripe.pay(ref)
    completed = _stripe_event(with_stripe, ref, "checkout.session.completed", "evt_done")
    assert payments.handle_event(expired, now=NOW) is True
    assert status_of(order) == OrderStatus.CANCELLED.value
    assert payments.handle_event(completed, now=NOW) is True
    assert status_of(order) == OrderStatus.CANCELLED.value
    assert confirmations(order) == 0
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.status == PaymentStatus.CANCELLED.value
    assert count(AuditEntry, AuditEntry.action == "payment.event_ignored") == 1


def test_expired_after_completed_changes_nothing(app: Flask, with_stripe: FakeStripe) -> None:
    order = make_order(payment_method="card")
    ref = _start(order).provider_reference
    with_stripe.pay(ref)
    completed = _stripe_event(with_stripe, ref, "checkout.session.completed", "evt_a")
    expired = _stripe_event(with_stripe, ref, "checkout.session.expired", "evt_b")
    payments.handle_event(completed, now=NOW)
    payments.handle_event(expired, now=NOW)
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1


def test_async_failed_after_succeeded_keeps_one_fulfilment(
    app: Flask, with_stripe: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    ref = _start(order).provider_reference
    with_stripe.pay(ref, asynchronous=True)
    completed = _stripe_event(with_stripe, ref, "checkout.session.completed", "evt_c")
    assert completed.state is PaymentState.PENDING
    payments.handle_event(completed, now=NOW)
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    with_stripe.settle(ref, succeeded=True)
    succeeded = _stripe_event(with_stripe, ref, "checkout.session.async_payment_succeeded", "e_s")
    failed = _stripe_event(with_stripe, ref, "checkout.session.async_payment_failed", "e_f")
    payments.handle_event(succeeded, now=NOW)
    payments.handle_event(failed, now=NOW)
    payments.handle_event(succeeded, now=NOW)
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1


def test_async_failure_releases_the_order(app: Flask, with_stripe: FakeStripe) -> None:
    product = make_product(stock=5)
    order = make_order(payment_method="card", lines=[(product, 2)])
    ref = _start(order).provider_reference
    with_stripe.pay(ref, asynchronous=True)
    with_stripe.settle(ref, succeeded=False)
    failed = _stripe_event(with_stripe, ref, "checkout.session.async_payment_failed", "e_f")
    assert failed.state is PaymentState.FAILED
    payments.handle_event(failed, now=NOW)
    assert status_of(order) == OrderStatus.CANCELLED.value
    assert db.session.scalars(db.select(Payment)).one().status == PaymentStatus.FAILED.value


def test_event_for_an_unknown_session_changes_nothing(app: Flask) -> None:
    event = Event("stripe", "evt_x", "checkout.session.completed", "cs_unknown", PaymentState.PAID)
    assert payments.handle_event(event, now=NOW) is True
    assert payments.handle_event(event, now=NOW) is False
    assert count(Payment) == 0


def test_refresh_state_asks_stripe_and_applies_once(app: Flask, with_stripe: FakeStripe) -> None:
    """The return page never trusts the redirect: the state comes from Stripe."""
    order = make_order(payment_method="card")
    ref = _start(order).provider_reference
    assert payments.refresh_state(order, now=NOW) is PaymentState.PENDING
    with_stripe.pay(ref)
    assert payments.refresh_state(order, now=NOW) is PaymentState.PAID
    assert payments.refresh_state(order, now=NOW) is PaymentState.PAID
    assert status_of(order) == OrderStatus.CONFIRMED.value
    # The webhook arriving afterwards confirms nothing more.
    late = _stripe_event(with_stripe, ref, "checkout.session.completed", "evt_late")
    payments.handle_event(late, now=NOW)
    assert confirmations(order) == 1


def test_refresh_state_falls_back_to_the_stored_state_when_stripe_is_down(
    app: Flask, with_stripe: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    _start(order)
    with_stripe.inject(Fault("/v1/checkout/sessions/", method="GET", status=503, times=20))
    assert payments.refresh_state(order, now=NOW) is PaymentState.PENDING


# --- Klarna -------------------------------------------------------------------------------------


def test_klarna_session_then_authorised_order_is_confirmed_once(
    app: Flask, with_klarna: FakeKlarna
) -> None:
    order = make_order(payment_method="klarna")
    start = _start(order)
    assert start.flow is PaymentFlow.WIDGET
    assert start.client_token
    assert _start(order).client_token == start.client_token  # the widget page reloads
    token = with_klarna.authorize(start.provider_reference)
    placed = payments.place_widget_order(
        order, token, now=NOW, return_url=RETURN, cancel_url=RETURN
    )
    assert placed.state is PaymentState.AUTHORISED
    klarna_order = with_klarna.orders[placed.provider_reference]
    assert klarna_order["acknowledged"] is True
    assert klarna_order["merchant_reference1"] == order.number
    assert status_of(order) == OrderStatus.CONFIRMED.value
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.provider_reference == placed.provider_reference
    assert payment.status == PaymentStatus.AUTHORISED.value
    assert payments.refresh_state(order, now=NOW) is PaymentState.AUTHORISED
    assert confirmations(order) == 1


def test_klarna_5xx_is_retried_with_the_same_key(app: Flask, with_klarna: FakeKlarna) -> None:
    order = make_order(payment_method="klarna")
    with_klarna.inject(Fault("/payments/v1/sessions", method="POST", status=503, times=1))
    start = _start(order)
    calls = with_klarna.calls("POST", "/payments/v1/sessions")
    assert len(calls) == 2
    assert len({c.headers["klarna-idempotency-key"] for c in calls}) == 1
    assert start.client_token


def test_klarna_4xx_is_surfaced_not_retried(app: Flask, with_klarna: FakeKlarna) -> None:
    order = make_order(payment_method="klarna")
    with_klarna.inject(
        Fault(
            "/payments/v1/sessions",
            method="POST",
            status=400,
            body={"error_code": "BAD_VALUE", "error_messages": ["Bad value: locale"]},
        )
    )
    with pytest.raises(ProviderRejected) as raised:
        _start(order)
    assert raised.value.error_code == "BAD_VALUE"
    assert len(with_klarna.calls("POST", "/payments/v1/sessions")) == 1
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value


def test_klarna_rejected_by_fraud_check_fails_the_attempt_only(
    app: Flask, with_klarna: FakeKlarna
) -> None:
    order = make_order(payment_method="klarna")
    start = _start(order)
    token = with_klarna.authorize(start.provider_reference, fraud_status="REJECTED")
    with pytest.raises(Exception, match="godkändes inte"):
        payments.place_widget_order(order, token, now=NOW, return_url=RETURN, cancel_url=RETURN)
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    assert db.session.scalars(db.select(Payment)).one().status == PaymentStatus.FAILED.value


# --- invoice (T3.2, T3.3) -----------------------------------------------------------------------


def _organisation_order(**kwargs):  # type: ignore[no-untyped-def]
    customer = make_customer(kind="organisation")
    return add_invoice_fee(make_order(customer=customer, payment_method="invoice", **kwargs))


def test_invoice_with_good_credit_is_authorised_and_invoiced_t3_2(app: Flask) -> None:
    order = _organisation_order()
    start = _start(order)
    assert start.flow is PaymentFlow.DONE
    assert start.state is PaymentState.AUTHORISED
    assert status_of(order) == OrderStatus.CONFIRMED.value
    check = db.session.scalars(db.select(CreditCheck)).one()
    assert check.approved is True
    assert check.order_id == order.id
    assert check.organisation_number == "556036-0793"
    assert count(Invoice, Invoice.order_id == order.id) == 1
    assert confirmations(order) == 1


def test_invoice_refused_tells_the_buyer_and_keeps_the_order_t3_2(app: Flask) -> None:
    refusing = registry_for(app, INVOICE_DENIED_ORG_NUMBERS=["556036-0793"])
    with use_registry(app, refusing):
        order = _organisation_order()
        with pytest.raises(InvoiceRefused) as raised:
            _start(order)
        assert "annat betalsätt" in raised.value.message
        assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
        check = db.session.scalars(db.select(CreditCheck)).one()
        assert check.approved is False
        # Another method: the invoice fee (T3.3) goes, the sandbox takes the rest.
        total_before = order.total_ore
        start = _start(order, method="sandbox")
        db.session.refresh(order)
        assert order.payment_method == "sandbox"
        assert order.total_ore == total_before - 1900
        assert not [fee for fee in order.fees if fee.kind == "invoice"]
        assert start.provider == "sandbox"


def test_consumer_cannot_pay_by_invoice_t3_2(app: Flask) -> None:
    order = make_order(payment_method="sandbox")
    order.payment_method = "invoice"  # a tampered order: the checkout refuses this
    db.session.commit()
    with pytest.raises(MethodNotAvailable):
        _start(order)
    assert count(CreditCheck) == 0
    order = make_order(payment_method="sandbox")
    with pytest.raises(MethodNotAvailable):
        _start(order, method="invoice")


def test_check_invoice_credit_writes_a_credit_check_t3_2(app: Flask) -> None:
    approved = payments.check_invoice_credit(
        organisation_number="5560360793", amount_ore=100_00, customer_id=None, now=NOW
    )
    over = payments.check_invoice_credit(
        organisation_number="556036-0793", amount_ore=10_000_000, customer_id=None, now=NOW
    )
    invalid = payments.check_invoice_credit(
        organisation_number="123", amount_ore=100, customer_id=None, now=NOW
    )
    assert (approved.approved, over.approved, invalid.approved) == (True, False, False)
    rows = db.session.scalars(db.select(CreditCheck).order_by(CreditCheck.id)).all()
    assert [r.approved for r in rows] == [True, False, False]
    assert rows[0].organisation_number == "556036-0793"
    assert rows[0].checked_at == NOW


# --- sandbox ------------------------------------------------------------------------------------


def test_sandbox_payment_through_the_event_path(app: Flask) -> None:
    order = make_order(payment_method="sandbox")
    start = _start(order)
    assert start.test_mode is True
    assert payments.complete_sandbox_payment(start.provider_reference, SandboxOutcome.PAY, now=NOW)
    assert not payments.complete_sandbox_payment(
        start.provider_reference, SandboxOutcome.PAY, now=NOW
    )
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert confirmations(order) == 1
    assert payments.refresh_state(order, now=NOW) is PaymentState.PAID


def test_sandbox_cancel_releases_the_order(app: Flask) -> None:
    order = make_order(payment_method="sandbox")
    start = _start(order)
    payments.complete_sandbox_payment(start.provider_reference, SandboxOutcome.ABORT, now=NOW)
    assert status_of(order) == OrderStatus.CANCELLED.value
    assert payments.refresh_state(order, now=NOW) is PaymentState.CANCELLED


def test_start_refuses_an_order_that_is_not_pending(app: Flask) -> None:
    order = make_order(payment_method="sandbox", status=OrderStatus.CANCELLED)
    with pytest.raises(Exception, match="väntar inte på betalning"):
        _start(order)
    assert count(Payment) == 0


# --- concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
def test_concurrent_deliveries_confirm_once_on_postgresql(
    app: Flask, with_stripe: FakeStripe
) -> None:
    """Five workers receive the same and competing events at once: one fulfilment."""
    import threading

    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    order = make_order(payment_method="card")
    ref = _start(order).provider_reference
    with_stripe.pay(ref)
    completed = _stripe_event(with_stripe, ref, "checkout.session.completed", "evt_same")
    expired = _stripe_event(with_stripe, ref, "checkout.session.expired", "evt_other")
    events = [completed, completed, expired, completed, completed]
    barrier = threading.Barrier(len(events))
    results: list[bool] = []
    errors: list[BaseException] = []

    def deliver(event: Event) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(payments.handle_event(event, now=NOW))
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(results) == [False, False, False, True, True]
    db.session.expire_all()
    status = status_of(order)
    payment = db.session.scalars(db.select(Payment)).one()
    # Whichever came first wins; the other is recorded and ignored.
    if status == OrderStatus.CONFIRMED.value:
        assert payment.status == PaymentStatus.CAPTURED.value
        assert confirmations(order) == 1
    else:
        assert status == OrderStatus.CANCELLED.value
        assert payment.status == PaymentStatus.CANCELLED.value
        assert confirmations(order) == 0
    assert count(ProviderEvent) == 2


def test_payment_for_an_expired_order_is_refunded(app: Flask, with_stripe: FakeStripe) -> None:
    """The order expired (stock released) before Stripe took the money: it is paid back."""
    from datetime import timedelta

    from shop.services import orders

    order = make_order(payment_method="card")
    ref = _start(order).provider_reference
    assert orders.expire_unpaid_orders(NOW + timedelta(hours=2)) == 1
    with_stripe.pay(ref)
    completed = _stripe_event(with_stripe, ref, "checkout.session.completed", "evt_late")
    assert payments.handle_event(completed, now=NOW) is True
    assert payments.handle_event(completed, now=NOW) is False
    assert status_of(order) == OrderStatus.CANCELLED.value
    assert confirmations(order) == 0
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.status == PaymentStatus.REFUNDED.value
    assert payment.refunded_ore == order.total_ore
    assert [r["amount"] for r in with_stripe.refunds.values()] == [order.total_ore]
    assert count(AuditEntry, AuditEntry.action == "payment.given_back") == 1
