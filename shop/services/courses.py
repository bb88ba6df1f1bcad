"""Course bookings (T9): the course list, booking seats, acceptance, cancellation,
the shop cancelling a course, seat transfers, teachers' lists and the waiting list.

Every rule comes from :mod:`shop.domain.courses`. Booking locks the course
row (``FOR UPDATE`` on PostgreSQL, see :func:`shop.services.stock.lock_row`)
before counting the seats taken and the seats held for waiting-list offers,
so concurrent bookings of the last seats never overbook (T9.6). Acceptance
makes the booking binding and queues the confirmation naming the course,
the dates and the participants (T9.1). A written cancellation keeps the
domain's share of the fee for each seat (T9.3); cancelling a seat twice does
nothing the second time. The fees themselves (invoice, credit notes,
refunds) are in :mod:`shop.services.course_invoicing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop import clock
from shop.domain.buyers import BuyerKind, normalise_org_number
from shop.domain.courses import (
    CancellationFee,
    cancellation_fee,
    require_participant_age,
    require_seat_transfer_allowed,
    require_seats,
    require_valid_booking,
    seats_left,
    shop_cancellation_refund,
    shop_may_cancel_course,
)
from shop.domain.errors import BuyerUnderAge, DomainError
from shop.domain.lifecycle import BookingStatus, require_transition
from shop.extensions import db
from shop.models import (
    AuditEntry,
    Course,
    CourseBooking,
    CourseCancellation,
    CourseParticipant,
    Customer,
    SeatTransfer,
    WaitingListEntry,
)
from shop.models.customer import Role
from shop.services import course_invoicing, mail, stock
from shop.services.fulfilment import absolute_url

#: Bookings that hold seats on the course.
HOLDING = (
    BookingStatus.PENDING.value,
    BookingStatus.CONFIRMED.value,
    BookingStatus.PARTLY_CANCELLED.value,
)
CANCELLATION_CHANNELS = ("account", "letter", "email")


class BookingError(Exception):
    """A booking or cancellation that cannot be done; ``message`` is Swedish."""

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


# --- The course list -------------------------------------------------------------------------


def first_day(course: Course) -> date | None:
    """The first course day (Stockholm date of the first session), the start in T9."""
    return clock.local_date(course.starts_at) if course.starts_at is not None else None


def last_day(course: Course) -> date | None:
    return clock.local_date(course.ends_at) if course.ends_at is not None else None


def seats_taken(course_id: int) -> int:
    """Active participants on bookings that hold seats (pending, confirmed, partly cancelled)."""
    return int(
        db.session.scalar(
            select(func.count(CourseParticipant.id))
            .join(CourseBooking, CourseParticipant.booking_id == CourseBooking.id)
            .where(
                CourseBooking.course_id == course_id,
                CourseBooking.status.in_(HOLDING),
                CourseParticipant.status == "active",
            )
        )
        or 0
    )


def seats_free(course: Course) -> int:
    """T9.6: free seats on ``course`` now."""
    return seats_left(course.seats, seats_taken(course.id))


@dataclass(frozen=True)
class CourseRow:
    course: Course
    first_day: date
    last_day: date
    seats_left: int


@dataclass(frozen=True)
class CourseFilters:
    instrument: str | None = None
    age: int | None = None
    place: str | None = None
    #: "YYYY-MM"
    month: str | None = None


def course_by_slug(slug: str) -> Course | None:
    return db.session.scalars(
        select(Course).where(Course.slug == slug, Course.active.is_(True))
    ).first()


def _taken_by_course(course_ids: Sequence[int]) -> dict[int, int]:
    if not course_ids:
        return {}
    rows = db.session.execute(
        select(CourseBooking.course_id, func.count(CourseParticipant.id))
        .join(CourseParticipant, CourseParticipant.booking_id == CourseBooking.id)
        .where(
            CourseBooking.course_id.in_(list(course_ids)),
            CourseBooking.status.in_(HOLDING),
            CourseParticipant.status == "active",
        )
        .group_by(CourseBooking.course_id)
    )
    return {course_id: int(count) for course_id, count in rows}


def upcoming_courses(today: date, filters: CourseFilters | None = None) -> list[CourseRow]:
    """Active, not cancelled courses that have not started, by first day (the calendar list)."""
    filters = filters or CourseFilters()
    courses = [
        course
        for course in db.session.scalars(
            select(Course).where(Course.active.is_(True), Course.cancelled_at.is_(None))
        )
        if course.sessions
    ]
    taken = _taken_by_course([course.id for course in courses])
    rows: list[CourseRow] = []
    for course in courses:
        start, end = first_day(course), last_day(course)
        assert start is not None
        assert end is not None
        if start < today:
            continue
        if filters.instrument and course.instrument != filters.instrument:
            continue
        if filters.place:
            where = "online" if course.online else course.place
            if where != filters.place:
                continue
        if filters.month and start.strftime("%Y-%m") != filters.month:
            continue
        if filters.age is not None and (
            (course.min_age is not None and filters.age < course.min_age)
            or (course.max_age is not None and filters.age > course.max_age)
        ):
            continue
        rows.append(
            CourseRow(course, start, end, seats_left(course.seats, taken.get(course.id, 0)))
        )
    rows.sort(key=lambda row: (row.first_day, row.course.title))
    return rows


def filter_choices(today: date) -> dict[str, list[str]]:
    """The instruments, places and months of the upcoming courses (the filter menus)."""
    rows = upcoming_courses(today)
    return {
        "instrument": sorted({row.course.instrument for row in rows if row.course.instrument}),
        "place": sorted({"online" if row.course.online else row.course.place for row in rows}),
        "month": sorted({row.first_day.strftime("%Y-%m") for row in rows}),
    }


# --- Booking (T9.1, T9.6) --------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantData:
    name: str
    birth_date: date


@dataclass(frozen=True)
class BookingRequest:
    participants: tuple[ParticipantData, ...]
    buyer_kind: BuyerKind
    organisation_name: str | None = None
    organisation_number: str | None = None


def customer_actor(customer: Customer) -> str:
    return f"customer:{customer.pseudonym}"


def staff_actor(staff_id: int | str) -> str:
    return f"staff:{staff_id}"


def _audit(
    action: str,
    booking: CourseBooking,
    details: dict[str, object],
    *,
    actor: str,
    now: datetime,
    rule_id: str | None = None,
) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action=action,
            subject_type="course_booking",
            subject_id=str(booking.id),
            details=details,
            rule_id=rule_id,
        )
    )


def _check_request(course: Course, booker: Customer, request: BookingRequest, today: date) -> None:
    """Every refusal with its reason, before any seat is counted (T9.1, T1.1, T1.2)."""
    start = first_day(course)
    if start is None or not course.active:
        raise BookingError(_("Kursen går inte att boka."))
    if course.cancelled_at is not None:
        raise BookingError(_("Kursen är inställd."), rule="T9.5")
    if start <= today:
        raise BookingError(_("Kursen har redan börjat och går inte längre att boka."), rule="T9.1")
    if booker.birth_date is None and booker.adult_confirmed_at is None:
        raise BookingError(BuyerUnderAge.default_message, rule="T9.1")
    for participant in request.participants:
        if not participant.name.strip():
            raise BookingError(_("Ange namnet på varje deltagare."), rule="T9.1")
    try:
        require_valid_booking(
            booker.birth_date,
            tuple(participant.birth_date for participant in request.participants),
            today,
            start,
        )
        for participant in request.participants:
            require_participant_age(participant.birth_date, start, course.min_age, course.max_age)
    except DomainError as error:
        raise BookingError(error.message, rule=error.rule or "T9.1") from None
    if request.buyer_kind is BuyerKind.ORGANISATION:
        if not (request.organisation_name or "").strip():
            raise BookingError(_("Ange organisationens namn."), rule="T1.2")
        try:
            normalise_org_number(request.organisation_number or "")
        except DomainError as error:
            raise BookingError(error.message, rule="T1.2") from None


def booking_by_key(key: str) -> CourseBooking | None:
    return db.session.scalars(select(CourseBooking).where(CourseBooking.booking_key == key)).first()


def book(
    course: Course,
    booker: Customer,
    request: BookingRequest,
    *,
    booking_key: str,
    now: datetime,
) -> CourseBooking:
    """Book seats for the participants named; commits.

    Refuses with :class:`BookingError` (and its reason) a course that has
    started, no participants, a birth date in the future, a participant
    outside the age range, or a booker not of age (T9.1). The course row is
    locked while the seats are counted: a full course raises
    :class:`BookingError` with rule T9.6 (offer the waiting list). The
    booking waits for staff, or is accepted at once when the course says so.
    The same ``booking_key`` (a double click) returns the first booking.
    """
    existing = booking_by_key(booking_key)
    if existing is not None:
        return existing
    today = clock.local_date(now)
    _check_request(course, booker, request, today)
    course = stock.lock_row(Course, course.id)
    held = _held_for_others(course.id, booker.id, now)
    try:
        require_seats(course.seats, seats_taken(course.id) + held, len(request.participants))
    except DomainError as error:
        db.session.rollback()
        raise BookingError(error.message, rule="T9.6") from None
    organisation = request.buyer_kind is BuyerKind.ORGANISATION
    booking = CourseBooking(
        course_id=course.id,
        customer_id=booker.id,
        booking_key=booking_key,
        buyer_kind=request.buyer_kind.value,
        organisation_name=(request.organisation_name or "").strip() if organisation else None,
        organisation_number=(
            normalise_org_number(request.organisation_number or "") if organisation else None
        ),
        status=BookingStatus.PENDING.value,
        fee_ore=course.fee_ore,
        vat_rate_bp=course.vat_rate_bp,
        booked_on=today,
        created_at=now,
    )
    for participant in request.participants:
        booking.participants.append(
            CourseParticipant(
                name=participant.name.strip()[:200],
                birth_date=participant.birth_date,
                status="active",
                created_at=now,
            )
        )
    db.session.add(booking)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        again = booking_by_key(booking_key)
        if again is None:
            raise
        return again
    booker.last_activity_on = today
    entry = waiting_entry_of(course, booker)
    if entry is not None:
        entry.status = "booked"
    _audit(
        "course.booked",
        booking,
        {"course": course.id, "seats": len(request.participants), "kind": booking.buyer_kind},
        actor=customer_actor(booker),
        now=now,
        rule_id="T9.1",
    )
    if course.auto_accept:
        _confirm(booking, actor="system", now=now)
    db.session.commit()
    return booking


# --- Acceptance (T9.1) -----------------------------------------------------------------------


def _confirm(booking: CourseBooking, *, actor: str, now: datetime) -> None:
    current = booking.booking_status
    booking.status = require_transition(current, BookingStatus.CONFIRMED).value
    booking.confirmed_at = now
    _audit(
        "course.confirmed",
        booking,
        {"from": current.value, "to": booking.status},
        actor=actor,
        now=now,
        rule_id="T9.1",
    )
    booker = booking.booker
    if booker is not None:
        mail.queue_templated_mail(
            to=booker.email,
            subject=_l("Bokningsbekräftelse: %(title)s", title=booking.course.title),
            template="course_confirmation",
            context={
                "booking": booking,
                "course": booking.course,
                "name": booker.name,
                "participants": booking.active_participants,
            },
            now=now,
            language=booker.language,
        )
    # T9.2: a booking accepted on or after its invoice date is invoiced at once.
    course_invoicing.invoice_if_due(booking, now=now, actor=actor)


def accept(booking: CourseBooking, *, staff_id: int | str, now: datetime) -> bool:
    """Staff accept a pending booking: binding, confirmation sent (T9.1); commits.

    Returns False and changes nothing when the booking is no longer pending
    (a second click, another staff member first).
    """
    booking = stock.lock_row(CourseBooking, booking.id)
    if booking.booking_status is not BookingStatus.PENDING:
        db.session.rollback()
        return False
    _confirm(booking, actor=staff_actor(staff_id), now=now)
    db.session.commit()
    return True


def decline(booking: CourseBooking, *, reason: str, staff_id: int | str, now: datetime) -> bool:
    """Staff decline a pending booking with a reason the booker sees; commits.

    The booking never became binding (T9.1), so nothing is invoiced; its seats
    are freed and offered to the waiting list as a cancelled seat is (T9.6).
    Returns False and changes nothing when the booking is no longer pending
    (a second click, accepted or declined by someone else first).
    """
    reason = reason.strip()
    if not reason:
        raise BookingError(_("Ange varför bokningen avböjs."))
    booking = stock.lock_row(CourseBooking, booking.id)
    current = booking.booking_status
    if current is not BookingStatus.PENDING:
        db.session.rollback()
        return False
    booking.status = require_transition(current, BookingStatus.DECLINED).value
    _audit(
        "course.declined",
        booking,
        {
            "from": current.value,
            "to": booking.status,
            "seats": len(booking.active_participants),
            "reason": reason,
        },
        actor=staff_actor(staff_id),
        now=now,
        rule_id="T9.1",
    )
    booker = booking.booker
    if booker is not None:
        mail.queue_templated_mail(
            to=booker.email,
            subject=_l("Bokningen avböjd: %(title)s", title=booking.course.title),
            template="course_declined",
            context={
                "booking": booking,
                "course": booking.course,
                "name": booker.name,
                "reason": reason,
            },
            now=now,
            language=booker.language,
        )
    db.session.commit()
    offer_freed_seats(booking.course, now=now)
    return True


def decline_reason(booking: CourseBooking) -> str | None:
    """The reason given when staff declined ``booking`` (kept in its audit entry), or None."""
    if booking.status != BookingStatus.DECLINED.value:
        return None
    entry = db.session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.subject_type == "course_booking",
            AuditEntry.subject_id == str(booking.id),
            AuditEntry.action == "course.declined",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if entry is None or not isinstance(entry.details, dict):
        return None
    reason = entry.details.get("reason")
    return reason if isinstance(reason, str) else None


def pending_bookings() -> list[CourseBooking]:
    """Bookings waiting for staff, oldest first."""
    return list(
        db.session.scalars(
            select(CourseBooking)
            .where(CourseBooking.status == BookingStatus.PENDING.value)
            .order_by(CourseBooking.created_at, CourseBooking.id)
        )
    )


def bookings_of_course(course: Course) -> list[CourseBooking]:
    return list(
        db.session.scalars(
            select(CourseBooking)
            .where(CourseBooking.course_id == course.id)
            .order_by(CourseBooking.id)
        )
    )


# --- The booker's bookings -------------------------------------------------------------------


def booking_of(customer: Customer, booking_id: int) -> CourseBooking | None:
    """The booking if ``customer`` booked it; None otherwise (the page answers 404)."""
    booking = db.session.get(CourseBooking, booking_id)
    if booking is None or booking.customer_id != customer.id:
        return None
    return booking


def bookings_of(customer: Customer, today: date) -> list[CourseBooking]:
    """The booker's bookings of courses that ended within the last year or later (R2.5)."""
    bookings = db.session.scalars(
        select(CourseBooking)
        .where(CourseBooking.customer_id == customer.id)
        .order_by(CourseBooking.id.desc())
    )
    year_ago = date(today.year - 1, today.month, min(today.day, 28))
    return [
        booking
        for booking in bookings
        if (last_day(booking.course) or booking.booked_on) >= year_ago
    ]


