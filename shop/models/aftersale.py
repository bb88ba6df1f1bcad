"""After the sale: shipments (T4.2, T7) and withdrawals (T5).

Personal-data category (privacy.md section 1): ``order history``; the name
and e-mail a withdrawal is confirmed to are ``account`` data.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.domain.lifecycle import ReturnStatus
from shop.extensions import db
from shop.models.order import Order, OrderLine
from shop.models.types import UTCDateTime

RETURN_STATUSES = ", ".join(f"'{status.value}'" for status in ReturnStatus)


class Shipment(db.Model):  # type: ignore[name-defined,misc]
    """One parcel or letter of an order; an order may ship in several (T4.2)."""

    __tablename__ = "shipment"
    __table_args__ = (
        CheckConstraint("carrier IN ('postnord', 'dhl')", name="carrier"),
        CheckConstraint(
            "returned_kind IS NULL OR returned_kind IN ('unclaimed', 'undeliverable')",
            name="returned_kind",
        ),
        CheckConstraint(
            "delivered_on IS NULL OR dispatched_on IS NOT NULL", name="delivered_after_dispatch"
        ),
        Index("ix_shipment_open", "dispatched_on", "delivered_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(20))
    tracking_number: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Staff member's id who created it.
    created_by: Mapped[str] = mapped_column(String(40))
    dispatched_on: Mapped[date | None]
    #: The day the buyer received it: starts the withdrawal period (T4.2, T5.2).
    delivered_on: Mapped[date | None]
    #: A parcel that came back: unclaimed (T7.1) or undeliverable (T7.2).
    returned_kind: Mapped[str | None] = mapped_column(String(20))
    returned_on: Mapped[date | None]

    order: Mapped[Order] = relationship()
    lines: Mapped[list[ShipmentLine]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", order_by="ShipmentLine.id"
    )


class ShipmentLine(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shipment_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("shipment_id", "order_line_id", name="shipment_order_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), index=True)
    quantity: Mapped[int]

    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()


class Withdrawal(db.Model):  # type: ignore[name-defined,misc]
    """A consumer's statement that they withdraw from (part of) a purchase (T5)."""

    __tablename__ = "withdrawal"
    __table_args__ = (
        CheckConstraint(f"status IN ({RETURN_STATUSES})", name="status"),
        CheckConstraint("channel IN ('function', 'form', 'staff_entry')", name="channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), index=True)
    #: When the shop was told: the function's click, or the letter's received date (T5.8).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: function (the "Ångra köpet" function), form (the model form by mail), staff_entry
    channel: Mapped[str] = mapped_column(String(20))
    #: The name and e-mail the consumer gave in step one (T5.9).
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), default=ReturnStatus.STATED.value)
    #: The refund is due by this day (T5.8), from the domain.
    refund_due_on: Mapped[date]
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Staff member's id for a withdrawal entered from a letter or mail.
    entered_by: Mapped[str | None] = mapped_column(String(40))
    #: One submission, one withdrawal: a repeated "Bekräfta ångrande" finds this key.
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship()
    lines: Mapped[list[WithdrawalLine]] = relationship(
        back_populates="withdrawal", cascade="all, delete-orphan", order_by="WithdrawalLine.id"
    )


class WithdrawalLine(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "withdrawal_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("withdrawal_id", "order_line_id", name="withdrawal_order_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    withdrawal_id: Mapped[int] = mapped_column(
        ForeignKey("withdrawal.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), index=True)
    quantity: Mapped[int]

    withdrawal: Mapped[Withdrawal] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()


class ReturnParcel(db.Model):  # type: ignore[name-defined,misc]
    """A parcel that came back from a customer after a withdrawal (T5.7)."""

    __tablename__ = "return_parcel"
    __table_args__ = (
        CheckConstraint(
            "refused_reason IS NULL OR refused_reason IN ('registered', 'cash_on_delivery')",
            name="refused_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), index=True)
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("withdrawal.id"), index=True)
    received_on: Mapped[date]
    #: Registered or cash-on-delivery parcels are refused at the desk (T5.7).
    refused_reason: Mapped[str | None] = mapped_column(String(20))
    registered_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    inspections: Mapped[list[Inspection]] = relationship(
        back_populates="parcel", cascade="all, delete-orphan", order_by="Inspection.id"
    )


class Inspection(db.Model):  # type: ignore[name-defined,misc]
    """The inspected condition of a returned order line and its credit (T5.5)."""

    __tablename__ = "inspection"
    __table_args__ = (
        CheckConstraint(
            "condition IN ('unused', 'handled', 'damaged_by_packing')", name="condition"
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("credit_ore >= 0", name="credit_ore_non_negative"),
        CheckConstraint("deduction_ore >= 0", name="deduction_ore_non_negative"),
        UniqueConstraint("return_parcel_id", "order_line_id", name="parcel_order_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_parcel_id: Mapped[int] = mapped_column(
        ForeignKey("return_parcel.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), index=True)
    quantity: Mapped[int]
    condition: Mapped[str] = mapped_column(String(20))
    #: Reduced value from handling beyond examination (T5.5), decided by staff.
    deduction_ore: Mapped[int] = mapped_column(default=0)
    #: The credit the domain computed for this line (T5.5).
    credit_ore: Mapped[int]
    #: Back on the shelf (stock restocked) or not.
    resellable: Mapped[bool] = mapped_column(default=True)
    inspected_by: Mapped[str] = mapped_column(String(40))
    inspected_at: Mapped[datetime] = mapped_column(UTCDateTime())

    parcel: Mapped[ReturnParcel] = relationship(back_populates="inspections")
    order_line: Mapped[OrderLine] = relationship()


class Refund(db.Model):  # type: ignore[name-defined,misc]
    """Money paid back through the original payment method, exactly once (T5.8, T6)."""

    __tablename__ = "refund"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'done')", name="status"),
        CheckConstraint("amount_ore > 0", name="amount_ore_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), index=True)
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("withdrawal.id"), index=True)
    #: A complaint decided with a refund (T6): one refund per complaint.
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"), unique=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    amount_ore: Mapped[int]
    #: Sent with every call to the provider: a retried refund is the same refund.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: pending → sent → done, or failed (to retry, with the error shown)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: The legal deadline (T5.8); for a complaint, the decision day.
    due_on: Mapped[date]
    #: The credit note (a bookkeeping record) issued for it.
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("bookkeeping_record.id"))
    approved_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
