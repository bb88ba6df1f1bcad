"""Course fees: the invoice schedule (T9.2), credits after cancellation (T9.3), the shop
cancelling a course with full refunds exactly once (T9.5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from shop.domain.lifecycle import BookingStatus, InvoiceStatus
from shop.extensions import db
from shop.models import (
    BookkeepingRecord,
    CourseBooking,
    CourseRefund,
    Invoice,
    OutboxMessage,
)
from shop.services import course_invoicing, courses, invoicing
from shop.services.courses import BookingError
from tests.course_helpers import START, book, make_booker, make_course

FEE = 150000


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


def fresh(booking: CourseBooking) -> CourseBooking:
    db.session.expire_all()
    found = db.session.get(CourseBooking, booking.id)
    assert found is not None
    return found


def invoices() -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).order_by(Invoice.id)))


def records(kind: str) -> list[BookkeepingRecord]:
    return list(
        db.session.scalars(
            select(BookkeepingRecord)
            .where(BookkeepingRecord.kind == kind)
            .order_by(BookkeepingRecord.id)
        )
    )


def test_T9_2_invoice_is_issued_14_days_before_the_first_course_day(app: Flask) -> None:
    booking = book(
        make_course(fee_ore=FEE), make_booker("pia@example.se"), "Alva", "Ture", accept=True
    )
    fifteen = START - timedelta(days=15)
    assert course_invoicing.run_invoicing(fifteen, now=at(fifteen)) == []
    fourteen = START - timedelta(days=14)
    (invoice,) = course_invoicing.run_invoicing(fourteen, now=at(fourteen))
    assert invoice.total_ore == 2 * FEE
    assert invoice.order_id is None
    assert invoice.issued_on == fourteen
    assert course_invoicing.run_invoicing(fourteen, now=at(fourteen)) == []  # once
    assert fresh(booking).invoice_id == invoice.id
    (record,) = records("invoice")
    assert record.invoice_id == invoice.id
    assert record.pdf is not None
    assert record.content["order_number"] == f"K{booking.id}"
    assert [line["title"] for line in record.content["lines"]] == [
        "Kursavgift Fiolkurs för nybörjare: Alva",
        "Kursavgift Fiolkurs för nybörjare: Ture",
    ]
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "course_invoice")
    ).one()
    assert message.to_address == "pia@example.se"
    assert invoice.ocr in message.body_text


def test_T9_2_pending_and_declined_bookings_are_not_invoiced(app: Flask) -> None:
    book(make_course(), make_booker(), "Alva")
    day = START - timedelta(days=14)
    assert course_invoicing.run_invoicing(day, now=at(day)) == []


def test_T9_2_a_later_booking_is_invoiced_when_accepted(app: Flask) -> None:
    day = START - timedelta(days=5)
    booking = book(make_course(fee_ore=FEE), make_booker(), "Alva", now=at(day))
    assert invoices() == []
    courses.accept(booking, staff_id=1, now=at(day))
    (invoice,) = invoices()
    assert invoice.issued_on == day
    assert fresh(booking).invoice_id == invoice.id


def test_T9_3_fee_kept_before_the_invoice_is_on_the_invoice(app: Flask) -> None:
    booking = book(make_course(fee_ore=FEE), make_booker(), "Alva", "Ture", accept=True)
    twenty = START - timedelta(days=20)
    courses.cancel_seats(
        booking,
        [booking.participants[0].id],
        received_on=twenty,
        channel="account",
        actor="customer:x",
        now=at(twenty),
    )
    day = START - timedelta(days=14)
    (invoice,) = course_invoicing.run_invoicing(day, now=at(day))
    assert invoice.total_ore == FEE + FEE // 2


def test_T9_3_whole_booking_cancelled_early_is_never_invoiced(app: Flask) -> None:
    booking = book(make_course(fee_ore=FEE), make_booker(), "Alva", accept=True)
    early = START - timedelta(days=29)
    courses.cancel_seats(
        booking,
        [booking.participants[0].id],
        received_on=early,
        channel="account",
        actor="customer:x",
        now=at(early),
    )
    day = START - timedelta(days=14)
    assert course_invoicing.run_invoicing(day, now=at(day)) == []


def test_T9_3_late_entered_letter_credits_the_unpaid_invoice_and_reissues(app: Flask) -> None:
    booking = book(make_course(fee_ore=FEE), make_booker(), "Alva", "Ture", accept=True)
    day = START - timedelta(days=14)
    (first,) = course_invoicing.run_invoicing(day, now=at(day))
    entered = START - timedelta(days=10)
    courses.cancel_seats(
        booking,
        [booking.participants[0].id],
        received_on=START - timedelta(days=29),
        channel="letter",
        actor="staff:1",
        now=at(entered),
    )
    db.session.expire_all()
    old, new = invoices()
    assert (old.id, old.status) == (first.id, InvoiceStatus.CREDITED.value)
    assert (new.total_ore, new.status) == (FEE, InvoiceStatus.OPEN.value)
    assert fresh(booking).invoice_id == new.id
    (note,) = records("credit_note")
    assert note.content["total_ore"] == -2 * FEE
    assert note.content["credits"] == {"kind": "invoice", "number": first.number}
    assert db.session.query(CourseRefund).count() == 0


def test_T9_3_credit_on_a_paid_invoice_is_refunded_once(app: Flask) -> None:
    booking = book(make_course(fee_ore=FEE), make_booker(), "Alva", "Ture", accept=True)
    day = START - timedelta(days=14)
    (invoice,) = course_invoicing.run_invoicing(day, now=at(day))
    invoicing.register_payment(
        invoice,
        amount_ore=2 * FEE,
        paid_on=day,
        reference="bg",
        registered_by="system",
        now=at(day),
    )
    entered = START - timedelta(days=10)
    ids = [booking.participants[0].id]
    for _attempt in range(2):
        courses.cancel_seats(
            booking,
            ids,
            received_on=START - timedelta(days=20),
            channel="email",
            actor="staff:1",
            now=at(entered),
        )
    (refund,) = db.session.query(CourseRefund).all()
    assert (refund.amount_ore, refund.reason, refund.status) == (
        FEE // 2,
        "cancellation",
        "pending",
    )
    (note,) = records("credit_note")
    assert note.content["total_ore"] == -(FEE // 2)
    assert refund.credit_note_id == note.id


def test_invoice_command(app: Flask, runner: FlaskCliRunner) -> None:
    book(make_course(fee_ore=FEE), make_booker(), "Alva", accept=True)
    day = (START - timedelta(days=14)).isoformat()
    result = runner.invoke(args=["courses", "invoice", "--date", day])
    assert result.exit_code == 0, result.output
    assert f"Issued 1 course invoice(s) due on {day}." in result.output
    again = runner.invoke(args=["courses", "invoice", "--date", day])
    assert "Issued 0 course invoice(s)" in again.output
    bad = runner.invoke(args=["courses", "invoice", "--date", "19-12-2026"])
    assert bad.exit_code != 0
    assert "is not a date" in bad.output


# --- T9.5 ---------------------------------------------------------------------------------


def test_T9_5_shop_may_cancel_until_14_days_before_the_start(app: Flask) -> None:
    course = make_course()
    book(course, make_booker(), "Alva", accept=True)
    late = START - timedelta(days=13)
    with pytest.raises(BookingError) as refused:
        courses.cancel_course(
            course, reason="Läraren är sjuk", override_reason=None, staff_id=1, now=at(late)
        )
    assert refused.value.rule == "T9.5"
    assert courses.course_by_slug(course.slug).cancelled_at is None  # type: ignore[union-attr]
    last = START - timedelta(days=14)
    done = courses.cancel_course(
        course, reason="Läraren är sjuk", override_reason=None, staff_id=1, now=at(last)
    )
    assert done is not None
    assert done.bookings == 1


def test_T9_5_late_cancellation_needs_a_recorded_override_reason(app: Flask) -> None:
    course = make_course()
    book(course, make_booker(), "Alva", accept=True)
    late = START - timedelta(days=3)
    done = courses.cancel_course(
        course, reason="Lokalen brann", override_reason="Beslut av VD", staff_id=1, now=at(late)
    )
    assert done is not None
    db.session.expire_all()
    assert "Beslut av VD" in (courses.course_by_slug(course.slug).cancel_reason or "")  # type: ignore[union-attr]


def test_T9_5_every_booker_mailed_every_fee_paid_refunded_in_full_exactly_once(
    app: Flask,
) -> None:
    course = make_course(fee_ore=FEE)
    paid = book(course, make_booker("betalt@example.se"), "Alva", "Ture", accept=True)
    unpaid = book(course, make_booker("obetalt@example.se"), "Sixten", accept=True)
    pending = book(course, make_booker("vantar@example.se"), "Maj")
    day = START - timedelta(days=20)
    # Organisations and early bookers may be invoiced and pay early; invoice now.
    for booking in (paid, unpaid):
        course_invoicing._issue(fresh(booking), now=at(day), actor="system")
        db.session.commit()
    paid_invoice = fresh(paid).invoice
    assert paid_invoice is not None
    invoicing.register_payment(
        paid_invoice,
        amount_ore=2 * FEE,
        paid_on=day,
        reference="bg",
        registered_by="system",
        now=at(day),
    )
    last = START - timedelta(days=14)
    done = courses.cancel_course(
        course, reason="För få anmälda", override_reason=None, staff_id=1, now=at(last)
    )
    assert done is not None
    assert (done.bookings, done.credit_notes, done.refunded_ore) == (3, 2, 2 * FEE)
    again = courses.cancel_course(
        course, reason="För få anmälda", override_reason=None, staff_id=1, now=at(last)
    )
    assert again is None
    (refund,) = db.session.query(CourseRefund).all()
    assert (refund.amount_ore, refund.booking_id, refund.reason) == (
        2 * FEE,
        paid.id,
        "course_cancelled",
    )
    assert fresh(unpaid).invoice.status == InvoiceStatus.CREDITED.value  # type: ignore[union-attr]
    assert fresh(paid).status == BookingStatus.CANCELLED_BY_SHOP.value
    assert fresh(pending).status == BookingStatus.CANCELLED.value
    told = sorted(
        message.to_address
        for message in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "course_cancelled")
        )
    )
    assert told == ["betalt@example.se", "obetalt@example.se", "vantar@example.se"]
    assert course_invoicing.run_invoicing(last, now=at(last)) == []


def test_T9_2_course_invoice_reminder_goes_to_the_booker(app: Flask) -> None:
    booking = book(make_course(fee_ore=FEE), make_booker("pia@example.se"), "Alva", accept=True)
    day = START - timedelta(days=14)
    (invoice,) = course_invoicing.run_invoicing(day, now=at(day))
    late = invoice.due_on + timedelta(days=10)
    reminder = invoicing.send_reminder(invoice, sent_by="system", now=at(late))
    assert reminder.fee_ore > 0
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "invoice_reminder")
    ).one()
    assert message.to_address == "pia@example.se"
    assert f"K{booking.id}" in message.body_text
