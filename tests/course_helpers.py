"""Factories for course tests (T9): a course with sessions, a booker, a booking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

from shop.domain.buyers import BuyerKind
from shop.extensions import db
from shop.models import Course, CourseBooking, CourseSession, Customer
from shop.services import courses
from shop.services.courses import BookingRequest, ParticipantData
from tests.factories import NOW, make_customer

_seq = count(1)

#: The first course day of the default course: 40 days after NOW (2026-11-23).
START = date(2027, 1, 2)


def make_course(
    *,
    title: str = "Fiolkurs för nybörjare",
    start: date = START,
    sessions: int = 3,
    seats: int = 8,
    fee_ore: int = 150000,
    vat_rate_bp: int = 0,
    min_age: int | None = 6,
    max_age: int | None = 99,
    auto_accept: bool = False,
    teacher: Customer | None = None,
    instrument: str = "Fiol",
    place: str = "Göteborg",
    online: bool = False,
) -> Course:
    """A course with weekly sessions from 17:00 Stockholm time on ``start``, committed."""
    n = next(_seq)
    course = Course(
        slug=f"kurs-{n}",
        title=title,
        description="Vi spelar tillsammans.",
        teacher_id=teacher.id if teacher is not None else None,
        teacher_name=teacher.name if teacher is not None else "Lena Lärare",
        place="" if online else place,
        online=online,
        instrument=instrument,
        fee_ore=fee_ore,
        vat_rate_bp=vat_rate_bp,
        seats=seats,
        min_age=min_age,
        max_age=max_age,
        auto_accept=auto_accept,
        created_at=NOW,
    )
    for week in range(sessions):
        day = start + timedelta(days=7 * week)
        starts = datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)
        course.sessions.append(CourseSession(starts_at=starts, ends_at=starts + timedelta(hours=2)))
    db.session.add(course)
    db.session.commit()
    return course


def make_booker(email: str | None = None, **extra: object) -> Customer:
    return make_customer(email=email, name="Pia Förälder", phone="070-123 45 67", **extra)  # type: ignore[arg-type]


def children(*names: str) -> tuple[ParticipantData, ...]:
    births = [date(2016, 5, 1), date(2018, 9, 12), date(2015, 2, 3)]
    return tuple(ParticipantData(name, births[i % 3]) for i, name in enumerate(names))


def book(
    course: Course,
    booker: Customer,
    *names: str,
    now: datetime = NOW,
    kind: BuyerKind = BuyerKind.CONSUMER,
    accept: bool = False,
) -> CourseBooking:
    booking = courses.book(
        course,
        booker,
        BookingRequest(
            participants=children(*(names or ("Alva",))),
            buyer_kind=kind,
            organisation_name="Musikskolan AB" if kind is BuyerKind.ORGANISATION else None,
            organisation_number="556036-0793" if kind is BuyerKind.ORGANISATION else None,
        ),
        booking_key=f"key-{next(_seq)}",
        now=now,
    )
    if accept:
        courses.accept(booking, staff_id=1, now=now)
    return booking
