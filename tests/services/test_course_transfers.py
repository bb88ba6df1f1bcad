"""Seat transfer (T9.4): organisations only, within the organisation, staff approve, no fee."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.buyers import BuyerKind
from shop.extensions import db
from shop.models import CourseBooking, Invoice, OutboxMessage, SeatTransfer
from shop.models.customer import Role
from shop.services import courses
from shop.services.courses import BookingError
from shop.services.customers import create_staff_member
from tests.course_helpers import book, make_booker, make_course
from tests.factories import NOW, PASSWORD


def org_booking(teacher: bool = False) -> CourseBooking:
    lead = (
        create_staff_member(
            email="larare@example.se", name="Lena", password=PASSWORD, roles=[Role.TEACHER], now=NOW
        )
        if teacher
        else None
    )
    course = make_course(teacher=lead)
    return book(
        course,
        make_booker("skola@example.se", kind="organisation"),
        "Elev Ett",
        "Elev Två",
        kind=BuyerKind.ORGANISATION,
        accept=True,
    )


def test_T9_4_approved_transfer_changes_the_list_and_tells_booker_and_teacher(app: Flask) -> None:
    booking = org_booking(teacher=True)
    old = booking.participants[0]
    transfer = courses.request_transfer(
        booking,
        old.id,
        name="Elev Tre",
        birth_date=date(2015, 6, 1),
        same_organisation=True,
        now=NOW,
    )
    assert transfer.status == "requested"
    assert courses.seats_free(booking.course) == booking.course.seats - 2
    assert courses.decide_transfer(transfer, approve=True, staff_id=1, now=NOW) is True
    assert courses.decide_transfer(transfer, approve=True, staff_id=1, now=NOW) is False
    db.session.expire_all()
    fresh = db.session.get(CourseBooking, booking.id)
    assert fresh is not None
    names = {p.name: p.status for p in fresh.participants}
    assert names == {"Elev Ett": "transferred", "Elev Två": "active", "Elev Tre": "active"}
    new = next(p for p in fresh.participants if p.name == "Elev Tre")
    assert new.transferred_from_id == old.id
    assert courses.seats_free(fresh.course) == fresh.course.seats - 2  # same seat
    told = sorted(
        m.to_address
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "course_transfer")
        )
    )
    assert told == ["larare@example.se", "skola@example.se"]
    assert db.session.query(Invoice).count() == 0  # no fee


def test_T9_4_refused_transfer_keeps_the_seat(app: Flask) -> None:
    booking = org_booking()
    transfer = courses.request_transfer(
        booking,
        booking.participants[0].id,
        name="Elev Tre",
        birth_date=date(2015, 6, 1),
        same_organisation=True,
        now=NOW,
    )
    courses.decide_transfer(transfer, approve=False, staff_id=1, now=NOW)
    db.session.expire_all()
    assert db.session.get(SeatTransfer, transfer.id).status == "refused"  # type: ignore[union-attr]
    fresh = db.session.get(CourseBooking, booking.id)
    assert [p.status for p in fresh.participants] == ["active", "active"]  # type: ignore[union-attr]


def test_T9_4_consumers_and_outsiders_cannot_transfer(app: Flask) -> None:
    consumer = book(make_course(), make_booker(), "Alva", accept=True)
    with pytest.raises(BookingError, match="organisation"):
        courses.request_transfer(
            consumer,
            consumer.participants[0].id,
            name="Ture",
            birth_date=date(2016, 1, 1),
            same_organisation=True,
            now=NOW,
        )
    booking = org_booking()
    with pytest.raises(BookingError, match="samma organisation"):
        courses.request_transfer(
            booking,
            booking.participants[0].id,
            name="Utomstående",
            birth_date=date(2015, 1, 1),
            same_organisation=False,
            now=NOW,
        )
    with pytest.raises(BookingError, match="framtiden"):
        courses.request_transfer(
            booking,
            booking.participants[0].id,
            name="Ofödd",
            birth_date=date(2030, 1, 1),
            same_organisation=True,
            now=NOW,
        )
    assert db.session.query(SeatTransfer).count() == 0
