"""Courses, their sessions, bookings, participants, cancellations and the waiting list (T9).

Personal-data category (privacy.md section 1): ``course participants``
(R2.5) for :class:`CourseParticipant` (``name``, ``birth_date``); the
booker is an ``account`` (:class:`~shop.models.Customer`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.domain.lifecycle import BookingStatus
from shop.extensions import db
from shop.models.customer import Customer
from shop.models.invoice import Invoice
from shop.models.types import UTCDateTime

BOOKING_STATUSES = ", ".join(f"'{status.value}'" for status in BookingStatus)


class Course(db.Model):  # type: ignore[name-defined,misc]
    """A course in the catalogue (category Kurser): fee per participant incl. VAT (T9)."""

    __tablename__ = "course"
    __table_args__ = (
        CheckConstraint("fee_ore >= 0", name="fee_ore_non_negative"),
        CheckConstraint("vat_rate_bp IN (0, 600, 2500)", name="vat_rate_bp"),
        CheckConstraint("seats >= 0", name="seats_non_negative"),
        CheckConstraint(
            "min_age IS NULL OR max_age IS NULL OR min_age <= max_age", name="age_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The teacher's login (role teacher); sees this course's participant list only.
    teacher_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    #: The teacher's name as shown on the course page.
    teacher_name: Mapped[str] = mapped_column(String(200))
    #: Where the course is held; empty for an online course.
    place: Mapped[str] = mapped_column(String(200), default="")
    online: Mapped[bool] = mapped_column(default=False)
    #: The instrument the course is about (filter on the course list).
    instrument: Mapped[str] = mapped_column(String(100), default="")
    #: Course fee per participant including VAT, in öre (Kursavgift).
    fee_ore: Mapped[int]
    vat_rate_bp: Mapped[int] = mapped_column(default=2500)
    seats: Mapped[int]
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    #: Bookings are accepted at once instead of waiting for staff (T9.1).
    auto_accept: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set when the shop cancels the course (T9.5), with the reason.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(500))

    sessions: Mapped[list[CourseSession]] = relationship(
        back_populates="course",
        cascade="all, delete-orphan",
        order_by="CourseSession.starts_at",
        lazy="selectin",
    )
    teacher: Mapped[Customer | None] = relationship()

    @property
    def first_session(self) -> CourseSession | None:
        return self.sessions[0] if self.sessions else None

    @property
    def starts_at(self) -> datetime | None:
        return self.sessions[0].starts_at if self.sessions else None

    @property
    def ends_at(self) -> datetime | None:
        return self.sessions[-1].ends_at if self.sessions else None


class CourseSession(db.Model):  # type: ignore[name-defined,misc]
    """One meeting of a course; the first is the course's start, the last its end."""

    __tablename__ = "course_session"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())

    course: Mapped[Course] = relationship(back_populates="sessions")


