"""Waiting list (T9.6): a freed seat goes to the first in line, by e-mail, for a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from shop.extensions import db
from shop.models import OutboxMessage, WaitingListEntry
from shop.services import courses
from shop.services.courses import OFFER_HOURS, BookingError
from tests.course_helpers import book, make_booker, make_course
from tests.factories import NOW


def offers() -> list[OutboxMessage]:
    return list(
        db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "course_offer"))
    )


def test_T9_6_freed_seat_is_offered_to_the_first_in_line_only(app: Flask) -> None:
    course = make_course(seats=2)
    holder = book(course, make_booker(), "Alva", "Ture", accept=True)
    first = make_booker("forst@example.se")
    second = make_booker("andra@example.se")
    entry = courses.join_waiting_list(course, first, 1, now=NOW)
    assert courses.join_waiting_list(course, first, 1, now=NOW).id == entry.id  # once
    courses.join_waiting_list(course, second, 1, now=NOW + timedelta(minutes=1))
    courses.cancel_seats(
        holder,
        [holder.participants[0].id],
        received_on=NOW.date(),
        channel="account",
        actor="customer:x",
        now=NOW,
    )
    (message,) = offers()
    assert message.to_address == "forst@example.se"
    assert f"/kurser/{course.slug}/boka?platser=1" in message.body_text
    db.session.expire_all()
    offered = db.session.get(WaitingListEntry, entry.id)
    assert offered is not None
    assert offered.status == "offered"
    assert offered.offer_expires_at == NOW + timedelta(hours=OFFER_HOURS)
    # The seat is held: the second in line cannot take it …
    with pytest.raises(BookingError) as refused:
        book(course, second, "Sixten")
    assert refused.value.rule == "T9.6"
    # … the first can, and the entry is done.
    book(course, first, "Maj")
    db.session.expire_all()
    assert db.session.get(WaitingListEntry, entry.id).status == "booked"  # type: ignore[union-attr]


def test_T9_6_an_expired_offer_passes_to_the_next_in_line(app: Flask) -> None:
    course = make_course(seats=1)
    holder = book(course, make_booker(), "Alva", accept=True)
    first = make_booker("forst@example.se")
    second = make_booker("andra@example.se")
    entry = courses.join_waiting_list(course, first, 1, now=NOW)
    courses.join_waiting_list(course, second, 1, now=NOW + timedelta(minutes=1))
    courses.cancel_seats(
        holder,
        [holder.participants[0].id],
        received_on=NOW.date(),
        channel="account",
        actor="customer:x",
        now=NOW,
    )
    before = NOW + timedelta(hours=OFFER_HOURS) - timedelta(seconds=1)
    assert courses.offer_freed_seats(course, now=before) == []
    after = NOW + timedelta(hours=OFFER_HOURS)
    (next_offer,) = courses.offer_freed_seats(course, now=after)
    assert next_offer.customer.email == "andra@example.se"
    db.session.expire_all()
    assert db.session.get(WaitingListEntry, entry.id).status == "expired"  # type: ignore[union-attr]
    assert [m.to_address for m in offers()] == ["forst@example.se", "andra@example.se"]


def test_T9_6_a_bigger_request_first_in_line_is_not_jumped(app: Flask) -> None:
    course = make_course(seats=2)
    holder = book(course, make_booker(), "Alva", "Ture", accept=True)
    courses.join_waiting_list(course, make_booker("tva@example.se"), 2, now=NOW)
    courses.join_waiting_list(course, make_booker("en@example.se"), 1, now=NOW)
    courses.cancel_seats(
        holder,
        [holder.participants[0].id],
        received_on=NOW.date(),
        channel="account",
        actor="customer:x",
        now=NOW,
    )
    assert offers() == []
