"""Klarna Payments (direct) through the real client against a local fake Klarna (T3.1)."""

from __future__ import annotations

import base64
import json
import socket

import pytest

from shop.payments.base import (
    CaptureRequest,
    PaymentFlow,
    PaymentState,
    RefundRequest,
    RefundStatus,
)
from shop.payments.errors import (
    InvalidWebhook,
    PaymentDeclined,
    PaymentNotAllowed,
    PaymentNotFound,
    ProviderAuthenticationFailed,
    ProviderRejected,
    ProviderUnavailable,
)
from shop.payments.klarna import KlarnaClient, KlarnaProvider, KlarnaSettings, order_lines
from tests.fakes import klarna_api
from tests.fakes.klarna_api import FakeKlarna, expected_tax
from tests.fakes.server import Fault
from tests.payments.conftest import klarna_settings
from tests.payments.factories import FIXED_NOW, payment_request
from tests.payments.factories import order_lines as shop_lines

ORDER_TOTAL = 95600


def _order(
    provider: KlarnaProvider, fake: FakeKlarna, *, fraud: str = "ACCEPTED", key: str = "pay-1"
) -> str:
    request = payment_request(key=key)
    start = provider.start_payment(request, FIXED_NOW)
    token = fake.authorize(start.provider_reference, fraud_status=fraud)
    return provider.place_order(request, token, FIXED_NOW).provider_reference


# --- sessions and orders --------------------------------------------------------------------


