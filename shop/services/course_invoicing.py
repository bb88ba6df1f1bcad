"""Course fees: the invoice 14 days before the start (T9.2), credit notes and refunds (T9.3, T9.5).

A confirmed booking is invoiced on the domain's invoice date
(:func:`shop.domain.courses.course_invoice_date`): 14 days before the first
course day, or at once for a later booking. The scheduled command
``flask courses invoice --date …`` issues what is due. The invoice uses the
shop's invoice machinery: the gap-free ``invoice`` series, due date and OCR
reference from :mod:`shop.domain.invoices`, an :class:`~shop.models.Invoice`
row (without an order: ``order_id`` is empty) and its frozen
:class:`~shop.models.BookkeepingRecord` with the PDF, so the invoice desk,
payments by OCR and reminders see it like any other invoice.

It says one line per participant on a seat, and one cancellation-fee line
per cancelled seat with a fee kept (T9.3). What a cancellation credits
after the invoice is out becomes a credit note (a ``credit_note``
bookkeeping record): an unpaid invoice is credited in full and replaced by
a new invoice for what remains; money already paid is refunded as a
:class:`~shop.models.CourseRefund` with a unique idempotency key, so it is
paid back exactly once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import click
from flask.cli import AppGroup
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import clock
from shop.domain.courses import course_invoice_date
from shop.domain.invoices import invoice_due_on, make_ocr
from shop.domain.lifecycle import BookingStatus, InvoiceStatus, require_transition
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.domain.vat import VatLine, split_vat, vat_of_gross
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    CourseBooking,
    CourseCancellation,
    CourseRefund,
    Invoice,
)
from shop.services import mail, numbering, pdf, receipts, stock
from shop.services.invoicing import INVOICE_SERIES, invoice_record
from shop.services.returns import CREDIT_NOTE_SERIES

#: Bookings whose fee is invoiced (a declined or shop-cancelled booking owes nothing).
INVOICED_STATUSES = (
    BookingStatus.CONFIRMED.value,
    BookingStatus.PARTLY_CANCELLED.value,
    BookingStatus.CANCELLED.value,
    BookingStatus.COMPLETED.value,
)
UNPAID = (InvoiceStatus.OPEN.value, InvoiceStatus.REMINDED.value, InvoiceStatus.COLLECTION.value)


def booking_reference(booking: CourseBooking) -> str:
    """The booking's number on documents (in the order-number field): ``K`` and its id."""
    return f"K{booking.id}"


def _first_day(booking: CourseBooking) -> date:
    starts = booking.course.starts_at
    assert starts is not None  # a bookable course has sessions
    return clock.local_date(starts)


def invoice_date(booking: CourseBooking, *, policy: Policy = DEFAULT_POLICY) -> date:
    """T9.2: the day the booking's fee is invoiced."""
    return course_invoice_date(_first_day(booking), booking.booked_on, policy=policy)


def _audit(
    action: str, booking: CourseBooking, details: dict[str, Any], *, actor: str, now: datetime
) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action=action,
            subject_type="course_booking",
            subject_id=str(booking.id),
            details=details,
            rule_id="T9.2" if action == "course.invoiced" else "T9.3",
        )
    )


def _cancellations(booking: CourseBooking) -> list[CourseCancellation]:
    return list(
        db.session.scalars(
            select(CourseCancellation)
            .where(CourseCancellation.booking_id == booking.id)
            .order_by(CourseCancellation.id)
        )
    )


