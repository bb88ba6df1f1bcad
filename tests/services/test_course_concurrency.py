"""T9.6 on PostgreSQL: 10 concurrent bookings for the last 3 seats give exactly 3 seats."""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from shop.domain.buyers import BuyerKind
from shop.extensions import db
from shop.models import Course, Customer
from shop.services import courses
from shop.services.courses import BookingError, BookingRequest
from tests.course_helpers import book, children, make_booker, make_course
from tests.factories import NOW

BOOKERS = 10


@pytest.mark.postgres
def test_T9_6_ten_concurrent_bookings_for_the_last_three_seats(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    course = make_course(seats=5)
    book(course, make_booker(), "Alva", "Ture")  # 3 seats left
    course_id = course.id
    booker_ids = [make_booker(f"bokare{n}@example.se").id for n in range(BOOKERS)]
    barrier = threading.Barrier(BOOKERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        with app.app_context():
            try:
                the_course = db.session.get(Course, course_id)
                booker = db.session.get(Customer, booker_ids[n])
                assert the_course is not None
                assert booker is not None
                barrier.wait(timeout=30)
                courses.book(
                    the_course,
                    booker,
                    BookingRequest(children(f"Barn {n}"), BuyerKind.CONSUMER),
                    booking_key=f"concurrent-{n}",
                    now=NOW,
                )
                outcome = "booked"
            except BookingError as error:
                outcome = error.message
            except Exception as error:  # reported in the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(BOOKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == BOOKERS
    assert outcomes.count("booked") == 3, outcomes
    full = "Kursen är fullbokad. Anmäl dig gärna till väntelistan."
    assert outcomes.count(full) == BOOKERS - 3, outcomes
    db.session.expire_all()
    assert courses.seats_taken(course_id) == 5
