"""Course participants in the retention sweeper (privacy.md R2.5), the course hold (R3.4), and
the bookings and participants of an erased booker (R2.1, R4.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from shop.domain.buyers import BuyerKind
from shop.domain.calendar import add_months
from shop.domain.lifecycle import InvoiceStatus
from shop.domain.retention import HoldReason
from shop.extensions import db
from shop.models import (
    CourseBooking,
    CourseParticipant,
    Customer,
    Invoice,
    OutboxMessage,
    RetentionLogEntry,
    SeatTransfer,
)
from shop.services import courses, data_requests, retention
from shop.services.anonymisation import ANONYMOUS_BIRTH_DATE
from shop.services.courses import BookingRequest, ParticipantData
from tests.course_helpers import make_course
from tests.factories import make_customer
from tests.services.retention_helpers import occurrences

#: The course's only session is on this day (Stockholm), 17:00–19:00.
COURSE_DAY = date(2024, 3, 12)
BOOKED_AT = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

BOOKER_NAME = "Berit Unikbokare"
BOOKER_EMAIL = "berit.unikbokare@example.se"
CHILD = "Ottilia Unikdeltagare"
CHILD_BORN = date(2015, 2, 3)
NEWCOMER = "Nils Unikövertagare"
NEWCOMER_BORN = date(2014, 7, 8)
ORGANISATION = "Unika Musikskolan AB"
ORGANISATION_NUMBER = "556677-8899"


def booking_of(
    booker: Customer,
    *names: str,
    day: date = COURSE_DAY,
    kind: BuyerKind = BuyerKind.CONSUMER,
    accept: bool = True,
    teacher: Customer | None = None,
) -> CourseBooking:
    """A booking a week before the course (invoiced when accepted, T9.2)."""
    course = make_course(start=day, sessions=1, min_age=None, max_age=None, teacher=teacher)
    booked_at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC) - timedelta(days=7)
    organisation = kind is BuyerKind.ORGANISATION
    booking = courses.book(
        course,
        booker,
        BookingRequest(
            participants=tuple(ParticipantData(name, CHILD_BORN) for name in names or (CHILD,)),
            buyer_kind=kind,
            organisation_name=ORGANISATION if organisation else None,
            organisation_number=ORGANISATION_NUMBER if organisation else None,
        ),
        booking_key=f"key-{booker.id}-{course.id}",
        now=booked_at,
    )
    if accept:
        courses.accept(booking, staff_id=1, now=booked_at)
    return booking


def pay(booking: CourseBooking) -> None:
    invoice = db.session.get(Invoice, booking.invoice_id)
    assert invoice is not None
    invoice.status = InvoiceStatus.PAID.value
    invoice.paid_ore = invoice.total_ore
    invoice.paid_on = invoice.issued_on
    db.session.commit()


def participant(participant_id: int) -> CourseParticipant:
    db.session.expire_all()
    found = db.session.get(CourseParticipant, participant_id)
    assert found is not None
    return found


def only_in_bookkeeping(*needles: str) -> None:
    """Each text appears nowhere but in bookkeeping records (the course invoices, R2.3)."""
    found = occurrences(needles)
    for needle in needles:
        assert set(found.get(needle, [])) <= {"bookkeeping_record.content"}, needle


def mails_to(address: str) -> list[str]:
    """The text of every mail in the outbox to ``address``."""
    return list(
        db.session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.to_address == address)
        )
    )


def sweep(day: date) -> retention.SweepResult:
    return retention.sweep(day, now=NOW)


def test_r2_5_participants_are_anonymised_12_months_after_the_course_ended(app: Flask) -> None:
    """R2.5: the period comes from the policy (config); kept the day before it has run,
    anonymised on the day and later; logged by rule ID with no personal data; idempotent."""
    booking = booking_of(make_customer(name=BOOKER_NAME), CHILD)
    pay(booking)
    child_id = booking.participants[0].id
    months = retention.policy_from_config().participants_months_after_course
    due = add_months(COURSE_DAY, months)
    assert due == date(2025, 3, 12)

    assert sweep(due - timedelta(days=1)).counts == {}
    assert participant(child_id).name == CHILD
    result = sweep(due)
    assert result.counts == {"R2.5 anonymise": 1}
    gone = participant(child_id)
    assert gone.name == f"Deltagare {child_id}"
    assert gone.birth_date == ANONYMOUS_BIRTH_DATE
    (entry,) = db.session.scalars(
        select(RetentionLogEntry).where(RetentionLogEntry.rule_id == "R2.5")
    )
    assert (entry.action, entry.subject_type, entry.subject) == (
        "anonymise",
        "course_participant",
        str(child_id),
    )
    assert sweep(due).counts == {}  # S4: the second run does nothing
    assert sweep(due + timedelta(days=1)).counts == {}  # the day after: nothing left
    only_in_bookkeeping(CHILD)


def test_r2_5_a_course_that_ended_a_day_later_goes_a_day_later(app: Flask) -> None:
    """R2.5: two courses a day apart: on the first one's day only its participant goes."""
    first = booking_of(make_customer(), CHILD)
    second = booking_of(make_customer(), NEWCOMER, day=COURSE_DAY + timedelta(days=1))
    pay(first)
    pay(second)
    due = add_months(COURSE_DAY, retention.policy_from_config().participants_months_after_course)
    assert sweep(due).counts == {"R2.5 anonymise": 1}
    assert participant(second.participants[0].id).name == NEWCOMER
    assert sweep(due + timedelta(days=1)).counts == {"R2.5 anonymise": 1}
    assert participant(second.participants[0].id).birth_date == ANONYMOUS_BIRTH_DATE