# --- Cancellation (T9.3) ---------------------------------------------------------------------


@dataclass(frozen=True)
class SeatQuote:
    """What cancelling one seat keeps and credits (T9.3)."""

    participant: CourseParticipant
    fee: CancellationFee


def quote(
    booking: CourseBooking, participant_ids: Sequence[int], received_on: date
) -> list[SeatQuote]:
    """T9.3: the exact fee kept and amount credited for each active seat chosen.

    A booking not yet accepted is not binding (T9.1): nothing is kept.
    Raises :class:`BookingError` for a seat not in the booking. Seats already
    cancelled are left out. A received date before the booking counts as the
    booking day.
    """
    chosen = [p for p in booking.participants if p.id in set(participant_ids)]
    if len(chosen) != len(set(participant_ids)):
        raise BookingError(_("Deltagaren finns inte i bokningen."))
    active = [p for p in chosen if p.status == "active"]
    start = first_day(booking.course)
    assert start is not None
    quotes = []
    for participant in active:
        try:
            if booking.booking_status is BookingStatus.PENDING:
                fee = CancellationFee((start - received_on).days, 0, 0, booking.fee_ore)
            else:
                fee = cancellation_fee(
                    booking.fee_ore,
                    booking.booked_on,
                    start,
                    max(received_on, booking.booked_on),
                )
        except DomainError as error:
            raise BookingError(error.message, rule="T9.3") from None
        quotes.append(SeatQuote(participant, fee))
    return quotes