def fee_lines(booking: CourseBooking) -> list[dict[str, Any]]:
    """What the booking owes: the fee per seat taken, the fee kept per cancelled seat (T9.3)."""
    title = booking.course.title
    rate = booking.vat_rate_bp
    lines: list[dict[str, Any]] = []
    for participant in booking.active_participants:
        lines.append(
            {
                "sku": f"KURS-{booking.course_id}",
                "title": f"Kursavgift {title}: {participant.name}",
                "kind": "course",
                "quantity": 1,
                "unit_price_ore": booking.fee_ore,
                "vat_rate_bp": rate,
                "total_ore": booking.fee_ore,
                "vat_ore": vat_of_gross(booking.fee_ore, rate),
            }
        )
    names = {participant.id: participant.name for participant in booking.participants}
    for row in _cancellations(booking):
        if row.kept_ore <= 0:
            continue
        lines.append(
            {
                "sku": f"KURS-{booking.course_id}",
                "title": (
                    f"Avbokningsavgift {title} ({row.keep_bp // 100} %): "
                    f"{names.get(row.participant_id, '')}"
                ),
                "kind": "course_cancellation",
                "quantity": 1,
                "unit_price_ore": row.kept_ore,
                "vat_rate_bp": rate,
                "total_ore": row.kept_ore,
                "vat_ore": vat_of_gross(row.kept_ore, rate),
            }
        )
    return lines


def _buyer(booking: CourseBooking) -> dict[str, Any]:
    booker = booking.booker
    address = None
    if booker is not None and booker.addresses:
        address = next((a for a in booker.addresses if a.kind == "billing"), booker.addresses[0])
    return {
        "kind": booking.buyer_kind,
        "name": booker.name if booker is not None else "",
        "email": booker.email if booker is not None else "",
        "organisation_name": booking.organisation_name,
        "organisation_number": booking.organisation_number,
        "street": address.street if address is not None else "",
        "postcode": address.postcode if address is not None else "",
        "city": address.city if address is not None else "",
        "country": address.country if address is not None else "SE",
    }


def _content(
    booking: CourseBooking,
    lines: list[dict[str, Any]],
    *,
    kind: str,
    number: int,
    now: datetime,
    sign: int = 1,
) -> dict[str, Any]:
    summary = split_vat([VatLine(line["total_ore"], line["vat_rate_bp"]) for line in lines])
    signed = [
        {
            **line,
            "unit_price_ore": sign * line["unit_price_ore"],
            "total_ore": sign * line["total_ore"],
            "vat_ore": sign * line["vat_ore"],
        }
        for line in lines
    ]
    return {
        "kind": kind,
        "number": number,
        "issued_at": now.isoformat(),
        "issued_on": clock.local_date(now).isoformat(),
        "order_number": booking_reference(booking),
        "ordered_on": booking.booked_on.isoformat(),
        "course_booking_id": booking.id,
        "seller": receipts.seller(),
        "buyer": _buyer(booking),
        "lines": signed,
        "fees": [],
        "vat": [
            {
                "rate_bp": rate.rate_bp,
                "net_ore": sign * rate.net_ore,
                "vat_ore": sign * rate.vat_ore,
                "gross_ore": sign * rate.gross_ore,
            }
            for rate in summary.rates
        ],
        "total_ore": sign * summary.total_gross_ore,
        "total_vat_ore": sign * summary.total_vat_ore,
        "total_net_ore": sign * summary.total_net_ore,
        "payment_method": "invoice",
        "payment_method_label": receipts.PAYMENT_METHOD_LABELS["invoice"],
        "terms_version": DEFAULT_POLICY.terms_version,
        "currency": "SEK",
    }


def _record(
    kind: str,
    number: int,
    content: dict[str, Any],
    *,
    invoice: Invoice,
    now: datetime,
    pdf_bytes: bytes | None = None,
) -> BookkeepingRecord:
    record = BookkeepingRecord(
        kind=kind,
        number=number,
        order_id=None,
        invoice_id=invoice.id,
        issued_at=now,
        fiscal_year=clock.local_date(now).year,
        content=content,
        pdf=pdf_bytes,
        pdf_sha256=hashlib.sha256(pdf_bytes).hexdigest() if pdf_bytes is not None else None,
    )
    db.session.add(record)
    db.session.flush()
    return record


