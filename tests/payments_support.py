"""Helpers for the payment service and web tests (issue 4, B).

The app fixture is shared by the whole session, so a test that needs Stripe
or Klarna builds a registry against a local fake server and puts it in
``app.extensions["payments"]`` for the test only (:func:`use_registry`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from shop import clock
from shop.domain.invoices import invoice_fee_line
from shop.domain.vat import vat_of_gross
from shop.extensions import db
from shop.models import AuditEntry, Order, OrderFee
from shop.payments.registry import ProviderRegistry, build_registry
from shop.services import orders
from tests.fakes import klarna_api, stripe_api
from tests.fakes.klarna_api import FakeKlarna
from tests.fakes.stripe_api import FakeStripe

#: tiny timeouts and no backoff, so failure tests stay fast
FAST_NETWORK: dict[str, Any] = {
    "PAYMENT_CONNECT_TIMEOUT": 0.5,
    "PAYMENT_READ_TIMEOUT": 0.3,
    "PAYMENT_MAX_RETRIES": 2,
    "PAYMENT_RETRY_BACKOFF": 0.0,
}


def registry_for(app: Flask, **overrides: Any) -> ProviderRegistry:
    config = {**app.config, **FAST_NETWORK, **overrides}
    return build_registry(config)


@contextmanager
def use_registry(app: Flask, registry: ProviderRegistry) -> Iterator[ProviderRegistry]:
    """Use ``registry`` as the app's payment providers inside the block."""
    previous = app.extensions["payments"]
    app.extensions["payments"] = registry
    try:
        yield registry
    finally:
        app.extensions["payments"] = previous
        for name in registry.provider_names:
            close = getattr(registry.provider(name), "close", None)
            if close is not None:
                close()


def stripe_config(fake: FakeStripe) -> dict[str, Any]:
    assert fake.base_url.startswith("http://127.0.0.1:")
    return {
        "STRIPE_SECRET_KEY": stripe_api.API_KEY,
        "STRIPE_WEBHOOK_SECRET": stripe_api.WEBHOOK_SECRET,
        "STRIPE_API_BASE": fake.base_url,
    }


def klarna_config(fake: FakeKlarna) -> dict[str, Any]:
    assert fake.base_url.startswith("http://127.0.0.1:")
    return {
        "KLARNA_USERNAME": klarna_api.USERNAME,
        "KLARNA_PASSWORD": klarna_api.PASSWORD,
        "KLARNA_API_BASE": fake.base_url,
    }


def signed_stripe_headers(payload: bytes, *, age_seconds: int = 0) -> dict[str, str]:
    """A real ``Stripe-Signature`` header (t=…,v1=HMAC-SHA256) made ``age_seconds`` ago."""
    timestamp = int(clock.utcnow().timestamp()) - age_seconds
    return {
        "Stripe-Signature": stripe_api.stripe_signature(
            payload, stripe_api.WEBHOOK_SECRET, timestamp
        ),
        "Content-Type": "application/json",
    }


def add_invoice_fee(order: Order) -> Order:
    """T3.3: the invoice fee row, as the checkout adds it to an invoice order (if missing)."""
    if any(fee.kind == "invoice" for fee in order.fees):
        return order
    fee = invoice_fee_line()
    vat = vat_of_gross(fee.amount_ore, fee.vat_rate_bp)
    order.fees.append(
        OrderFee(
            kind="invoice",
            label=fee.label_sv,
            amount_ore=fee.amount_ore,
            vat_rate_bp=fee.vat_rate_bp,
            vat_ore=vat,
            created_at=order.placed_at,
        )
    )
    order.total_ore += fee.amount_ore
    order.vat_ore += vat
    db.session.commit()
    return order


def confirmations(order: Order) -> int:
    """How many times the order was confirmed (audit entries of the transition)."""
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.subject_type == "order",
            AuditEntry.subject_id == str(order.id),
            AuditEntry.action == "order.status",
        )
    )
    return sum(1 for entry in entries if entry.details.get("to") == "confirmed")


def count(model: Any, *criteria: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)


def guest_token(order: Order) -> str:
    return orders.guest_order_token(order)


def status_of(order: Order) -> str:
    db.session.expire_all()
    fresh = db.session.get(Order, order.id)
    assert fresh is not None
    return fresh.status
