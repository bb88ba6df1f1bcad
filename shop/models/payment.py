"""Payments through a provider, and the provider events already processed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.domain.lifecycle import PaymentStatus
from shop.extensions import db
from shop.models.order import Order
from shop.models.types import UTCDateTime

PAYMENT_STATUSES = ", ".join(f"'{status.value}'" for status in PaymentStatus)


class Payment(db.Model):  # type: ignore[name-defined,misc]
    """One attempt to pay an order through one provider."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint(f"status IN ({PAYMENT_STATUSES})", name="status"),
        CheckConstraint("amount_ore >= 0", name="amount_ore_non_negative"),
        CheckConstraint(
            "refunded_ore >= 0 AND refunded_ore <= amount_ore", name="refunded_within_amount"
        ),
        UniqueConstraint("provider", "provider_reference", name="provider_reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), index=True)
    #: stripe | klarna | invoice | sandbox
    provider: Mapped[str] = mapped_column(String(20))
    #: card | klarna | swish | invoice | sandbox
    method: Mapped[str] = mapped_column(String(20))
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    #: Sent with every call that creates something at the provider: retries never charge twice.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    amount_ore: Mapped[int]
    refunded_ore: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.PENDING.value)
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship()


class ProviderEvent(db.Model):  # type: ignore[name-defined,misc]
    """A webhook event already seen: the unique row is written first, so it applies once."""

    __tablename__ = "provider_event"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="provider_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
