"""Invoices for organisations (T3.2–T3.6): issue, register payments, follow up.

An invoice gets the next number of the gap-free ``invoice`` series, is due
30 days after the invoice date and carries an OCR reference made from its
number (T3.4). What it says is frozen in a
:class:`~shop.models.BookkeepingRecord` with its PDF, which never changes;
payments are new :class:`~shop.models.IncomingPayment` rows, and the
invoice's status follows the domain's transition table.

Follow-up (T3.5, T3.6): the overdue and collection lists, the one reminder
(an :class:`~shop.models.InvoiceReminder` with its fee, new due date and PDF,
mailed to the buyer), marking for collection, and payments registered by
OCR reference. Every decision comes from :mod:`shop.domain.invoices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import clock
from shop.domain.calendar import next_working_day_on_or_after
from shop.domain.errors import CollectionNotAllowed, DomainError, ReminderNotAllowed
from shop.domain.invoices import (
    InvoiceFacts,
    collection_from,
    goes_to_collection,
    invoice_due_on,
    make_ocr,
    may_send_reminder,
    reminder_allowed_from,
    reminder_for,
    require_collection,
    require_valid_ocr,
)
from shop.domain.lifecycle import InvoiceStatus, require_transition
from shop.domain.money import format_sek
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    IncomingPayment,
    Invoice,
    InvoiceReminder,
    Order,
)
from shop.services import mail, numbering, pdf
from shop.services.receipts import order_document_content, store_record

INVOICE_SERIES = "invoice"


class InvoicePaymentError(Exception):
    """A payment that cannot be registered (already paid, nothing to pay, bad amount)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnknownOcrReference(InvoicePaymentError):
    """A valid OCR reference that no invoice carries."""


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
    refuse_overpayment: bool = False,
) -> IncomingPayment:
    """Record money received against ``invoice``; paid once what is owed is covered (T3.4).

    What is owed is the invoice total plus the reminder fee once a reminder
    was sent (T3.5). Partial payments are allowed. Raises
    :class:`InvoicePaymentError` for a non-positive amount, an invoice already
    paid or credited, or (with ``refuse_overpayment``) more than remains.
    Commits.
    """
    if type(amount_ore) is not int or amount_ore <= 0:
        raise InvoicePaymentError(_("Beloppet måste vara större än noll."))
    invoice = _locked(invoice)
    status = InvoiceStatus(invoice.status)
    if status in (InvoiceStatus.PAID, InvoiceStatus.CREDITED):
        raise InvoicePaymentError(_("Fakturan är redan betald eller krediterad."))
    owed = amount_owed(invoice)
    if refuse_overpayment and amount_ore > owed - invoice.paid_ore:
        db.session.rollback()
        raise InvoicePaymentError(
            _(
                "Beloppet är större än det som återstår att betala på faktura %(number)s "
                "(%(remaining)s). Registrera högst det som återstår.",
                number=invoice.number,
                remaining=format_sek(owed - invoice.paid_ore),
            )
        )
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
    if invoice.paid_ore >= owed:
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
    remaining = amount_owed(invoice) - invoice.paid_ore
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


# --- Follow-up: reminders, collection, payments by OCR (T3.5, T3.6) ---------------------


def reminder_of(invoice: Invoice) -> InvoiceReminder | None:
    """The one reminder of ``invoice`` (T3.5), if sent."""
    return db.session.scalars(
        select(InvoiceReminder).where(InvoiceReminder.invoice_id == invoice.id)
    ).first()


def amount_owed(invoice: Invoice) -> int:
    """What the buyer owes in all: the invoice total plus the reminder fee once sent (T3.5),
    less what credit notes credited on it while unpaid (a complaint's refund, T6)."""
    reminder = reminder_of(invoice)
    return (
        invoice.total_ore + (reminder.fee_ore if reminder is not None else 0) - invoice.credited_ore
    )


def credit_unpaid(invoice: Invoice, amount_ore: int, *, actor: str, now: datetime) -> None:
    """Credit ``amount_ore`` on an unpaid invoice instead of paying money back (T6).

    The caller holds the invoice locked (:func:`lock`) and has checked that the amount
    is at most what remains to pay. Once nothing remains the invoice is settled:
    ``credited`` when nothing was paid, else ``paid``. Audited; does not commit.
    """
    status = InvoiceStatus(invoice.status)
    invoice.credited_ore += amount_ore
    details: dict[str, object] = {"amount_ore": amount_ore, "credited_ore": invoice.credited_ore}
    if amount_owed(invoice) - invoice.paid_ore <= 0:
        target = InvoiceStatus.PAID if invoice.paid_ore > 0 else InvoiceStatus.CREDITED
        invoice.status = require_transition(status, target).value
        if target is InvoiceStatus.PAID:
            invoice.paid_on = clock.local_date(now)
        details.update({"from": status.value, "to": target.value})
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action="invoice.credited",
            subject_type="invoice",
            subject_id=str(invoice.id),
            details=details,
            rule_id="T6",
        )
    )


def lock(invoice: Invoice) -> Invoice:
    """``invoice`` re-read and locked for this transaction (``FOR UPDATE`` on PostgreSQL)."""
    return _locked(invoice)