def _issue(
    booking: CourseBooking, *, now: datetime, actor: str, policy: Policy = DEFAULT_POLICY
) -> Invoice | None:
    """Issue the booking's invoice now for what it owes; None when it owes nothing."""
    lines = fee_lines(booking)
    if not lines:
        return None
    number = numbering.next_number(INVOICE_SERIES)
    issued_on = clock.local_date(now)
    due_on = invoice_due_on(issued_on, policy=policy)
    ocr = make_ocr(number)
    content = _content(booking, lines, kind="invoice", number=number, now=now)
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
        order_id=None,
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
    pdf_bytes = pdf.render_invoice(content)
    _record("invoice", number, content, invoice=invoice, now=now, pdf_bytes=pdf_bytes)
    booking.invoice_id = invoice.id
    _audit(
        "course.invoiced",
        booking,
        {"invoice": number, "total_ore": invoice.total_ore, "due_on": due_on.isoformat()},
        actor=actor,
        now=now,
    )
    booker = booking.booker
    if booker is not None:
        mail.queue_templated_mail(
            to=booker.email,
            subject=_l("Faktura %(number)s: %(title)s", number=number, title=booking.course.title),
            template="course_invoice",
            context={"booking": booking, "content": content, "name": booker.name},
            attachments=[
                mail.Attachment(
                    filename=f"faktura-{number}.pdf",
                    content_type="application/pdf",
                    data=pdf_bytes,
                )
            ],
            now=now,
            language=booker.language,
        )
    return invoice


def invoice_if_due(
    booking: CourseBooking, *, now: datetime, actor: str = "system"
) -> Invoice | None:
    """T9.2: issue the invoice when its day has come and none is out yet. Does not commit."""
    if booking.invoice_id is not None or booking.status not in INVOICED_STATUSES:
        return None
    if booking.course.cancelled_at is not None:
        return None
    if invoice_date(booking) > clock.local_date(now):
        return None
    return _issue(booking, now=now, actor=actor)


def due_bookings(today: date) -> list[CourseBooking]:
    """Bookings not yet invoiced whose invoice date (T9.2) is ``today`` or earlier."""
    candidates = db.session.scalars(
        select(CourseBooking)
        .where(CourseBooking.invoice_id.is_(None), CourseBooking.status.in_(INVOICED_STATUSES))
        .order_by(CourseBooking.id)
    )
    return [
        booking
        for booking in candidates
        if booking.course.cancelled_at is None and invoice_date(booking) <= today
    ]


def run_invoicing(today: date, *, now: datetime) -> list[Invoice]:
    """The scheduled run: invoice every booking due on ``today``; one commit per booking.

    Running it twice issues nothing the second time (the booking keeps its invoice).
    """
    issued: list[Invoice] = []
    for candidate in due_bookings(today):
        booking = stock.lock_row(CourseBooking, candidate.id)
        if booking.invoice_id is not None:
            db.session.rollback()
            continue
        lines = fee_lines(booking)
        if not lines:
            db.session.rollback()
            continue
        invoice = _issue(booking, now=now, actor="system")
        db.session.commit()
        if invoice is not None:
            issued.append(invoice)
    return issued


# --- Credit notes and refunds ----------------------------------------------------------------


def _credit_note(
    booking: CourseBooking, invoice: Invoice, lines: list[dict[str, Any]], *, now: datetime
) -> BookkeepingRecord:
    number = numbering.next_number(CREDIT_NOTE_SERIES)
    content = _content(booking, lines, kind="credit_note", number=number, now=now, sign=-1)
    content["credits"] = {"kind": "invoice", "number": invoice.number}
    return _record("credit_note", number, content, invoice=invoice, now=now)


def _credit_line(booking: CourseBooking, amount_ore: int, text: str) -> dict[str, Any]:
    return {
        "sku": f"KURS-{booking.course_id}",
        "title": text,
        "kind": "course",
        "quantity": 1,
        "unit_price_ore": amount_ore,
        "vat_rate_bp": booking.vat_rate_bp,
        "total_ore": amount_ore,
        "vat_ore": vat_of_gross(amount_ore, booking.vat_rate_bp),
    }


