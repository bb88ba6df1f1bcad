"""Staff decline a pending course booking (T9.1): reason sent, seats to to the waiting list."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from shop.extensions import db
from shop.models import AuditEntry, CourseBooking, OutboxMessage, WaitingListEntry
from shop.services import courses
from shop.services.courses import BookingError
from tests.course_helpers import book, make_booker, make_course
from tests.factories import NOW


def mails(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


def test_T9_1_decline_tells_the_booker_audits_and_frees_the_seats(app: Flask) -> None:
    course = make_course(seats=2)
    booking = book(course, make_booker("pia@example.se"), "Alva", "Ture")
    assert courses.seats_free(course) == 0
    assert courses.decline(booking, reason="Kursen är för barn i åk 1–3.", staff_id=7, now=NOW)
    booking = db.session.get(CourseBooking, booking.id)
    assert booking is not None
    assert booking.status == "declined"
    assert booking.invoice_id is None
    assert courses.seats_free(course) == 2
    assert courses.decline_reason(booking) == "Kursen är för barn i åk 1–3."
    (mail,) = mails("course_declined")
    assert mail.to_address == "pia@example.se"
    assert "Kursen är för barn i åk 1–3." in mail.body_text
    (entry,) = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "course.declined"))
    assert entry.actor == "staff:7"
    assert entry.rule_id == "T9.1"
    assert entry.details == {
        "from": "pending",
        "to": "declined",
        "seats": 2,
        "reason": "Kursen är för barn i åk 1–3.",
    }


def test_T9_1_declining_twice_does_nothing_the_second_time(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker(), "Alva")
    assert courses.decline(booking, reason="Fullt", staff_id=1, now=NOW)
    assert not courses.decline(booking, reason="Igen", staff_id=1, now=NOW)
    assert len(mails("course_declined")) == 1
    assert courses.decline_reason(booking) == "Fullt"
    count = db.session.scalar(
        select(db.func.count(AuditEntry.id)).where(AuditEntry.action == "course.declined")
    )
    assert count == 1


def test_T9_1_an_accepted_booking_is_binding_and_cannot_be_declined(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker(), "Alva", accept=True)
    assert not courses.decline(booking, reason="Fullt", staff_id=1, now=NOW)
    assert db.session.get(CourseBooking, booking.id).status == "confirmed"  # type: ignore[union-attr]
    assert courses.decline_reason(booking) is None
    assert mails("course_declined") == []


def test_decline_needs_a_reason(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker(), "Alva")
    with pytest.raises(BookingError):
        courses.decline(booking, reason="   ", staff_id=1, now=NOW)
    assert db.session.get(CourseBooking, booking.id).status == "pending"  # type: ignore[union-attr]


def test_T9_6_declined_seats_are_offered_to_the_first_in_line(app: Flask) -> None:
    course = make_course(seats=1)
    booking = book(course, make_booker(), "Alva")
    waiting = make_booker("forst@example.se")
    entry = courses.join_waiting_list(course, waiting, 1, now=NOW)
    courses.decline(booking, reason="Vi tar inte emot bokningen.", staff_id=1, now=NOW)
    assert db.session.get(WaitingListEntry, entry.id).status == "offered"  # type: ignore[union-attr]
    (offer,) = mails("course_offer")
    assert offer.to_address == "forst@example.se"