class CourseBooking(db.Model):  # type: ignore[name-defined,misc]
    """A booker's booking of one or more seats on a course (T9.1)."""

    __tablename__ = "course_booking"
    __table_args__ = (
        CheckConstraint(f"status IN ({BOOKING_STATUSES})", name="status"),
        CheckConstraint("buyer_kind IN ('consumer', 'organisation')", name="buyer_kind"),
        Index("ix_course_booking_course_status", "course_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    #: The booker (Bokare), of age (T9.1).
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    #: One form, one booking: a double-clicked "Boka plats" finds this key again.
    booking_key: Mapped[str] = mapped_column(String(64), unique=True)
    buyer_kind: Mapped[str] = mapped_column(String(20))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    organisation_number: Mapped[str | None] = mapped_column(String(11))
    status: Mapped[str] = mapped_column(String(20), default=BookingStatus.PENDING.value)
    #: Course fee per participant as booked (the course's fee may change later).
    fee_ore: Mapped[int]
    vat_rate_bp: Mapped[int]
    booked_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The booking's current invoice (T9.2); an unpaid invoice that is credited is
    #: replaced by a new one for what remains.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)

    course: Mapped[Course] = relationship()
    booker: Mapped[Customer | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    participants: Mapped[list[CourseParticipant]] = relationship(
        back_populates="booking",
        cascade="all, delete-orphan",
        order_by="CourseParticipant.id",
        lazy="selectin",
    )

    @property
    def booking_status(self) -> BookingStatus:
        return BookingStatus(self.status)

    @property
    def active_participants(self) -> list[CourseParticipant]:
        return [p for p in self.participants if p.status == "active"]


class CourseParticipant(db.Model):  # type: ignore[name-defined,misc]
    """A participant (Deltagare) on a booked seat: name and birth date (R2.5); children allowed."""

    __tablename__ = "course_participant"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled', 'transferred')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("course_booking.id", ondelete="CASCADE"), index=True
    )
    #: Personal data, category course participants (R2.5).
    name: Mapped[str] = mapped_column(String(200))
    #: Personal data, category course participants (R2.5).
    birth_date: Mapped[date]
    #: active | cancelled (T9.3) | transferred (T9.4, the seat went to another person)
    status: Mapped[str] = mapped_column(String(20), default="active")
    #: The participant whose seat this one took over (T9.4).
    transferred_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_participant.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    booking: Mapped[CourseBooking] = relationship(back_populates="participants")


class CourseCancellation(db.Model):  # type: ignore[name-defined,misc]
    """A written cancellation of one seat (T9.3): received date, channel, fee kept, credit."""

    __tablename__ = "course_cancellation"
    __table_args__ = (
        CheckConstraint("channel IN ('account', 'letter', 'email')", name="channel"),
        CheckConstraint("kept_ore >= 0 AND credited_ore >= 0", name="amounts_non_negative"),
        CheckConstraint("kept_ore + credited_ore = fee_ore", name="kept_plus_credited"),
        # One cancellation per seat: cancelling twice does nothing the second time.
        UniqueConstraint("participant_id", name="participant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("course_booking.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("course_participant.id", ondelete="CASCADE")
    )
    #: The day the written cancellation reached the shop (T9.3).
    received_on: Mapped[date]
    #: account (the booker, in the account) | letter | email (entered by staff)
    channel: Mapped[str] = mapped_column(String(10))
    days_before_start: Mapped[int]
    fee_ore: Mapped[int]
    keep_bp: Mapped[int]
    kept_ore: Mapped[int]
    credited_ore: Mapped[int]
    #: "customer:<pseudonym>" or "staff:<id>".
    recorded_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SeatTransfer(db.Model):  # type: ignore[name-defined,misc]
    """An organisation's request to pass a seat to another named person (T9.4), and the decision.

    The new person's ``name`` and ``birth_date`` are course-participant data (R2.5).
    """

    __tablename__ = "seat_transfer"
    __table_args__ = (
        CheckConstraint("status IN ('requested', 'approved', 'refused')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("course_booking.id", ondelete="CASCADE"), index=True
    )
    #: The participant giving up the seat.
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("course_participant.id", ondelete="CASCADE")
    )
    #: Personal data, category course participants (R2.5).
    name: Mapped[str] = mapped_column(String(200))
    #: Personal data, category course participants (R2.5).
    birth_date: Mapped[date]
    #: The booker confirmed the new person belongs to the same organisation (T9.4).
    same_organisation: Mapped[bool]
    status: Mapped[str] = mapped_column(String(10), default="requested")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(40))
    #: The participant created by the approval.
    new_participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_participant.id", ondelete="SET NULL")
    )

    booking: Mapped[CourseBooking] = relationship()
    participant: Mapped[CourseParticipant] = relationship(foreign_keys=[participant_id])


class CourseRefund(db.Model):  # type: ignore[name-defined,misc]
    """Course fees paid back, exactly once per key (T9.3, T9.5).

    Course invoices are paid by bank transfer, not through a payment
    provider, so the refund is paid out by finance; the unique
    ``idempotency_key`` makes a repeated cancellation create no second refund.
    """

    __tablename__ = "course_refund"
    __table_args__ = (
        CheckConstraint("amount_ore > 0", name="amount_ore_positive"),
        CheckConstraint("status IN ('pending', 'done')", name="status"),
        CheckConstraint("reason IN ('cancellation', 'course_cancelled')", name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("course_booking.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_ore: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: cancellation (T9.3) | course_cancelled (T9.5)
    reason: Mapped[str] = mapped_column(String(20))
    #: pending → done (paid out by finance)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    #: The credit note (a bookkeeping record) issued for it.
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("bookkeeping_record.id"))
    approved_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WaitingListEntry(db.Model):  # type: ignore[name-defined,misc]
    """A place in a full course's waiting list (Väntelista, T9.6)."""

    __tablename__ = "waiting_list_entry"
    __table_args__ = (
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'expired', 'withdrawn')", name="status"
        ),
        Index("ix_waiting_list_entry_course_status", "course_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    seats: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    course: Mapped[Course] = relationship()
    customer: Mapped[Customer] = relationship()