def test_r2_5_the_period_is_configuration(app: Flask) -> None:
    """R2.5: a policy of 18 months moves the day; the day before it nothing happens."""
    app.config["RETENTION_PARTICIPANT_MONTHS"] = 18
    child_id = booking_of(make_customer(), CHILD).participants[0].id
    pay(db.session.get(CourseBooking, participant(child_id).booking_id))  # type: ignore[arg-type]
    due = date(2025, 9, 12)
    assert sweep(due - timedelta(days=1)).counts == {}
    assert participant(child_id).name == CHILD
    assert sweep(due).counts == {"R2.5 anonymise": 1}
    assert participant(child_id).birth_date == ANONYMOUS_BIRTH_DATE


def test_r2_5_a_course_that_ended_on_a_month_end_goes_on_the_clamped_day(app: Flask) -> None:
    """R2.5 with a 1-month policy: a course ending 31 January goes on 28 February."""
    app.config["RETENTION_PARTICIPANT_MONTHS"] = 1
    booking = booking_of(make_customer(), CHILD, day=date(2025, 1, 31))
    pay(booking)
    assert sweep(date(2025, 2, 27)).counts == {}
    assert sweep(date(2025, 2, 28)).counts == {"R2.5 anonymise": 1}


def test_r2_5_the_course_end_is_its_last_stockholm_day(app: Flask) -> None:
    """R2.5: a session ending late in the evening ends on that Stockholm day (UTC is earlier)."""
    booking = booking_of(make_customer(), CHILD)
    pay(booking)
    booking.course.sessions[0].ends_at = datetime(2024, 3, 12, 22, 30, tzinfo=UTC)  # 23:30
    db.session.commit()
    assert sweep(date(2025, 3, 11)).counts == {}
    assert sweep(date(2025, 3, 12)).counts == {"R2.5 anonymise": 1}


def test_r2_5_with_r3_4_an_unpaid_course_fee_holds_the_participants(app: Flask) -> None:
    """R3.4: an unpaid course fee holds the participants past R2.5; paid, they go."""
    booking = booking_of(make_customer(), CHILD)
    child_id = booking.participants[0].id
    day = date(2025, 6, 1)
    assert sweep(day).counts == {"R3.4 hold": 1}
    held = db.session.scalars(
        select(RetentionLogEntry).where(
            RetentionLogEntry.subject_type == "course_participant",
            RetentionLogEntry.action == "hold",
        )
    ).all()
    assert [(e.rule_id, e.subject) for e in held] == [("R3.4", str(child_id))]
    assert participant(child_id).name == CHILD
    pay(db.session.get(CourseBooking, booking.id))  # type: ignore[arg-type]
    assert sweep(day + timedelta(days=1)).counts.get("R2.5 anonymise") == 1
    assert participant(child_id).name == f"Deltagare {child_id}"


