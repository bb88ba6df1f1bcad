"""Orders, their lines, fees and stock movements.

An order copies everything it needs at purchase (buyer, addresses, product
names, prices, VAT rates) so it never changes when the catalogue or the
account does. Personal-data category (privacy.md section 1): ``account``
for the buyer fields, ``order history`` for the rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models.types import UTCDateTime

ORDER_STATUSES = ", ".join(f"'{status.value}'" for status in OrderStatus)


class Order(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shop_order"
    __table_args__ = (
        CheckConstraint(f"status IN ({ORDER_STATUSES})", name="status"),
        CheckConstraint("buyer_kind IN ('consumer', 'organisation')", name="buyer_kind"),
        CheckConstraint("total_ore >= 0", name="total_ore_non_negative"),
        CheckConstraint("vat_ore >= 0 AND vat_ore <= total_ore", name="vat_ore_within_total"),
        Index("ix_shop_order_status_expires_at", "status", "expires_at"),
        Index("ix_shop_order_placed_at", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Human-friendly order number (Ordernummer), set when the order is placed.
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    #: One checkout, one order: a double-clicked "Slutför köp" finds this key again.
    checkout_key: Mapped[str] = mapped_column(String(64), unique=True)
    buyer_kind: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    organisation_number: Mapped[str | None] = mapped_column(String(11))
    delivery_name: Mapped[str | None] = mapped_column(String(200))
    delivery_street: Mapped[str | None] = mapped_column(String(200))
    delivery_postcode: Mapped[str | None] = mapped_column(String(6))
    delivery_city: Mapped[str | None] = mapped_column(String(100))
    billing_name: Mapped[str] = mapped_column(String(200))
    billing_street: Mapped[str] = mapped_column(String(200))
    billing_postcode: Mapped[str] = mapped_column(String(6))
    billing_city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="SE")
    language: Mapped[str] = mapped_column(String(5), default="sv")
    status: Mapped[str] = mapped_column(String(30), default=OrderStatus.PENDING_PAYMENT.value)
    #: card | klarna | invoice | sandbox
    payment_method: Mapped[str] = mapped_column(String(20))
    #: The delivery method's code from the rate table; None for digital-only orders (T2.3).
    delivery_method: Mapped[str | None] = mapped_column(String(40))
    #: The version of the terms of purchase the buyer accepted.
    terms_version: Mapped[str] = mapped_column(String(20))
    #: Total to pay incl. VAT, lines and fees, in öre; stored once at placing.
    total_ore: Mapped[int]
    vat_ore: Mapped[int]
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: An unpaid order is cancelled and its stock released after this instant.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    fees: Mapped[list[OrderFee]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderFee.id"
    )

    @property
    def order_status(self) -> OrderStatus:
        return OrderStatus(self.status)


class OrderLine(db.Model):  # type: ignore[name-defined,misc]
    """A product as it was bought: name, kind, price and VAT rate are snapshots."""

    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_ore >= 0", name="unit_price_ore_non_negative"),
        CheckConstraint("total_ore = unit_price_ore * quantity", name="total_is_price_times_qty"),
        CheckConstraint("vat_ore >= 0 AND vat_ore <= total_ore", name="vat_ore_within_total"),
        CheckConstraint("vat_rate_bp IN (0, 600, 2500)", name="vat_rate_bp"),
        CheckConstraint(
            "kind IN ('physical', 'software_boxed', 'software_code', 'download')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("shop_order.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("product.id", ondelete="SET NULL"), index=True
    )
    sku: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    unit_price_ore: Mapped[int]
    quantity: Mapped[int]
    total_ore: Mapped[int]
    vat_rate_bp: Mapped[int]
    #: VAT contained in total_ore, rounded per line (T2.1).
    vat_ore: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderFee(db.Model):  # type: ignore[name-defined,misc]
    """A fee as its own row: delivery, invoice, reminder, unclaimed or undeliverable parcel."""

    __tablename__ = "order_fee"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('delivery', 'invoice', 'reminder', 'unclaimed', 'undeliverable')",
            name="kind",
        ),
        CheckConstraint("amount_ore >= 0", name="amount_ore_non_negative"),
        CheckConstraint("vat_ore >= 0 AND vat_ore <= amount_ore", name="vat_ore_within_amount"),
        CheckConstraint("vat_rate_bp IN (0, 600, 2500)", name="vat_rate_bp"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("shop_order.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    amount_ore: Mapped[int]
    vat_rate_bp: Mapped[int]
    vat_ore: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="fees")


class StockMovement(db.Model):  # type: ignore[name-defined,misc]
    """Every change to stock with its reason: reserve, release, ship, restock, adjust."""

    __tablename__ = "stock_movement"
    __table_args__ = (
        CheckConstraint("kind IN ('reserve', 'release', 'ship', 'restock', 'adjust')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop_order.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    #: Signed change in units (reserve: reserved +n; release: reserved -n; …).
    quantity: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime())
