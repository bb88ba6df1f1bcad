"""Invoices (organisations only, T3.2), their payments and credit checks,
the number series, and the immutable bookkeeping records.

Invoices, receipts and credit notes are bookkeeping records (verifikationer,
privacy.md R2.3): once issued they never change; later events are new rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.domain.lifecycle import InvoiceStatus
from shop.extensions import db
from shop.models.order import Order
from shop.models.types import UTCDateTime

INVOICE_STATUSES = ", ".join(f"'{status.value}'" for status in InvoiceStatus)


class NumberSeries(db.Model):  # type: ignore[name-defined,misc]
    """A gap-free number series (invoice, credit_note, receipt, order), row-locked to draw."""

    __tablename__ = "number_series"
    __table_args__ = (CheckConstraint("next_value > 0", name="next_value_positive"),)

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    next_value: Mapped[int]


class Invoice(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "invoice"
    __table_args__ = (
        CheckConstraint(f"status IN ({INVOICE_STATUSES})", name="status"),
        CheckConstraint("total_ore >= 0", name="total_ore_non_negative"),
        CheckConstraint("paid_ore >= 0", name="paid_ore_non_negative"),
        CheckConstraint("credited_ore >= 0", name="credited_ore_non_negative"),
        CheckConstraint("due_on >= issued_on", name="due_after_issue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Fakturanummer from the gap-free series.
    number: Mapped[int] = mapped_column(unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_order.id"), index=True)
    #: OCR-nummer with length and check digit (T3.4).
    ocr: Mapped[str] = mapped_column(String(25), unique=True)
    issued_on: Mapped[date]
    due_on: Mapped[date]
    total_ore: Mapped[int]
    paid_ore: Mapped[int] = mapped_column(default=0)
    #: Credited by credit notes while unpaid (a complaint's refund, T6): no longer owed.
    credited_ore: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.OPEN.value)
    paid_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    order: Mapped[Order | None] = relationship()
    payments: Mapped[list[IncomingPayment]] = relationship(
        back_populates="invoice", order_by="IncomingPayment.id"
    )


class InvoiceReminder(db.Model):  # type: ignore[name-defined,misc]
    """The one reminder (påminnelse) of an invoice, with its fee and new due date (T3.5)."""

    __tablename__ = "invoice_reminder"
    __table_args__ = (
        CheckConstraint("fee_ore >= 0", name="fee_ore_non_negative"),
        CheckConstraint("new_due_on > sent_on", name="new_due_after_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unique: at most one reminder per invoice (T3.5).
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    sent_on: Mapped[date]
    #: The reminder fee (50 kr, no VAT by default); owed on top of the invoice.
    fee_ore: Mapped[int]
    new_due_on: Mapped[date]
    #: Staff member's id, or "system".
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)

    invoice: Mapped[Invoice] = relationship()


class IncomingPayment(db.Model):  # type: ignore[name-defined,misc]
    """Money received against an invoice (partial payments allowed)."""

    __tablename__ = "incoming_payment"
    __table_args__ = (CheckConstraint("amount_ore > 0", name="amount_ore_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_ore: Mapped[int]
    paid_on: Mapped[date]
    reference: Mapped[str] = mapped_column(String(40))
    #: Staff member's id who registered it, or "system".
    registered_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class CreditCheck(db.Model):  # type: ignore[name-defined,misc]
    """An invoice credit check (anmärkningskontroll, T3.2). Category: invoice credit data."""

    __tablename__ = "credit_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_order.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    organisation_number: Mapped[str | None] = mapped_column(String(11))
    amount_ore: Mapped[int]
    approved: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(300))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BookkeepingRecord(db.Model):  # type: ignore[name-defined,misc]
    """An issued receipt, invoice or credit note, frozen as issued (R2.3).

    ``content`` is the whole document as data (seller, buyer, lines, VAT per
    rate, totals); pages and PDFs are rendered from it, never from live rows.
    """

    __tablename__ = "bookkeeping_record"
    __table_args__ = (
        CheckConstraint("kind IN ('receipt', 'invoice', 'credit_note')", name="kind"),
        UniqueConstraint("kind", "number", name="kind_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[int]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_order.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The fiscal (calendar) year the record belongs to; R2.3 purges by it.
    fiscal_year: Mapped[int] = mapped_column(index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: SHA-256 of the PDF as issued.
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