def test_r2_5_seat_transfer_names_go_with_the_participants(app: Flask) -> None:
    """R2.5: the new person named in a seat transfer (T9.4) goes with the participant, and
    so do the course mails to the booker and the teacher naming them; another booker's
    mail naming someone with a longer name stays."""
    teacher = make_customer(email="lena.larare@example.se", name="Lena Lärare")
    booking = booking_of(
        make_customer(kind="organisation"), CHILD, kind=BuyerKind.ORGANISATION, teacher=teacher
    )
    booker = booking.booker
    assert booker is not None
    pay(booking)
    other = make_customer(email="annan@example.se")
    booking_of(other, f"{CHILD} Berg", day=date(2026, 12, 1))
    old_id = booking.participants[0].id
    transfer = courses.request_transfer(
        booking,
        old_id,
        name=NEWCOMER,
        birth_date=NEWCOMER_BORN,
        same_organisation=True,
        now=BOOKED_AT + timedelta(days=1),
    )
    courses.decide_transfer(transfer, approve=True, staff_id=1, now=BOOKED_AT + timedelta(days=1))
    db.session.expire_all()
    transfer = db.session.get(SeatTransfer, transfer.id)  # type: ignore[assignment]
    assert transfer is not None
    new_id = transfer.new_participant_id
    assert any(NEWCOMER in body for body in mails_to(teacher.email))
    assert any(CHILD in body for body in mails_to(booker.email))
    assert sweep(date(2025, 3, 12)).counts == {"R2.5 anonymise": 2}
    db.session.expire_all()
    transfer = db.session.get(SeatTransfer, transfer.id)  # type: ignore[assignment]
    assert transfer is not None
    assert (transfer.name, transfer.birth_date) == (f"Deltagare {new_id}", ANONYMOUS_BIRTH_DATE)
    assert participant(old_id).name == f"Deltagare {old_id}"
    only_in_bookkeeping(NEWCOMER)
    assert mails_to(teacher.email) == []
    assert not any(CHILD in body for body in mails_to(booker.email))
    assert any(f"{CHILD} Berg" in body for body in mails_to(other.email))


def test_r3_4_a_course_not_ended_holds_the_booker_until_the_day_after(app: Flask) -> None:
    """R3.4: on the course's last day the booker is held; the day after, with the fee paid,
    nothing holds."""
    booker = make_customer()
    booking = booking_of(booker, CHILD)
    pay(booking)
    policy = retention.policy_from_config()
    assert retention.customer_holds([booker.id], COURSE_DAY - timedelta(days=1), policy) == {
        booker.id: {HoldReason.COURSE_OPEN}
    }
    assert retention.customer_holds([booker.id], COURSE_DAY, policy) == {
        booker.id: {HoldReason.COURSE_OPEN}
    }
    assert retention.customer_holds([booker.id], COURSE_DAY + timedelta(days=1), policy) == {}


def test_r3_4_an_unpaid_course_invoice_holds_the_booker_after_the_course(app: Flask) -> None:
    """R3.4: an unpaid course fee holds the booker after the course ended; paid, it does not."""
    booker = make_customer()
    booking = booking_of(booker, CHILD)
    later = COURSE_DAY + timedelta(days=100)
    policy = retention.policy_from_config()
    assert retention.customer_holds([booker.id], later, policy) == {
        booker.id: {HoldReason.COURSE_OPEN}
    }
    pay(booking)
    assert retention.customer_holds([booker.id], later, policy) == {}


def test_r3_4_a_declined_booking_holds_nothing(app: Flask) -> None:
    """R3.4: a booking the shop declined never held a seat and holds nothing."""
    booker = make_customer()
    booking = booking_of(booker, CHILD, accept=False)
    booking.status = "declined"
    db.session.commit()
    policy = retention.policy_from_config()
    assert retention.customer_holds([booker.id], COURSE_DAY - timedelta(days=1), policy) == {}