def cancel_seats(
    booking: CourseBooking,
    participant_ids: Sequence[int],
    *,
    received_on: date,
    channel: str,
    actor: str,
    now: datetime,
) -> list[CourseCancellation]:
    """Record a written cancellation of the seats chosen (T9.3); commits.

    Seats already cancelled are left alone, so cancelling twice does nothing
    the second time (an empty list). The booking becomes partly cancelled or
    cancelled; the booker gets the fee kept and the amount credited by mail.
    """
    if channel not in CANCELLATION_CHANNELS:
        raise ValueError(f"unknown cancellation channel {channel!r}")
    if received_on > clock.local_date(now):
        raise BookingError(_("Mottagningsdagen kan inte ligga i framtiden."))
    booking = stock.lock_row(CourseBooking, booking.id)
    status = booking.booking_status
    if status not in (
        BookingStatus.PENDING,
        BookingStatus.CONFIRMED,
        BookingStatus.PARTLY_CANCELLED,
    ):
        db.session.rollback()
        return []
    try:
        quotes = quote(booking, participant_ids, received_on)
    except BookingError:
        db.session.rollback()
        raise
    if not quotes:
        db.session.rollback()
        return []
    rows = []
    for seat in quotes:
        seat.participant.status = "cancelled"
        row = CourseCancellation(
            booking_id=booking.id,
            participant_id=seat.participant.id,
            received_on=received_on,
            channel=channel,
            days_before_start=seat.fee.days_before_start,
            fee_ore=booking.fee_ore,
            keep_bp=seat.fee.keep_bp,
            kept_ore=seat.fee.kept_ore,
            credited_ore=seat.fee.credited_ore,
            recorded_by=actor[:40],
            created_at=now,
        )
        db.session.add(row)
        rows.append(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return []
    remaining = [p for p in booking.participants if p.status == "active"]
    target = BookingStatus.PARTLY_CANCELLED if remaining else BookingStatus.CANCELLED
    if status is BookingStatus.PENDING and remaining:
        target = BookingStatus.PENDING
    if target is not status:
        booking.status = require_transition(status, target).value
    if target is BookingStatus.CANCELLED:
        booking.cancelled_at = now
    _audit(
        "course.cancelled_seats",
        booking,
        {
            "from": status.value,
            "to": booking.status,
            "seats": len(rows),
            "received_on": received_on.isoformat(),
            "channel": channel,
            "kept_ore": sum(row.kept_ore for row in rows),
            "credited_ore": sum(row.credited_ore for row in rows),
        },
        actor=actor,
        now=now,
        rule_id="T9.3",
    )
    course_invoicing.credit_after_cancellation(booking, rows, actor=actor, now=now)
    booker = booking.booker
    if booker is not None:
        mail.queue_templated_mail(
            to=booker.email,
            subject=_l("Avbokning: %(title)s", title=booking.course.title),
            template="course_cancellation",
            context={
                "booking": booking,
                "course": booking.course,
                "name": booker.name,
                "seats": list(zip(quotes, rows, strict=True)),
                "kept_ore": sum(row.kept_ore for row in rows),
                "credited_ore": sum(row.credited_ore for row in rows),
            },
            now=now,
            language=booker.language,
        )
    db.session.commit()
    offer_freed_seats(booking.course, now=now)
    return rows


def cancellations_of(booking: CourseBooking) -> list[CourseCancellation]:
    return list(
        db.session.scalars(
            select(CourseCancellation)
            .where(CourseCancellation.booking_id == booking.id)
            .order_by(CourseCancellation.id)
        )
    )


# --- The shop cancels a course (T9.5) ----------------------------------------------------------


@dataclass(frozen=True)
class CourseCancelled:
    """What cancelling the course did: bookings told, credit notes, refunds."""

    bookings: int
    credit_notes: int
    refunded_ore: int


def cancel_course(
    course: Course,
    *,
    reason: str,
    override_reason: str | None,
    staff_id: int | str,
    now: datetime,
) -> CourseCancelled | None:
    """T9.5: the shop cancels ``course``; every booker is mailed, every fee paid refunded.

    At the latest 14 days before the start; later only with a recorded
    ``override_reason`` (else :class:`BookingError` with rule T9.5). Every
    booking holding seats becomes ``cancelled_by_shop``; each invoice is
    credited in full and what was paid is refunded once (unique key per
    booking). Returns None and changes nothing when the course is already
    cancelled (a second click). Commits.
    """
    if not reason.strip():
        raise BookingError(_("Ange varför kursen ställs in."), rule="T9.5")
    start = first_day(course)
    assert start is not None
    try:
        shop_cancellation_refund(start, clock.local_date(now), 0, override_reason=override_reason)
    except DomainError as error:
        raise BookingError(error.message, rule="T9.5") from None
    course = stock.lock_row(Course, course.id)
    if course.cancelled_at is not None:
        db.session.rollback()
        return None
    actor = staff_actor(staff_id)
    course.cancelled_at = now
    late = not shop_may_cancel_course(start, clock.local_date(now))
    course.cancel_reason = (
        f"{reason.strip()} (efter sista dag: {(override_reason or '').strip()})"
        if late
        else reason.strip()
    )[:500]
    told = notes = refunded = 0
    for booking in bookings_of_course(course):
        status = booking.booking_status
        note, refund = course_invoicing.credit_whole_booking(
            booking, reason="course_cancelled", actor=actor, now=now
        )
        notes += note is not None
        refunded += refund.amount_ore if refund is not None else 0
        if status in (BookingStatus.DECLINED, BookingStatus.CANCELLED_BY_SHOP):
            continue
        target = (
            BookingStatus.CANCELLED
            if status is BookingStatus.PENDING
            else BookingStatus.CANCELLED_BY_SHOP
        )
        if status is not BookingStatus.CANCELLED:
            booking.status = require_transition(status, target).value
            booking.cancelled_at = now
        _audit(
            "course.cancelled_by_shop",
            booking,
            {
                "from": status.value,
                "to": booking.status,
                "refund_ore": refund.amount_ore if refund is not None else 0,
                "late_override": late,
            },
            actor=actor,
            now=now,
            rule_id="T9.5",
        )
        booker = booking.booker
        if booker is not None and (status is not BookingStatus.CANCELLED or note is not None):
            told += 1
            mail.queue_templated_mail(
                to=booker.email,
                subject=_l("Kursen är inställd: %(title)s", title=course.title),
                template="course_cancelled",
                context={
                    "course": course,
                    "name": booker.name,
                    "refund": refund,
                    "invoice": booking.invoice,
                },
                now=now,
                language=booker.language,
            )
    db.session.commit()
    return CourseCancelled(told, notes, refunded)


# --- Teachers' attendance lists ----------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceRow:
    """One participant on the attendance list: the name and the booker's phone, nothing more."""

    name: str
    booker_phone: str


def teacher_courses(teacher: Customer) -> list[Course]:
    """The courses the teacher teaches (an administrator sees every course), by first day."""
    query = select(Course).where(Course.active.is_(True))
    if not teacher.has_role(Role.ADMIN):
        query = query.where(Course.teacher_id == teacher.id)
    found = [course for course in db.session.scalars(query) if course.sessions]
    return sorted(found, key=lambda course: (course.starts_at, course.title))


def teacher_course(teacher: Customer, course_id: int) -> Course | None:
    """The course if ``teacher`` teaches it (or is an administrator); None otherwise (404)."""
    course = db.session.get(Course, course_id)
    if course is None:
        return None
    if course.teacher_id != teacher.id and not teacher.has_role(Role.ADMIN):
        return None
    return course


def attendance_list(course: Course) -> list[AttendanceRow]:
    """Participants on seats of confirmed bookings, by name (R2.5: names and phone only)."""
    rows: list[AttendanceRow] = []
    for booking in bookings_of_course(course):
        if booking.status not in (
            BookingStatus.CONFIRMED.value,
            BookingStatus.PARTLY_CANCELLED.value,
        ):
            continue
        phone = (booking.booker.phone if booking.booker is not None else None) or ""
        rows.extend(AttendanceRow(p.name, phone) for p in booking.active_participants)
    return sorted(rows, key=lambda row: row.name.lower())


# --- Seat transfer (T9.4) ----------------------------------------------------------------------


def request_transfer(
    booking: CourseBooking,
    participant_id: int,
    *,
    name: str,
    birth_date: date,
    same_organisation: bool,
    now: datetime,
) -> SeatTransfer:
    """T9.4: an organisation asks to pass a seat to another named person; staff decide. Commits.

    Refused with the reason for a consumer booking, a person outside the
    organisation, a seat not taken, a course that has started, a birth date
    in the future or outside the age range.
    """
    start = first_day(booking.course)
    assert start is not None
    today = clock.local_date(now)
    participant = next((p for p in booking.participants if p.id == participant_id), None)
    if participant is None or participant.status != "active":
        raise BookingError(_("Deltagaren finns inte i bokningen."), rule="T9.4")
    if booking.status not in (BookingStatus.CONFIRMED.value, BookingStatus.PARTLY_CANCELLED.value):
        raise BookingError(_("Bara en bekräftad bokning kan överlåtas."), rule="T9.4")
    if start <= today:
        raise BookingError(_("Kursen har redan börjat."), rule="T9.4")
    if not name.strip():
        raise BookingError(_("Ange namnet på varje deltagare."), rule="T9.4")
    try:
        require_seat_transfer_allowed(
            BuyerKind(booking.buyer_kind), same_organisation, shop_agreed=True
        )
        require_participant_age(birth_date, start, booking.course.min_age, booking.course.max_age)
    except DomainError as error:
        raise BookingError(error.message, rule="T9.4") from None
    transfer = SeatTransfer(
        booking_id=booking.id,
        participant_id=participant.id,
        name=name.strip()[:200],
        birth_date=birth_date,
        same_organisation=same_organisation,
        status="requested",
        requested_at=now,
    )
    db.session.add(transfer)
    db.session.flush()
    booker = booking.booker
    _audit(
        "course.transfer_requested",
        booking,
        {"transfer": transfer.id, "participant": participant.id},
        actor=customer_actor(booker) if booker is not None else "system",
        now=now,
        rule_id="T9.4",
    )
    db.session.commit()
    return transfer


def pending_transfers() -> list[SeatTransfer]:
    return list(
        db.session.scalars(
            select(SeatTransfer)
            .where(SeatTransfer.status == "requested")
            .order_by(SeatTransfer.requested_at, SeatTransfer.id)
        )
    )


def transfers_of(booking: CourseBooking) -> list[SeatTransfer]:
    return list(
        db.session.scalars(
            select(SeatTransfer)
            .where(SeatTransfer.booking_id == booking.id)
            .order_by(SeatTransfer.id)
        )
    )


def decide_transfer(
    transfer: SeatTransfer, *, approve: bool, staff_id: int | str, now: datetime
) -> bool:
    """Staff approve (with the shop's agreement, T9.4) or refuse a transfer; no fee. Commits.

    Approval marks the old participant ``transferred`` and adds the new one
    on the same seat; the booker and the course's teacher are told. Returns
    False and changes nothing when the request was already decided.
    """
    transfer = stock.lock_row(SeatTransfer, transfer.id)
    if transfer.status != "requested":
        db.session.rollback()
        return False
    booking = transfer.booking
    actor = staff_actor(staff_id)
    transfer.decided_at = now
    transfer.decided_by = actor
    old = transfer.participant
    if approve and old.status != "active":
        approve = False
    new: CourseParticipant | None = None
    if approve:
        require_seat_transfer_allowed(
            BuyerKind(booking.buyer_kind), transfer.same_organisation, shop_agreed=True
        )
        old.status = "transferred"
        new = CourseParticipant(
            name=transfer.name,
            birth_date=transfer.birth_date,
            status="active",
            transferred_from_id=old.id,
            created_at=now,
        )
        booking.participants.append(new)
        db.session.flush()
        transfer.new_participant_id = new.id
    transfer.status = "approved" if approve else "refused"
    _audit(
        "course.transfer_" + transfer.status,
        booking,
        {"transfer": transfer.id, "from": old.id, "to": new.id if new is not None else None},
        actor=actor,
        now=now,
        rule_id="T9.4",
    )
    context = {
        "course": booking.course,
        "old_name": old.name,
        "new_name": transfer.name,
        "approved": approve,
    }
    recipients = []
    if booking.booker is not None:
        recipients.append(booking.booker)
    teacher = booking.course.teacher
    if approve and teacher is not None:
        recipients.append(teacher)
    for person in recipients:
        mail.queue_templated_mail(
            to=person.email,
            subject=_l("Överlåtelse av plats: %(title)s", title=booking.course.title),
            template="course_transfer",
            context={**context, "name": person.name},
            now=now,
            language=person.language,
        )
    db.session.commit()
    return True


# --- Waiting list (T9.6) -----------------------------------------------------------------------

#: How long a freed seat offered to the first in line is held for them.
OFFER_HOURS = 48
OPEN_ENTRY = ("waiting", "offered")


def _held_for_others(course_id: int, customer_id: int | None, now: datetime) -> int:
    """Seats offered to people on the waiting list, not yet expired, other than ``customer_id``."""
    entries = db.session.scalars(
        select(WaitingListEntry).where(
            WaitingListEntry.course_id == course_id, WaitingListEntry.status == "offered"
        )
    )
    return sum(
        entry.seats
        for entry in entries
        if entry.customer_id != customer_id
        and entry.offer_expires_at is not None
        and entry.offer_expires_at > now
    )


def waiting_entry_of(course: Course, customer: Customer) -> WaitingListEntry | None:
    return db.session.scalars(
        select(WaitingListEntry).where(
            WaitingListEntry.course_id == course.id,
            WaitingListEntry.customer_id == customer.id,
            WaitingListEntry.status.in_(OPEN_ENTRY),
        )
    ).first()


def join_waiting_list(
    course: Course, customer: Customer, seats: int, *, now: datetime
) -> WaitingListEntry:
    """T9.6: a place in line for ``seats`` seats on a full course; once per person. Commits."""
    if seats < 1:
        raise BookingError(_("En bokning gäller minst en plats."), rule="T9.6")
    start = first_day(course)
    if start is None or start <= clock.local_date(now) or course.cancelled_at is not None:
        raise BookingError(_("Kursen går inte att boka."), rule="T9.6")
    existing = waiting_entry_of(course, customer)
    if existing is not None:
        return existing
    entry = WaitingListEntry(
        course_id=course.id, customer_id=customer.id, seats=seats, status="waiting", created_at=now
    )
    db.session.add(entry)
    db.session.flush()
    db.session.add(
        AuditEntry(
            at=now,
            actor=customer_actor(customer)[:40],
            action="course.waiting_list",
            subject_type="course",
            subject_id=str(course.id),
            details={"entry": entry.id, "seats": seats},
            rule_id="T9.6",
        )
    )
    db.session.commit()
    return entry


def waiting_list(course: Course) -> list[WaitingListEntry]:
    return list(
        db.session.scalars(
            select(WaitingListEntry)
            .where(WaitingListEntry.course_id == course.id, WaitingListEntry.status.in_(OPEN_ENTRY))
            .order_by(WaitingListEntry.created_at, WaitingListEntry.id)
        )
    )


def offer_freed_seats(course: Course, *, now: datetime) -> list[WaitingListEntry]:
    """T9.6: offer free seats to the first in line, by e-mail, held for :data:`OFFER_HOURS`.

    Expired offers lapse first. The first waiting entry is offered only if
    its seats fit; the line is kept in order (no one jumps ahead). Commits.
    """
    course = stock.lock_row(Course, course.id)
    start = first_day(course)
    if start is None or start <= clock.local_date(now) or course.cancelled_at is not None:
        db.session.rollback()
        return []
    offered: list[WaitingListEntry] = []
    entries = waiting_list(course)
    for entry in entries:
        if (
            entry.status == "offered"
            and entry.offer_expires_at is not None
            and entry.offer_expires_at <= now
        ):
            entry.status = "expired"
    free = seats_left(course.seats, seats_taken(course.id)) - _held_for_others(course.id, None, now)
    for entry in entries:
        if entry.status != "waiting":
            continue
        if entry.seats > free:
            break
        entry.status = "offered"
        entry.offered_at = now
        entry.offer_expires_at = now + timedelta(hours=OFFER_HOURS)
        free -= entry.seats
        offered.append(entry)
        customer = entry.customer
        mail.queue_templated_mail(
            to=customer.email,
            subject=_l("En plats är ledig: %(title)s", title=course.title),
            template="course_offer",
            context={
                "course": course,
                "entry": entry,
                "name": customer.name,
                "link": absolute_url("courses.book", slug=course.slug, platser=entry.seats),
            },
            now=now,
            language=customer.language,
        )
        db.session.add(
            AuditEntry(
                at=now,
                actor="system",
                action="course.waiting_list_offer",
                subject_type="course",
                subject_id=str(course.id),
                details={"entry": entry.id, "seats": entry.seats},
                rule_id="T9.6",
            )
        )
    db.session.commit()
    return offered


# --- The booker's account -----------------------------------------------------------------------


def rename_participant(
    booking: CourseBooking, participant_id: int, name: str, *, actor: str, now: datetime
) -> None:
    """The booker corrects a participant's name until the course starts. Commits."""
    start = first_day(booking.course)
    assert start is not None
    if start <= clock.local_date(now):
        raise BookingError(_("Kursen har redan börjat."))
    participant = next((p for p in booking.participants if p.id == participant_id), None)
    if participant is None or participant.status != "active":
        raise BookingError(_("Deltagaren finns inte i bokningen."))
    if not name.strip():
        raise BookingError(_("Ange namnet på varje deltagare."))
    participant.name = name.strip()[:200]
    _audit(
        "course.participant_renamed",
        booking,
        {"participant": participant.id},
        actor=actor,
        now=now,
        rule_id="T9.1",
    )
    db.session.commit()
