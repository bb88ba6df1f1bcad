"""Invoices for organisations (T3.2–T3.4): issue, register payments, mark paid.

An invoice gets the next number of the gap-free ``invoice`` series, is due
30 days after the invoice date and carries an OCR reference made from its
number (T3.4). What it says is frozen in a
:class:`~shop.models.BookkeepingRecord` with its PDF, which never changes;
payments are new :class:`~shop.models.IncomingPayment` rows, and the
invoice's status follows the domain's transition table.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from shop import clock
from shop.domain.invoices import invoice_due_on, make_ocr
from shop.domain.lifecycle import InvoiceStatus, require_transition
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.extensions import db
from shop.models import AuditEntry, BookkeepingRecord, IncomingPayment, Invoice, Order
from shop.services import numbering, pdf
from shop.services.receipts import order_document_content, store_record

INVOICE_SERIES = "invoice"


class InvoicePaymentError(Exception):
    """A payment that cannot be registered (already paid, nothing to pay, bad amount)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def invoice_for_order(order: Order) -> Invoice | None:
    return db.session.scalars(
        select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id).limit(1)
    ).first()


def issue_invoice(order: Order, *, now: datetime, policy: Policy = DEFAULT_POLICY) -> Invoice:
    """Issue the invoice of an invoice order once (T3.4); later calls return the same one.

    Number from the gap-free series, invoice date today (Stockholm), due date
    30 days later, OCR from the number, bankgiro from ``SELLER``; the content
    and the PDF are frozen in a bookkeeping record. Does not commit.
    """
    existing = invoice_for_order(order)
    if existing is not None:
        return existing
    number = numbering.next_number(INVOICE_SERIES)
    issued_on = clock.local_date(now)
    due_on = invoice_due_on(issued_on, policy=policy)
    ocr = make_ocr(number)
    content = order_document_content(order, kind="invoice", number=number, now=now)
    content.update(
        {
            "due_on": due_on.isoformat(),
            "ocr": ocr,
            "bankgiro": content["seller"]["bankgiro"],
            "reminder_fee_ore": policy.reminder_fee_ore,
            "due_days": policy.invoice_due_days,
        }
    )
    invoice = Invoice(
        number=number,
        order_id=order.id,
        ocr=ocr,
        issued_on=issued_on,
        due_on=due_on,
        total_ore=content["total_ore"],
        paid_ore=0,
        status=InvoiceStatus.OPEN.value,
        created_at=now,
    )
    db.session.add(invoice)
    db.session.flush()
    store_record(
        kind="invoice",
        number=number,
        order=order,
        content=content,
        pdf_bytes=pdf.render_invoice(content),
        now=now,
        invoice_id=invoice.id,
    )
    return invoice


def invoice_record(invoice: Invoice) -> BookkeepingRecord | None:
    """The bookkeeping record (frozen content and PDF) of ``invoice``."""
    return db.session.scalars(
        select(BookkeepingRecord).where(
            BookkeepingRecord.kind == "invoice", BookkeepingRecord.invoice_id == invoice.id
        )
    ).first()


def _locked(invoice: Invoice) -> Invoice:
    query = select(Invoice).where(Invoice.id == invoice.id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).one()


def register_payment(
    invoice: Invoice,
    *,
    amount_ore: int,
    paid_on: date,
    reference: str,
    registered_by: str,
    now: datetime,
) -> IncomingPayment:
    """Record money received against ``invoice``; paid once the total is covered (T3.4).

    Partial payments are allowed. Raises :class:`InvoicePaymentError` for a
    non-positive amount or an invoice already paid or credited. Commits.
    """
    if type(amount_ore) is not int or amount_ore <= 0:
        raise InvoicePaymentError(_("Beloppet måste vara större än noll."))
    invoice = _locked(invoice)
    status = InvoiceStatus(invoice.status)
    if status in (InvoiceStatus.PAID, InvoiceStatus.CREDITED):
        raise InvoicePaymentError(_("Fakturan är redan betald eller krediterad."))
    payment = IncomingPayment(
        invoice_id=invoice.id,
        amount_ore=amount_ore,
        paid_on=paid_on,
        reference=reference[:40],
        registered_by=registered_by[:40],
        created_at=now,
    )
    db.session.add(payment)
    invoice.paid_ore += amount_ore
    details: dict[str, object] = {"amount_ore": amount_ore, "paid_ore": invoice.paid_ore}
    if invoice.paid_ore >= invoice.total_ore:
        invoice.status = require_transition(status, InvoiceStatus.PAID).value
        invoice.paid_on = paid_on
        details.update({"from": status.value, "to": InvoiceStatus.PAID.value})
    db.session.add(
        AuditEntry(
            at=now,
            actor=_actor(registered_by),
            action="invoice.payment",
            subject_type="invoice",
            subject_id=str(invoice.id),
            details=details,
            rule_id="T3.4",
        )
    )
    db.session.commit()
    return payment


def mark_paid(invoice: Invoice, *, registered_by: str, now: datetime) -> IncomingPayment:
    """Staff's "Markera som betald": register what remains as paid today. Commits."""
    remaining = invoice.total_ore - invoice.paid_ore
    if remaining <= 0 or invoice.status in (InvoiceStatus.PAID, InvoiceStatus.CREDITED):
        raise InvoicePaymentError(_("Fakturan är redan betald eller krediterad."))
    return register_payment(
        invoice,
        amount_ore=remaining,
        paid_on=clock.local_date(now),
        reference=f"Markerad betald {invoice.number}",
        registered_by=registered_by,
        now=now,
    )


def _actor(registered_by: str) -> str:
    return (
        registered_by
        if ":" in registered_by or registered_by == "system"
        else (f"staff:{registered_by}")
    )


def open_invoices() -> list[Invoice]:
    """Invoices not yet paid or credited, oldest due first (staff list)."""
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.status.notin_((InvoiceStatus.PAID.value, InvoiceStatus.CREDITED.value)))
            .order_by(Invoice.due_on, Invoice.number)
        )
    )


def all_invoices(*, limit: int = 200) -> list[Invoice]:
    """The latest invoices, newest first."""
    return list(db.session.scalars(select(Invoice).order_by(Invoice.number.desc()).limit(limit)))