def test_r3_4_the_sweep_holds_a_booker_with_a_course_not_ended(app: Flask) -> None:
    """R3.4 with R2.1: an inactive booker is held while a booked course has not ended, with
    the rule ID in the sweeper's held records (S6); the day after it ended they go, under
    R2.1 (an accepted course booking is a purchase, not R2.2)."""
    booker = make_customer(last_activity_on=date(2022, 1, 10))
    booking = booking_of(booker, CHILD, day=date(2026, 3, 12))
    pay(booking)
    booker = db.session.get(Customer, booker.id)  # type: ignore[assignment]
    assert booker is not None
    booker.last_activity_on = date(2022, 1, 10)
    db.session.commit()
    assert sweep(date(2026, 3, 12)).counts == {"R3.4 hold": 1}
    assert [(e.rule_id, e.subject) for e in retention.held_records()] == [
        ("R3.4", booker.pseudonym)
    ]
    assert sweep(date(2026, 3, 13)).counts == {"R2.1 anonymise": 1}


def test_r4_3_erasure_waits_for_a_course_not_ended(app: Flask) -> None:
    """R4.3 with R3.4: the account waits (reason listed) until the course ended; then the
    sweeper finishes the erasure and the participants go with it."""
    booker = make_customer(name=BOOKER_NAME, email=BOOKER_EMAIL)
    booking = booking_of(booker, CHILD, day=date(2026, 12, 1))
    pay(booking)
    child_id = booking.participants[0].id
    outcome = data_requests.request_erasure(
        booker,
        channel="account",
        verified_by="customer",
        received_on=date(2026, 11, 25),
        today=date(2026, 11, 25),
        now=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
    )
    assert not outcome.done
    assert [(i.kind, i.rule) for i in outcome.waiting if i.rule != "R2.3"] == [("account", "R3.4")]
    assert participant(child_id).name == CHILD
    assert retention.sweep(date(2026, 12, 1), now=NOW).counts == {"R3.4 hold": 1}
    assert retention.sweep(date(2026, 12, 2), now=NOW).counts == {"R4.3 anonymise": 1}
    assert participant(child_id).name == f"Deltagare {child_id}"


def test_r4_3_erasure_leaves_booker_and_participants_only_in_bookkeeping_records(
    app: Flask,
) -> None:
    """R4.3, R2.5: after erasure the booker's name and e-mail, the organisation's name and
    number, the participants' names (a seat transfer included) and birth dates are nowhere
    in the database but in the course invoices (bookkeeping records, R2.3)."""
    booker = make_customer(
        name=BOOKER_NAME,
        email=BOOKER_EMAIL,
        kind="organisation",
        organisation_name=ORGANISATION,
        organisation_number=ORGANISATION_NUMBER,
    )
    booking = booking_of(booker, CHILD, kind=BuyerKind.ORGANISATION)
    transfer = courses.request_transfer(
        booking,
        booking.participants[0].id,
        name=NEWCOMER,
        birth_date=NEWCOMER_BORN,
        same_organisation=True,
        now=BOOKED_AT + timedelta(days=1),
    )
    courses.decide_transfer(transfer, approve=True, staff_id=1, now=BOOKED_AT + timedelta(days=1))
    pay(db.session.get(CourseBooking, booking.id))  # type: ignore[arg-type]
    outcome = data_requests.request_erasure(
        booker,
        channel="account",
        verified_by="customer",
        received_on=date(2024, 6, 1),
        today=date(2024, 6, 1),
        now=datetime(2024, 6, 1, 10, 0, tzinfo=UTC),
    )
    assert outcome.done
    only_in_bookkeeping(
        BOOKER_NAME, BOOKER_EMAIL, ORGANISATION, ORGANISATION_NUMBER, CHILD, NEWCOMER
    )
    db.session.expire_all()
    births = set(db.session.scalars(select(CourseParticipant.birth_date)))
    births |= set(db.session.scalars(select(SeatTransfer.birth_date)))
    assert births == {ANONYMOUS_BIRTH_DATE}
    kept = db.session.get(CourseBooking, booking.id)
    assert kept is not None
    assert (kept.organisation_name, kept.organisation_number) == (None, None)
    assert kept.fee_ore > 0