def _refund(
    booking: CourseBooking,
    *,
    amount_ore: int,
    key: str,
    credit_note: BookkeepingRecord,
    reason: str,
    actor: str,
    now: datetime,
) -> CourseRefund | None:
    existing = db.session.scalars(
        select(CourseRefund).where(CourseRefund.idempotency_key == key)
    ).first()
    if existing is not None:
        return existing
    refund = CourseRefund(
        booking_id=booking.id,
        invoice_id=booking.invoice_id,
        amount_ore=amount_ore,
        idempotency_key=key,
        reason=reason,
        status="pending",
        credit_note_id=credit_note.id,
        approved_by=actor[:40],
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(refund)
    except IntegrityError:
        return db.session.scalars(
            select(CourseRefund).where(CourseRefund.idempotency_key == key)
        ).first()
    return refund


def credit_after_cancellation(
    booking: CourseBooking,
    rows: Sequence[CourseCancellation],
    *,
    actor: str,
    now: datetime,
) -> tuple[BookkeepingRecord | None, CourseRefund | None]:
    """T9.3: what cancelled seats credit once the invoice is out. Does not commit.

    An unpaid invoice is credited in full (a credit note for its total, the
    invoice ``credited``) and a new invoice issued for what the booking still
    owes. On a paid invoice the credited amount becomes a credit note and a
    refund of at most what was paid.
    """
    credited = sum(row.credited_ore for row in rows)
    invoice = booking.invoice
    if invoice is None or credited <= 0:
        return None, None
    if invoice.status in UNPAID and invoice.paid_ore == 0:
        frozen = invoice_record(invoice)
        lines = list((frozen.content if frozen is not None else {}).get("lines", []))
        note = _credit_note(booking, invoice, lines, now=now)
        invoice.status = require_transition(
            InvoiceStatus(invoice.status), InvoiceStatus.CREDITED
        ).value
        booking.invoice_id = None
        db.session.flush()
        _audit(
            "course.invoice_credited",
            booking,
            {"invoice": invoice.number, "credit_note": note.number},
            actor=actor,
            now=now,
        )
        _issue(booking, now=now, actor=actor)
        return note, None
    note = _credit_note(
        booking,
        invoice,
        [_credit_line(booking, credited, f"Avbokning {booking.course.title}")],
        now=now,
    )
    amount = min(credited, invoice.paid_ore)
    refund = None
    if amount > 0:
        key = "course-cancel-" + "-".join(str(row.id) for row in rows)
        refund = _refund(
            booking,
            amount_ore=amount,
            key=key,
            credit_note=note,
            reason="cancellation",
            actor=actor,
            now=now,
        )
    _audit(
        "course.credited",
        booking,
        {"credit_note": note.number, "credited_ore": credited, "refund_ore": amount},
        actor=actor,
        now=now,
    )
    return note, refund


def credit_whole_booking(
    booking: CourseBooking, *, reason: str, actor: str, now: datetime
) -> tuple[BookkeepingRecord | None, CourseRefund | None]:
    """T9.5: every fee of the booking is credited; every fee paid is refunded in full, once.

    Unpaid: the invoice is credited in full. Paid (wholly or partly): a credit
    note for the invoice total and one refund of what was paid, with the key
    ``course-shop-cancel-<booking>``. Does not commit.
    """
    invoice = booking.invoice
    if invoice is None or invoice.status == InvoiceStatus.CREDITED.value:
        return None, None
    frozen = invoice_record(invoice)
    lines = list((frozen.content if frozen is not None else {}).get("lines", []))
    note = _credit_note(booking, invoice, lines, now=now)
    refund = None
    if invoice.paid_ore > 0:
        refund = _refund(
            booking,
            amount_ore=invoice.paid_ore,
            key=f"course-shop-cancel-{booking.id}",
            credit_note=note,
            reason=reason,
            actor=actor,
            now=now,
        )
    if invoice.status in UNPAID:
        invoice.status = require_transition(
            InvoiceStatus(invoice.status), InvoiceStatus.CREDITED
        ).value
    return note, refund


def refunds_of(booking: CourseBooking) -> list[CourseRefund]:
    return list(
        db.session.scalars(
            select(CourseRefund)
            .where(CourseRefund.booking_id == booking.id)
            .order_by(CourseRefund.id)
        )
    )


# --- The scheduled command ---------------------------------------------------------------------

courses_cli = AppGroup("courses", help="Course bookings (T9): invoices, waiting-list offers.")


@courses_cli.command("invoice")
@click.option(
    "--date",
    "as_of",
    default=None,
    help="Invoice what is due on this day (YYYY-MM-DD); today in Stockholm by default.",
)
def invoice_command(as_of: str | None) -> None:
    """T9.2: issue the course invoices due (14 days before the first course day)."""
    try:
        today = date.fromisoformat(as_of) if as_of else clock.today()
    except ValueError:
        raise click.ClickException(f"The date {as_of!r} is not a date (YYYY-MM-DD).") from None
    issued = run_invoicing(today, now=clock.utcnow())
    click.echo(f"Issued {len(issued)} course invoice(s) due on {today.isoformat()}.")
    for invoice in issued:
        click.echo(f"  invoice {invoice.number}: {invoice.total_ore} öre, due {invoice.due_on}")


@courses_cli.command("offers")
def offers_command() -> None:
    """T9.6: let expired waiting-list offers lapse and offer free seats to the next in line."""
    from shop.services import courses

    now = clock.utcnow()
    offered = [
        entry
        for row in courses.upcoming_courses(clock.local_date(now))
        for entry in courses.offer_freed_seats(row.course, now=now)
    ]
    click.echo(f"Offered free seats to {len(offered)} waiting-list entr(y/ies).")


def documents_of(booking: CourseBooking) -> list[BookkeepingRecord]:
    """The booking's invoices and credit notes (course documents have no order), oldest first."""
    return [
        record
        for record in db.session.scalars(
            select(BookkeepingRecord)
            .where(BookkeepingRecord.order_id.is_(None), BookkeepingRecord.invoice_id.is_not(None))
            .order_by(BookkeepingRecord.id)
        )
        if record.content.get("course_booking_id") == booking.id
    ]


@dataclass(frozen=True)
class ReminderRecipient:
    """Who a course invoice's reminder goes to, shaped like the order the mail expects."""

    name: str
    number: str
    email: str
    language: str


def reminder_recipient(invoice: Invoice) -> ReminderRecipient | None:
    """The booker of the course booking ``invoice`` was issued for (T3.5 reminders, T9.2)."""
    booking = db.session.scalars(
        select(CourseBooking).where(CourseBooking.invoice_id == invoice.id)
    ).first()
    if booking is None or booking.booker is None:
        return None
    booker = booking.booker
    return ReminderRecipient(booker.name, booking_reference(booking), booker.email, booker.language)


def pending_refunds() -> list[CourseRefund]:
    """Course refunds not yet paid out, oldest first (the finance to-do list)."""
    return list(
        db.session.scalars(
            select(CourseRefund)
            .where(CourseRefund.status == "pending")
            .order_by(CourseRefund.created_at, CourseRefund.id)
        )
    )


def mark_refund_paid(refund: CourseRefund, *, staff_id: int | str, now: datetime) -> bool:
    """Finance has paid the refund out (bank transfer); the booker is told. Commits.

    Returns False and changes nothing when it was already marked (a second click).
    """
    refund = stock.lock_row(CourseRefund, refund.id)
    if refund.status == "done":
        db.session.rollback()
        return False
    refund.status = "done"
    refund.completed_at = now
    booking = db.session.get(CourseBooking, refund.booking_id)
    assert booking is not None
    _audit(
        "course.refund_paid",
        booking,
        {"refund": refund.id, "amount_ore": refund.amount_ore},
        actor=f"staff:{staff_id}",
        now=now,
    )
    booker = booking.booker
    if booker is not None:
        mail.queue_templated_mail(
            to=booker.email,
            subject=_l("Vi har betalat tillbaka kursavgift: %(title)s", title=booking.course.title),
            template="course_refund",
            context={"booking": booking, "refund": refund, "name": booker.name},
            now=now,
            language=booker.language,
        )
    db.session.commit()
    return True
