"""Stripe Checkout through the real SDK against a local fake Stripe API (T3.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shop.payments.base import (
    CaptureRequest,
    PaymentFlow,
    PaymentState,
    RefundRequest,
    RefundStatus,
)
from shop.payments.errors import (
    IdempotencyConflict,
    InvalidWebhook,
    PaymentNotAllowed,
    PaymentNotFound,
    ProviderAuthenticationFailed,
    ProviderRejected,
    ProviderUnavailable,
)
from shop.payments.stripe import StripeProvider, StripeSettings, session_state
from tests.fakes.server import Fault
from tests.fakes.stripe_api import WEBHOOK_SECRET, FakeStripe, decode_form, stripe_signature
from tests.payments.factories import FAST_NETWORK, FIXED_NOW, payment_request


def _real_now() -> datetime:
    """Webhook signatures are made at the real current time, as Stripe makes them."""
    return datetime.now(UTC)


def _signed(payload: bytes, at: datetime, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"Stripe-Signature": stripe_signature(payload, secret, int(at.timestamp()))}


def _started(provider: StripeProvider, key: str = "pay-1001-1") -> str:
    return provider.start_payment(payment_request(key=key), FIXED_NOW).provider_reference


# --- starting a payment --------------------------------------------------------------------


def test_t3_1_start_creates_a_checkout_session_in_ore(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    start = stripe_provider.start_payment(payment_request(), FIXED_NOW)

    assert start.flow is PaymentFlow.REDIRECT
    assert start.state is PaymentState.PENDING
    assert start.redirect_url == f"{stripe_fake.base_url}/c/pay/{start.provider_reference}"
    (call,) = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert call.headers["idempotency-key"] == "pay-1001-1"
    params = decode_form(call.body.decode())
    assert params["mode"] == "payment"
    assert params["payment_method_types"] == ["card", "klarna", "swish"]
    assert params["client_reference_id"] == "1001"
    assert params["metadata"] == {"order_reference": "1001"}
    assert params["expires_at"] == str(int((FIXED_NOW + timedelta(hours=1)).timestamp()))
    assert params["locale"] == "sv"
    assert [(i["quantity"], i["price_data"]["unit_amount"]) for i in params["line_items"]] == [
        ("2", "24900"),
        ("1", "39900"),
        ("1", "5900"),
    ]
    assert {i["price_data"]["currency"] for i in params["line_items"]} == {"sek"}
    assert stripe_fake.sessions[start.provider_reference]["amount_total"] == 95600


def test_same_idempotency_key_gives_the_same_session(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    first = stripe_provider.start_payment(payment_request(), FIXED_NOW)
    again = stripe_provider.start_payment(payment_request(), FIXED_NOW)

    assert again.provider_reference == first.provider_reference
    assert len(stripe_fake.sessions) == 1


def test_same_idempotency_key_with_other_parameters_is_refused(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    stripe_provider.start_payment(payment_request(), FIXED_NOW)

    with pytest.raises(IdempotencyConflict):
        stripe_provider.start_payment(payment_request(order_reference="1002"), FIXED_NOW)
    assert len(stripe_fake.sessions) == 1


def test_a_500_when_starting_is_retried_with_the_same_key(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    stripe_fake.inject(Fault("/v1/checkout/sessions", "POST", status=500, after_processing=True))

    start = stripe_provider.start_payment(payment_request(), FIXED_NOW)

    calls = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert len(calls) == 2
    assert {c.headers["idempotency-key"] for c in calls} == {"pay-1001-1"}
    assert list(stripe_fake.sessions) == [start.provider_reference]


def test_timeouts_leave_the_payment_unstarted_with_a_swedish_message(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    stripe_fake.inject(Fault("/v1/checkout/sessions", "POST", delay=0.4, times=3))

    with pytest.raises(ProviderUnavailable) as caught:
        stripe_provider.start_payment(payment_request(), FIXED_NOW)

    assert "Ingenting har dragits" in str(caught.value)
    assert len(stripe_fake.calls("POST", "/v1/checkout/sessions")) == 3  # 1 + 2 retries
    assert stripe_fake.sessions == {}


def test_5xx_on_every_try_is_provider_unavailable(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    stripe_fake.inject(Fault("/v1/checkout/sessions", "POST", status=503, times=5))

    with pytest.raises(ProviderUnavailable):
        stripe_provider.start_payment(payment_request(), FIXED_NOW)
    assert len(stripe_fake.calls("POST", "/v1/checkout/sessions")) == 3


def test_a_wrong_api_key_is_not_retried(stripe_fake: FakeStripe) -> None:
    settings = StripeSettings(
        secret_key="sk_test_wrong",
        webhook_secret=WEBHOOK_SECRET,
        api_base=stripe_fake.base_url,
        **FAST_NETWORK,
    )
    provider = StripeProvider(settings)
    try:
        with pytest.raises(ProviderAuthenticationFailed):
            provider.start_payment(payment_request(), FIXED_NOW)
    finally:
        provider.close()
    assert len(stripe_fake.calls("POST", "/v1/checkout/sessions")) == 1


# --- the real state (the return page never trusts the redirect) ----------------------------


def test_fetch_state_follows_the_session(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    open_session = _started(stripe_provider, "k-open")
    paid = _started(stripe_provider, "k-paid")
    stripe_fake.pay(paid)
    processing = _started(stripe_provider, "k-async")
    stripe_fake.pay(processing, asynchronous=True)
    failed = _started(stripe_provider, "k-failed")
    stripe_fake.pay(failed, asynchronous=True)
    stripe_fake.settle(failed, succeeded=False)
    expired = _started(stripe_provider, "k-expired")
    stripe_fake.expire(expired)

    assert stripe_provider.fetch_state(open_session) is PaymentState.PENDING
    assert stripe_provider.fetch_state(paid) is PaymentState.PAID
    assert stripe_provider.fetch_state(processing) is PaymentState.PENDING
    assert stripe_provider.fetch_state(failed) is PaymentState.FAILED
    assert stripe_provider.fetch_state(expired) is PaymentState.EXPIRED
    (get, *_) = stripe_fake.calls("GET", "/v1/checkout/sessions/")
    assert decode_form(get.query) == {"expand": ["payment_intent.latest_charge"]}


def test_fetch_state_of_an_unknown_session(stripe_provider: StripeProvider) -> None:
    with pytest.raises(PaymentNotFound):
        stripe_provider.fetch_state("cs_test_nope")


def test_session_state_of_a_cancelled_intent() -> None:
    session = {"status": "complete", "payment_status": "unpaid"}
    assert session_state({**session, "payment_intent": {"status": "canceled"}}) is (
        PaymentState.CANCELLED
    )
    assert session_state({"status": "complete", "payment_status": "no_payment_required"}) is (
        PaymentState.PAID
    )


# --- webhooks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "asynchronous", "settled", "expected"),
    [
        ("checkout.session.completed", False, None, PaymentState.PAID),
        ("checkout.session.completed", True, None, PaymentState.PENDING),
        ("checkout.session.async_payment_succeeded", True, True, PaymentState.PAID),
        ("checkout.session.async_payment_failed", True, False, PaymentState.FAILED),
    ],
)
def test_webhook_maps_checkout_events(
    stripe_provider: StripeProvider,
    stripe_fake: FakeStripe,
    kind: str,
    asynchronous: bool,
    settled: bool | None,
    expected: PaymentState,
) -> None:
    session = _started(stripe_provider)
    stripe_fake.pay(session, asynchronous=asynchronous)
    if settled is not None:
        stripe_fake.settle(session, succeeded=settled)
    payload = stripe_fake.event(session, kind)
    now = _real_now()

    event = stripe_provider.parse_webhook(payload, _signed(payload, now), now)

    assert event.provider == "stripe"
    assert event.kind == kind
    assert event.state is expected
    assert event.provider_reference == session
    assert event.order_reference == "1001"
    assert event.amount_ore == 95600
    assert event.currency == "SEK"


def test_webhook_expired_session(stripe_provider: StripeProvider, stripe_fake: FakeStripe) -> None:
    session = _started(stripe_provider)
    stripe_fake.expire(session)
    payload = stripe_fake.event(session, "checkout.session.expired")
    now = _real_now()

    assert stripe_provider.parse_webhook(payload, _signed(payload, now), now).state is (
        PaymentState.EXPIRED
    )


def test_a_replayed_webhook_parses_to_the_same_event_id(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    stripe_fake.pay(session)
    payload = stripe_fake.event(session, "checkout.session.completed")
    now = _real_now()
    headers = _signed(payload, now)

    first = stripe_provider.parse_webhook(payload, headers, now)
    replay = stripe_provider.parse_webhook(payload, headers, now + timedelta(seconds=30))

    assert replay.event_id == first.event_id


def test_other_events_change_nothing(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    payload = json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "charge.succeeded",
            "created": 1,
            "data": {"object": {"id": "ch_1", "object": "charge"}},
        }
    ).encode()
    now = _real_now()

    event = stripe_provider.parse_webhook(payload, _signed(payload, now), now)

    assert event.state is None
    assert event.event_id == "evt_1"


def test_a_webhook_with_a_bad_signature_is_refused(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    payload = stripe_fake.event(session, "checkout.session.completed")
    now = _real_now()

    with pytest.raises(InvalidWebhook):
        stripe_provider.parse_webhook(payload, _signed(payload, now, "whsec_other"), now)
    tampered = payload.replace(b'"1001"', b'"9999"')
    with pytest.raises(InvalidWebhook):
        stripe_provider.parse_webhook(tampered, _signed(payload, now), now)
    with pytest.raises(InvalidWebhook):
        stripe_provider.parse_webhook(payload, {}, now)
    with pytest.raises(InvalidWebhook):
        stripe_provider.parse_webhook(payload, {"Stripe-Signature": "garbage"}, now)


def test_a_webhook_with_an_old_signature_is_refused(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    payload = stripe_fake.event(session, "checkout.session.completed")
    now = _real_now()
    headers = _signed(payload, now - timedelta(seconds=301))

    with pytest.raises(InvalidWebhook):
        stripe_provider.parse_webhook(payload, headers, now)
    # within Stripe's 300 s tolerance it is accepted
    ok_headers = _signed(payload, now - timedelta(seconds=299))
    assert stripe_provider.parse_webhook(payload, ok_headers, now).event_id


def test_a_malformed_but_signed_webhook_is_refused(stripe_provider: StripeProvider) -> None:
    now = _real_now()
    for payload in (b"{not json", b"[]", b'{"object": "event"}', b"\xff\xfe"):
        with pytest.raises(InvalidWebhook):
            stripe_provider.parse_webhook(payload, _signed(payload, now), now)


def test_header_names_are_case_insensitive(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    payload = stripe_fake.event(session, "checkout.session.expired")
    now = _real_now()
    headers = {"stripe-signature": _signed(payload, now)["Stripe-Signature"]}

    assert stripe_provider.parse_webhook(payload, headers, now).kind == "checkout.session.expired"


# --- refunds, capture, cancel --------------------------------------------------------------


def test_t5_8_refund_retried_after_a_lost_answer_refunds_once(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    stripe_fake.pay(session)
    stripe_fake.inject(Fault("/v1/refunds", "POST", status=500, after_processing=True))

    result = stripe_provider.refund(RefundRequest(session, 30000, "refund-1001-1"))

    calls = stripe_fake.calls("POST", "/v1/refunds")
    assert len(calls) == 2
    assert {c.headers["idempotency-key"] for c in calls} == {"refund-1001-1"}
    assert len(stripe_fake.refunds) == 1
    assert result.amount_ore == 30000
    assert result.status is RefundStatus.DONE
    assert decode_form(calls[0].body.decode())["amount"] == "30000"


def test_t5_8_the_same_refund_key_twice_refunds_once(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    stripe_fake.pay(session)

    first = stripe_provider.refund(RefundRequest(session, 95600, "refund-1001-1"))
    again = stripe_provider.refund(RefundRequest(session, 95600, "refund-1001-1"))

    assert again.refund_id == first.refund_id
    assert len(stripe_fake.refunds) == 1
    assert stripe_provider.fetch_state(session) is PaymentState.REFUNDED


def test_refund_beyond_the_paid_amount_is_refused(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    stripe_fake.pay(session)

    with pytest.raises(ProviderRejected) as caught:
        stripe_provider.refund(RefundRequest(session, 95601, "refund-too-much"))
    assert caught.value.error_code == "amount_too_large"
    assert stripe_fake.refunds == {}


def test_refund_of_an_unpaid_session_is_not_allowed(stripe_provider: StripeProvider) -> None:
    session = _started(stripe_provider)

    with pytest.raises(PaymentNotAllowed):
        stripe_provider.refund(RefundRequest(session, 100, "refund-unpaid"))


def test_refund_timeout_is_provider_unavailable(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    stripe_fake.pay(session)
    stripe_fake.inject(Fault("/v1/refunds", "POST", delay=0.4, times=3))

    with pytest.raises(ProviderUnavailable):
        stripe_provider.refund(RefundRequest(session, 100, "refund-slow"))
    assert stripe_fake.refunds == {}


def test_capture_confirms_a_paid_session(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    session = _started(stripe_provider)
    with pytest.raises(PaymentNotAllowed):
        stripe_provider.capture(CaptureRequest(session, 95600, "cap-1"))
    stripe_fake.pay(session)

    result = stripe_provider.capture(CaptureRequest(session, 95600, "cap-1"))

    assert result.capture_id == stripe_fake.sessions[session]["payment_intent"]
    with pytest.raises(PaymentNotAllowed):
        stripe_provider.capture(CaptureRequest(session, 95601, "cap-2"))


def test_cancel_expires_an_open_session_and_refuses_a_paid_one(
    stripe_provider: StripeProvider, stripe_fake: FakeStripe
) -> None:
    open_session = _started(stripe_provider, "k-1")
    paid = _started(stripe_provider, "k-2")
    stripe_fake.pay(paid)

    assert stripe_provider.cancel(open_session, "cancel-1") is PaymentState.EXPIRED
    assert stripe_provider.cancel(open_session, "cancel-1b") is PaymentState.EXPIRED
    assert stripe_fake.sessions[open_session]["status"] == "expired"
    with pytest.raises(PaymentNotAllowed):
        stripe_provider.cancel(paid, "cancel-2")


def test_settings_refuse_a_session_life_stripe_does_not_allow() -> None:
    with pytest.raises(ValueError, match="30 minutes"):
        StripeSettings("sk_test_x", "whsec_x", checkout_ttl=timedelta(minutes=5))
