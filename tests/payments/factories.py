"""Requests and settings shared by the payment tests (no database, no internet)."""

from __future__ import annotations

from datetime import UTC, datetime

from shop.domain.buyers import BuyerKind
from shop.payments.base import LineKind, PaymentLine, PaymentRequest

#: tiny timeouts and no backoff: the whole payments suite stays fast
FAST_NETWORK = {
    "connect_timeout": 0.5,
    "read_timeout": 0.15,
    "max_retries": 2,
    "backoff_seconds": 0.0,
}
FIXED_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def order_lines() -> tuple[PaymentLine, ...]:
    return (
        PaymentLine.of("Bach: Sex cellosviter (noter)", 2, 24900, 600, reference="NOT-101"),
        PaymentLine.of("Stämapparat KT-1", 1, 39900, 2500, reference="TIL-7"),
        PaymentLine.of("Frakt, paket", 1, 5900, 2500, kind=LineKind.SHIPPING_FEE),
    )


def payment_request(
    *,
    key: str = "pay-1001-1",
    lines: tuple[PaymentLine, ...] | None = None,
    buyer_kind: BuyerKind = BuyerKind.CONSUMER,
    organisation_number: str | None = None,
    order_reference: str = "1001",
) -> PaymentRequest:
    lines = lines if lines is not None else order_lines()
    return PaymentRequest(
        order_reference=order_reference,
        amount_ore=sum(line.total_ore for line in lines),
        lines=lines,
        customer_email="anna@example.se",
        success_url="http://127.0.0.1:5000/kassa/klar?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://127.0.0.1:5000/kassa",
        idempotency_key=key,
        buyer_kind=buyer_kind,
        organisation_number=organisation_number,
    )