def _settled(invoice: Invoice) -> bool:
    return invoice.status in (InvoiceStatus.PAID.value, InvoiceStatus.CREDITED.value)


def invoice_facts(invoice: Invoice) -> InvoiceFacts:
    """The domain's view of ``invoice`` (issue date, paid, reminder date)."""
    reminder = reminder_of(invoice)
    return InvoiceFacts(
        issued_on=invoice.issued_on,
        paid=_settled(invoice),
        reminder_sent_on=reminder.sent_on if reminder is not None else None,
    )


@dataclass(frozen=True)
class FollowUpRow:
    """An unpaid invoice on the overdue or collection list, with the domain's dates."""

    invoice: Invoice
    reminder: InvoiceReminder | None
    #: The working day the due date moves to (T3.5: weekends and holidays).
    effective_due_on: date
    days_overdue: int
    owed_ore: int
    remaining_ore: int
    reminder_allowed_on: date
    may_send_reminder: bool
    collection_on: date | None
    goes_to_collection: bool


def _follow_up_row(invoice: Invoice, today: date, policy: Policy) -> FollowUpRow:
    reminder = reminder_of(invoice)
    facts = InvoiceFacts(
        issued_on=invoice.issued_on,
        paid=_settled(invoice),
        reminder_sent_on=reminder.sent_on if reminder is not None else None,
    )
    effective_due = next_working_day_on_or_after(invoice.due_on)
    owed = (
        invoice.total_ore + (reminder.fee_ore if reminder is not None else 0) - invoice.credited_ore
    )
    return FollowUpRow(
        invoice=invoice,
        reminder=reminder,
        effective_due_on=effective_due,
        days_overdue=max(0, (today - effective_due).days),
        owed_ore=owed,
        remaining_ore=owed - invoice.paid_ore,
        reminder_allowed_on=reminder_allowed_from(invoice.due_on),
        may_send_reminder=may_send_reminder(facts, today, policy=policy),
        collection_on=(
            collection_from(reminder.sent_on, policy=policy) if reminder is not None else None
        ),
        goes_to_collection=(
            invoice.status == InvoiceStatus.REMINDED.value
            and goes_to_collection(facts, today, policy=policy)
        ),
    )


def overdue_invoices(today: date, *, policy: Policy = DEFAULT_POLICY) -> list[FollowUpRow]:
    """Unpaid invoices (open or reminded) past their due date as the domain counts it (T3.5)."""
    candidates = db.session.scalars(
        select(Invoice)
        .where(Invoice.status.in_((InvoiceStatus.OPEN.value, InvoiceStatus.REMINDED.value)))
        .where(Invoice.due_on < today)
        .order_by(Invoice.due_on, Invoice.number)
    )
    return [
        row
        for row in (_follow_up_row(invoice, today, policy) for invoice in candidates)
        if today >= row.reminder_allowed_on
    ]


def collection_invoices(today: date, *, policy: Policy = DEFAULT_POLICY) -> list[FollowUpRow]:
    """T3.6: reminded invoices due for collection today, then those already marked."""
    candidates = db.session.scalars(
        select(Invoice)
        .where(Invoice.status.in_((InvoiceStatus.REMINDED.value, InvoiceStatus.COLLECTION.value)))
        .order_by(Invoice.due_on, Invoice.number)
    )
    rows = [_follow_up_row(invoice, today, policy) for invoice in candidates]
    due = [row for row in rows if row.goes_to_collection]
    marked = [row for row in rows if row.invoice.status == InvoiceStatus.COLLECTION.value]
    return due + marked


def _audit(
    *, now: datetime, actor: str, action: str, invoice: Invoice, details: dict[str, Any], rule: str
) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=_actor(actor),
            action=action,
            subject_type="invoice",
            subject_id=str(invoice.id),
            details=details,
            rule_id=rule,
        )
    )


def reminder_content(
    invoice: Invoice, *, sent_on: date, fee_ore: int, new_due_on: date
) -> dict[str, Any]:
    """What the reminder PDF says, from the invoice's frozen record (T3.5)."""
    record = invoice_record(invoice)
    frozen: dict[str, Any] = dict(record.content) if record is not None else {}
    remaining = invoice.total_ore - invoice.credited_ore - invoice.paid_ore
    return {
        "kind": "reminder",
        "seller": frozen.get("seller"),
        "buyer": frozen.get("buyer"),
        "number": invoice.number,
        "order_number": frozen.get("order_number", ""),
        "issued_on": invoice.issued_on.isoformat(),
        "due_on": invoice.due_on.isoformat(),
        "sent_on": sent_on.isoformat(),
        "invoice_total_ore": invoice.total_ore,
        "paid_ore": invoice.paid_ore,
        "remaining_ore": remaining,
        "reminder_fee_ore": fee_ore,
        "total_to_pay_ore": remaining + fee_ore,
        "new_due_on": new_due_on.isoformat(),
        "ocr": invoice.ocr,
        "bankgiro": frozen.get("bankgiro") or (frozen.get("seller") or {}).get("bankgiro", ""),
    }