def test_t3_1_start_creates_a_session_for_the_widget(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    start = klarna_provider.start_payment(payment_request(), FIXED_NOW)

    assert start.flow is PaymentFlow.WIDGET
    assert start.state is PaymentState.PENDING
    assert start.client_token
    assert start.provider_reference in klarna_fake.sessions
    assert start.test_mode
    (call,) = klarna_fake.calls("POST", "/payments/v1/sessions")
    expected_auth = base64.b64encode(f"{klarna_api.USERNAME}:{klarna_api.PASSWORD}".encode())
    assert call.headers["authorization"] == "Basic " + expected_auth.decode()
    assert call.headers["klarna-idempotency-key"] == "pay-1001-1:session"
    body = json.loads(call.body)
    assert body["intent"] == "buy"
    assert (body["purchase_country"], body["purchase_currency"], body["locale"]) == (
        "SE",
        "SEK",
        "sv-SE",
    )
    assert body["order_amount"] == ORDER_TOTAL
    assert body["merchant_reference1"] == "1001"
    first = body["order_lines"][0]
    assert (first["quantity"], first["unit_price"], first["total_amount"]) == (2, 24900, 49800)
    assert (first["tax_rate"], first["total_tax_amount"]) == (600, 2819)
    assert body["order_tax_amount"] == sum(line["total_tax_amount"] for line in body["order_lines"])
    assert body["order_lines"][2]["type"] == "shipping_fee"


def test_t2_1_line_vat_matches_klarnas_own_check() -> None:
    for line in order_lines(shop_lines()):
        assert (
            abs(line["total_tax_amount"] - expected_tax(line["total_amount"], line["tax_rate"]))
            <= 1
        )


def test_place_order_authorises_and_acknowledges(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake)

    assert klarna_fake.orders[order_id]["acknowledged"] is True
    assert klarna_provider.fetch_state(order_id) is PaymentState.AUTHORISED
    assert klarna_fake.calls("POST", "/payments/v1/authorizations/")[0].headers[
        "klarna-idempotency-key"
    ] == ("pay-1:order")


def test_a_failed_acknowledgement_does_not_undo_the_placed_order(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    klarna_fake.inject(Fault("/ordermanagement/v1/orders/", "POST", status=503, times=3))

    order_id = _order(klarna_provider, klarna_fake)

    assert klarna_provider.fetch_state(order_id) is PaymentState.AUTHORISED
    assert klarna_fake.orders[order_id]["acknowledged"] is False


def test_a_rejected_order_is_declined(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    with pytest.raises(PaymentDeclined):
        _order(klarna_provider, klarna_fake, fraud="REJECTED")


def test_a_pending_order_waits_for_klarnas_review(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake, fraud="PENDING")
    assert klarna_provider.fetch_state(order_id) is PaymentState.PENDING

    klarna_fake.decide_fraud(order_id, "ACCEPTED")

    assert klarna_provider.fetch_state(order_id) is PaymentState.AUTHORISED


def test_a_bad_request_is_a_typed_error_with_klarnas_details(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    with pytest.raises(ProviderRejected) as caught:
        klarna_provider.client.create_session({"order_amount": 1}, "bad-1")

    error = caught.value
    assert (error.http_status, error.error_code) == (400, "BAD_VALUE")
    assert error.error_messages == ("Bad value: purchase_country",)
    assert error.correlation_id
    assert len(klarna_fake.calls("POST", "/payments/v1/sessions")) == 1  # 4xx never retried


def test_wrong_credentials_are_not_retried(klarna_fake: FakeKlarna) -> None:
    provider = KlarnaProvider(KlarnaClient(klarna_settings(klarna_fake.base_url, password="wrong")))

    with pytest.raises(ProviderAuthenticationFailed) as caught:
        provider.start_payment(payment_request(), FIXED_NOW)

    assert caught.value.http_status == 401
    assert len(klarna_fake.requests) == 1


def test_unknown_order_is_not_found(klarna_provider: KlarnaProvider) -> None:
    with pytest.raises(PaymentNotFound) as caught:
        klarna_provider.fetch_state("00000000-0000-0000-0000-000000000000")
    assert caught.value.error_code == "NO_SUCH_ORDER"


# --- retries, timeouts ----------------------------------------------------------------------


def test_5xx_is_retried_with_the_same_idempotency_key(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    klarna_fake.inject(Fault("/payments/v1/sessions", "POST", status=503, times=2))

    start = klarna_provider.start_payment(payment_request(), FIXED_NOW)

    calls = klarna_fake.calls("POST", "/payments/v1/sessions")
    assert len(calls) == 3
    assert {c.headers["klarna-idempotency-key"] for c in calls} == {"pay-1001-1:session"}
    assert list(klarna_fake.sessions) == [start.provider_reference]


def test_5xx_on_every_try_is_provider_unavailable_in_swedish(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    klarna_fake.inject(Fault("/payments/v1/sessions", "POST", status=500, times=10))

    with pytest.raises(ProviderUnavailable) as caught:
        klarna_provider.start_payment(payment_request(), FIXED_NOW)

    assert "svarar inte" in str(caught.value)
    assert "INTERNAL_SERVER_ERROR" in caught.value.detail
    assert len(klarna_fake.calls("POST", "/payments/v1/sessions")) == 3


def test_a_timeout_is_retried_then_provider_unavailable(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    klarna_fake.inject(Fault("/payments/v1/sessions", "POST", delay=0.4, times=3))

    with pytest.raises(ProviderUnavailable):
        klarna_provider.start_payment(payment_request(), FIXED_NOW)
    assert len(klarna_fake.calls("POST", "/payments/v1/sessions")) == 3


def test_a_refused_connection_is_provider_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    settings = klarna_settings(f"http://127.0.0.1:{port}", backoff_seconds=0.01)
    client = KlarnaClient(settings, sleep=sleeps.append)

    with pytest.raises(ProviderUnavailable):
        client.get_order("x")
    assert sleeps == [0.01, 0.02]  # exponential backoff between the three tries


# --- capture, refund, cancel (Order Management) --------------------------------------------


def test_capture_on_shipment_partially_then_fully(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake)

    first = klarna_provider.capture(CaptureRequest(order_id, 60000, "cap-1", description="Paket 1"))
    assert klarna_provider.fetch_state(order_id) is PaymentState.AUTHORISED
    klarna_provider.capture(CaptureRequest(order_id, ORDER_TOTAL - 60000, "cap-2"))

    assert first.capture_id == klarna_fake.orders[order_id]["captures"][0]["capture_id"]
    assert klarna_provider.fetch_state(order_id) is PaymentState.PAID


def test_capture_beyond_the_authorised_amount_is_not_allowed_and_not_retried(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake)

    with pytest.raises(PaymentNotAllowed) as caught:
        klarna_provider.capture(CaptureRequest(order_id, ORDER_TOTAL + 1, "cap-too-much"))

    assert (caught.value.http_status, caught.value.error_code) == (403, "CAPTURE_NOT_ALLOWED")
    assert len(klarna_fake.calls("POST", f"/ordermanagement/v1/orders/{order_id}/captures")) == 1


def test_t5_8_refund_retried_after_a_lost_answer_refunds_once(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake)
    klarna_provider.capture(CaptureRequest(order_id, ORDER_TOTAL, "cap-1"))
    path = f"/ordermanagement/v1/orders/{order_id}/refunds"
    klarna_fake.inject(Fault(path, "POST", status=500, after_processing=True))

    result = klarna_provider.refund(RefundRequest(order_id, 30000, "refund-1", reason="Retur"))

    calls = klarna_fake.calls("POST", path)
    assert len(calls) == 2
    assert {c.headers["klarna-idempotency-key"] for c in calls} == {"refund-1"}
    assert len(klarna_fake.orders[order_id]["refunds"]) == 1
    assert result.refund_id == klarna_fake.orders[order_id]["refunds"][0]["refund_id"]
    assert result.status is RefundStatus.DONE
    assert json.loads(calls[0].body) == {"refunded_amount": 30000, "description": "Retur"}


def test_full_refund_gives_refunded(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake)
    klarna_provider.capture(CaptureRequest(order_id, ORDER_TOTAL, "cap-1"))

    klarna_provider.refund(RefundRequest(order_id, ORDER_TOTAL, "refund-all"))

    assert klarna_provider.fetch_state(order_id) is PaymentState.REFUNDED


def test_refund_before_capture_is_not_allowed(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake)

    with pytest.raises(PaymentNotAllowed) as caught:
        klarna_provider.refund(RefundRequest(order_id, 100, "refund-early"))
    assert caught.value.error_code == "REFUND_NOT_ALLOWED"


def test_cancel_before_capture_and_not_after(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    uncaptured = _order(klarna_provider, klarna_fake)
    assert klarna_provider.cancel(uncaptured, "cancel-1") is PaymentState.CANCELLED
    assert klarna_provider.cancel(uncaptured, "cancel-1") is PaymentState.CANCELLED
    assert klarna_provider.fetch_state(uncaptured) is PaymentState.CANCELLED

    captured = _order(klarna_provider, klarna_fake, key="pay-2")
    klarna_provider.capture(CaptureRequest(captured, 100, "cap-1"))
    with pytest.raises(PaymentNotAllowed) as caught:
        klarna_provider.cancel(captured, "cancel-2")
    assert caught.value.error_code == "CANCEL_NOT_ALLOWED"


def test_release_an_authorisation_that_will_not_become_an_order(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    start = klarna_provider.start_payment(payment_request(), FIXED_NOW)
    token = klarna_fake.authorize(start.provider_reference)

    klarna_provider.cancel_authorization(token)
    klarna_provider.cancel_authorization(token)  # already released: nothing to do

    assert token not in klarna_fake.authorizations
    assert len(klarna_fake.calls("DELETE", "/payments/v1/authorizations/")) == 2


# --- notifications --------------------------------------------------------------------------


def _notification(order_id: str, kind: str = "FRAUD_RISK_ACCEPTED") -> bytes:
    return json.dumps({"order_id": order_id, "event_type": kind}).encode()


def test_a_notification_is_verified_against_order_management(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake, fraud="PENDING")
    klarna_fake.decide_fraud(order_id, "ACCEPTED")

    event = klarna_provider.parse_webhook(_notification(order_id), {}, FIXED_NOW)
    replay = klarna_provider.parse_webhook(_notification(order_id), {}, FIXED_NOW)

    assert event.state is PaymentState.AUTHORISED
    assert (event.order_reference, event.amount_ore) == ("1001", ORDER_TOTAL)
    assert replay.event_id == event.event_id


def test_a_forged_notification_cannot_change_the_state(
    klarna_provider: KlarnaProvider, klarna_fake: FakeKlarna
) -> None:
    order_id = _order(klarna_provider, klarna_fake, fraud="PENDING")

    event = klarna_provider.parse_webhook(_notification(order_id), {}, FIXED_NOW)

    assert event.state is PaymentState.PENDING  # Klarna has not accepted it


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        json.dumps({"event_type": "FRAUD_RISK_ACCEPTED"}).encode(),
        json.dumps({"order_id": "x", "event_type": "SOMETHING_ELSE"}).encode(),
        _notification("00000000-0000-0000-0000-000000000000"),
    ],
)
def test_bad_notifications_are_refused(klarna_provider: KlarnaProvider, payload: bytes) -> None:
    with pytest.raises(InvalidWebhook):
        klarna_provider.parse_webhook(payload, {}, FIXED_NOW)


def test_settings_need_credentials_and_an_http_url() -> None:
    with pytest.raises(ValueError, match="KLARNA_USERNAME"):
        KlarnaSettings(username="", password="x")
    with pytest.raises(ValueError, match="http"):
        KlarnaSettings(username="u", password="p", api_base="ftp://example")
