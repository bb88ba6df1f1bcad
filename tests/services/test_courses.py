"""Course bookings (T9): refusals, seats, acceptance and the binding confirmation, cancellation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.buyers import BuyerKind
from shop.domain.lifecycle import BookingStatus
from shop.extensions import db
from shop.models import AuditEntry, CourseCancellation, OutboxMessage
from shop.services import courses
from shop.services.courses import BookingError, BookingRequest, ParticipantData
from tests.course_helpers import START, book, children, make_booker, make_course
from tests.factories import NOW


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


def mails(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


def request(*participants: ParticipantData) -> BookingRequest:
    return BookingRequest(participants=participants, buyer_kind=BuyerKind.CONSUMER)


def test_T9_1_booking_waits_for_staff_then_binding_confirmation_names_course_dates_participants(
    app: Flask,
) -> None:
    course = make_course(title="Fiolkurs för nybörjare")
    booker = make_booker("pia@example.se")
    booking = book(course, booker, "Alva", "Ture")
    assert booking.status == BookingStatus.PENDING.value
    assert mails("course_confirmation") == []
    assert courses.seats_free(course) == 6

    assert courses.accept(booking, staff_id=7, now=NOW) is True
    assert courses.accept(booking, staff_id=7, now=NOW) is False  # second click: nothing
    db.session.expire_all()
    assert booking.status == BookingStatus.CONFIRMED.value
    (message,) = mails("course_confirmation")
    assert message.to_address == "pia@example.se"
    text = message.body_text
    assert "Fiolkurs för nybörjare" in text
    assert "bindande" in text
    assert "Alva" in text
    assert "Ture" in text
    assert "Antal deltagare: 2" in text
    assert "2027-01-02" in text
    assert "2027-01-16" in text
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "course.confirmed")
    ).one()
    assert (audit.actor, audit.rule_id) == ("staff:7", "T9.1")


def test_T9_1_auto_accept_course_confirms_at_once(app: Flask) -> None:
    course = make_course(auto_accept=True)
    booking = book(course, make_booker())
    assert booking.status == BookingStatus.CONFIRMED.value
    assert len(mails("course_confirmation")) == 1


def test_T9_1_bad_bookings_are_refused_with_the_reason(app: Flask) -> None:
    course = make_course(min_age=6, max_age=12)
    booker = make_booker()
    cases = [
        (request(), "minst en deltagare"),
        (request(ParticipantData("Alva", date(2027, 1, 1))), "framtiden"),
        (request(ParticipantData("Bebis", date(2024, 1, 1))), "yngre än"),
        (request(ParticipantData("Morfar", date(1950, 1, 1))), "äldre än"),
        (request(ParticipantData("  ", date(2016, 1, 1))), "namnet"),
    ]
    for bad, reason in cases:
        with pytest.raises(BookingError, match=reason):
            courses.book(course, booker, bad, booking_key=f"bad-{reason}", now=NOW)
    minor = make_booker(birth_date=date(2010, 1, 1))
    with pytest.raises(BookingError, match="18 år"):
        courses.book(course, minor, request(*children("Alva")), booking_key="minor", now=NOW)
    assert courses.seats_free(course) == course.seats


def test_T9_1_booking_on_or_after_the_start_is_refused(app: Flask) -> None:
    course = make_course()
    booker = make_booker()
    with pytest.raises(BookingError, match="redan börjat"):
        book(course, booker, "Alva", now=at(START))
    booking = book(course, booker, "Alva", now=at(START - timedelta(days=1)))
    assert booking.booked_on == START - timedelta(days=1)


def test_T9_6_full_course_takes_no_more_bookings(app: Flask) -> None:
    course = make_course(seats=3)
    book(course, make_booker(), "Alva", "Ture")
    with pytest.raises(BookingError) as refused:
        book(course, make_booker(), "Sixten", "Maj")
    assert refused.value.rule == "T9.6"
    assert "fullbokad" in refused.value.message
    book(course, make_booker(), "Sixten")
    assert courses.seats_free(course) == 0


def test_same_booking_key_gives_the_same_booking(app: Flask) -> None:
    course = make_course()
    booker = make_booker()
    first = courses.book(course, booker, request(*children("Alva")), booking_key="k", now=NOW)
    again = courses.book(course, booker, request(*children("Alva")), booking_key="k", now=NOW)
    assert first.id == again.id
    assert courses.seats_free(course) == course.seats - 1


@pytest.mark.parametrize(
    ("days_before", "kept"),
    [
        (29, 0),  # more than 28 days: nothing
        (28, 75000),  # 28 days: 50 %
        (15, 75000),  # 15 days: 50 %
        (14, 150000),  # 14 days: 100 %
        (0, 150000),  # the start day
    ],
)
def test_T9_3_fee_kept_at_each_tier_boundary(app: Flask, days_before: int, kept: int) -> None:
    course = make_course(fee_ore=150000)
    booking = book(course, make_booker(), "Alva", "Ture", accept=True)
    received = START - timedelta(days=days_before)
    alva = booking.participants[0]
    (seat,) = courses.quote(booking, [alva.id], received)
    assert (seat.fee.kept_ore, seat.fee.credited_ore) == (kept, 150000 - kept)
    rows = courses.cancel_seats(
        booking,
        [alva.id],
        received_on=received,
        channel="letter",
        actor="staff:1",
        now=at(received),
    )
    assert [(row.kept_ore, row.credited_ore) for row in rows] == [(kept, 150000 - kept)]
    db.session.expire_all()
    assert booking.status == BookingStatus.PARTLY_CANCELLED.value
    assert courses.seats_free(course) == course.seats - 1


def test_T9_3_half_of_an_odd_fee_rounds_half_up(app: Flask) -> None:
    course = make_course(fee_ore=150001)
    booking = book(course, make_booker(), "Alva", accept=True)
    (seat,) = courses.quote(booking, [booking.participants[0].id], START - timedelta(days=20))
    assert seat.fee.kept_ore == 75001


def test_T9_3_cancelling_twice_does_nothing_the_second_time(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker("pia@example.se"), "Alva", "Ture", accept=True)
    ids = [p.id for p in booking.participants]
    received = START - timedelta(days=20)
    first = courses.cancel_seats(
        booking, ids, received_on=received, channel="account", actor="customer:x", now=at(received)
    )
    assert len(first) == 2
    again = courses.cancel_seats(
        booking, ids, received_on=received, channel="account", actor="customer:x", now=at(received)
    )
    assert again == []
    assert db.session.query(CourseCancellation).count() == 2
    db.session.expire_all()
    assert booking.status == BookingStatus.CANCELLED.value
    (message,) = mails("course_cancellation")
    assert "Vi behåller 750,00\xa0kr" in message.body_text  # 50 % per seat
    assert courses.seats_free(course) == course.seats


def test_T9_3_received_date_in_the_future_is_refused(app: Flask) -> None:
    booking = book(make_course(), make_booker(), "Alva", accept=True)
    with pytest.raises(BookingError, match="framtiden"):
        courses.cancel_seats(
            booking,
            [booking.participants[0].id],
            received_on=NOW.date() + timedelta(days=1),
            channel="letter",
            actor="staff:1",
            now=NOW,
        )


def test_T9_1_pending_booking_is_not_binding_and_cancels_without_fee(app: Flask) -> None:
    booking = book(make_course(), make_booker(), "Alva")
    received = START - timedelta(days=3)
    (row,) = courses.cancel_seats(
        booking,
        [booking.participants[0].id],
        received_on=received,
        channel="account",
        actor="customer:x",
        now=at(received),
    )
    assert row.kept_ore == 0
    db.session.expire_all()
    assert booking.status == BookingStatus.CANCELLED.value