def send_reminder(
    invoice: Invoice, *, sent_by: str, now: datetime, policy: Policy = DEFAULT_POLICY
) -> InvoiceReminder:
    """T3.5: send the one reminder of ``invoice`` today: fee, new due date, PDF and mail.

    The domain decides (from the day after the working-day due date, once,
    unpaid); otherwise :class:`ReminderNotAllowed`. The invoice goes to
    ``reminded``; the PDF is stored on the reminder and mailed to the order's
    e-mail in the order's language. A second reminder (a double click, two
    staff at once) raises :class:`ReminderNotAllowed` and changes nothing.
    Commits.
    """
    invoice = _locked(invoice)
    today = clock.local_date(now)
    try:
        reminder = reminder_for(invoice_facts(invoice), today, policy=policy)
    except DomainError:
        db.session.rollback()
        raise
    status = InvoiceStatus(invoice.status)
    invoice.status = require_transition(status, InvoiceStatus.REMINDED).value
    content = reminder_content(
        invoice, sent_on=today, fee_ore=reminder.fee.amount_ore, new_due_on=reminder.new_due_on
    )
    row = InvoiceReminder(
        invoice_id=invoice.id,
        sent_on=today,
        fee_ore=reminder.fee.amount_ore,
        new_due_on=reminder.new_due_on,
        created_by=sent_by[:40],
        created_at=now,
        pdf=pdf.render_reminder(content),
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ReminderNotAllowed("En påminnelse har redan skickats för fakturan.") from None
    order: Any = invoice.order
    if order is None:
        # A course invoice has no order: the booker is reminded (T9.2).
        from shop.services.course_invoicing import reminder_recipient

        order = reminder_recipient(invoice)
    if order is not None:
        mail.queue_templated_mail(
            to=order.email,
            subject=_l("Påminnelse: faktura %(number)s", number=invoice.number),
            template="invoice_reminder",
            context={
                "content": content,
                "order": order,
                "due_on": invoice.due_on,
                "new_due_on": row.new_due_on,
            },
            attachments=[
                mail.Attachment(
                    filename=f"paminnelse-{invoice.number}.pdf",
                    content_type="application/pdf",
                    data=row.pdf or b"",
                )
            ],
            now=now,
            language=order.language,
        )
    _audit(
        now=now,
        actor=sent_by,
        action="invoice.reminder",
        invoice=invoice,
        details={
            "from": status.value,
            "to": invoice.status,
            "fee_ore": row.fee_ore,
            "new_due_on": row.new_due_on.isoformat(),
        },
        rule="T3.5",
    )
    db.session.commit()
    return row


def mark_for_collection(
    invoice: Invoice, *, marked_by: str, now: datetime, policy: Policy = DEFAULT_POLICY
) -> Invoice:
    """T3.6: "Markera för inkasso" once the domain says so; nothing is sent anywhere. Commits.

    Raises :class:`CollectionNotAllowed` when too early, without a reminder,
    or when the invoice is paid, credited or already marked.
    """
    invoice = _locked(invoice)
    status = InvoiceStatus(invoice.status)
    if status is not InvoiceStatus.REMINDED:
        db.session.rollback()
        raise CollectionNotAllowed(
            "Fakturan är redan markerad för inkasso."
            if status is InvoiceStatus.COLLECTION
            else "Fakturan är betald eller krediterad."
            if _settled(invoice)
            else "Ingen påminnelse har skickats för fakturan."
        )
    try:
        require_collection(invoice_facts(invoice), clock.local_date(now), policy=policy)
    except DomainError:
        db.session.rollback()
        raise
    invoice.status = require_transition(status, InvoiceStatus.COLLECTION).value
    _audit(
        now=now,
        actor=marked_by,
        action="invoice.collection",
        invoice=invoice,
        details={"from": status.value, "to": invoice.status},
        rule="T3.6",
    )
    db.session.commit()
    return invoice


def invoice_by_ocr(reference: str) -> Invoice:
    """The invoice with OCR reference ``reference`` (T3.4).

    Raises :class:`~shop.domain.errors.InvalidOcrReference` for a reference
    with a wrong check or length digit, :class:`InvoicePaymentError` when no
    invoice has it.
    """
    ocr = require_valid_ocr(reference)
    invoice = db.session.scalars(select(Invoice).where(Invoice.ocr == ocr)).first()
    if invoice is None:
        raise UnknownOcrReference(_("Ingen faktura har OCR-numret %(ocr)s.", ocr=ocr))
    return invoice


def register_payment_by_ocr(
    reference: str, *, amount_ore: int, paid_on: date, registered_by: str, now: datetime
) -> IncomingPayment:
    """Register money received with OCR ``reference``: full or partial, never more (T3.4, T3.5).

    What is owed includes the reminder fee once a reminder was sent. Commits.
    """
    invoice = invoice_by_ocr(reference)
    return register_payment(
        invoice,
        amount_ore=amount_ore,
        paid_on=paid_on,
        reference=f"OCR {invoice.ocr}",
        registered_by=registered_by,
        now=now,
        refuse_overpayment=True,
    )
