"""Course booking (T9).

A booking is binding once accepted and confirmed (T9.1); the booker is of
age, participants may be children. The course fee is invoiced 14 days
before the first course day (T9.2), or on the booking day for a later
booking. A written cancellation keeps a share of the fee by the whole days
from the cancellation to the first course day, ``start − cancelled_on``
(T9.3): more than 28 days nothing, 15–28 days 50 %, 14 days or fewer (the
start day and after included) 100 %; 50 % of an odd öre amount rounds half
up. Organisations may transfer a seat within the organisation with the
shop's agreement (T9.4). The shop may cancel a course at the latest 14 days
before start and then refunds every fee paid (T9.5). A full course takes no
more bookings (T9.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shop.domain.buyers import BuyerKind, age_on, require_of_age
from shop.domain.errors import (
    CourseFull,
    InvalidFacts,
    SeatTransferNotAllowed,
    ShopCancellationTooLate,
)
from shop.domain.money import percent_of, require_int, require_non_negative
from shop.domain.policy import DEFAULT_POLICY, Policy


def require_valid_booking(
    booker_birth_date: date | None,
    participant_birth_dates: tuple[date, ...],
    booked_on: date,
    start_on: date,
) -> None:
    """T9.1: the booker is of age; participants (children allowed) are born; start ≥ booking."""
    if start_on < booked_on:
        raise InvalidFacts("Kursen börjar före bokningsdagen.")
    if booker_birth_date is not None:
        require_of_age(booker_birth_date, booked_on)
    if not participant_birth_dates:
        raise InvalidFacts("En bokning måste ha minst en deltagare.")
    for birth in participant_birth_dates:
        age_on(birth, booked_on)  # raises for a birth date in the future


def course_invoice_date(
    start_on: date, booked_on: date, *, policy: Policy = DEFAULT_POLICY
) -> date:
    """T9.2: the course fee is invoiced 14 days before the first course day.

    A booking made later than that is invoiced on the booking day.
    """
    if start_on < booked_on:
        raise InvalidFacts("Kursen börjar före bokningsdagen.")
    return max(start_on - timedelta(days=policy.course_invoice_days_before_start), booked_on)


@dataclass(frozen=True)
class CancellationFee:
    """T9.3: what a cancellation keeps of the course fee, and what it credits."""

    days_before_start: int
    keep_bp: int
    kept_ore: int
    credited_ore: int


def cancellation_fee(
    course_fee_ore: int,
    booked_on: date,
    start_on: date,
    cancelled_on: date,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> CancellationFee:
    """T9.3: the share of ``course_fee_ore`` kept for a cancellation received on ``cancelled_on``.

    Days are ``start_on − cancelled_on``: > 28 → 0 %, 15..28 → 50 %, ≤ 14
    (the start day and after included) → 100 % with the default tiers. The
    kept amount rounds half up to the öre.
    """
    require_non_negative(course_fee_ore, "course_fee_ore")
    if start_on < booked_on:
        raise InvalidFacts("Kursen börjar före bokningsdagen.")
    if cancelled_on < booked_on:
        raise InvalidFacts("Avbokningen ligger före bokningsdagen.")
    days = (start_on - cancelled_on).days
    keep_bp = policy.cancellation_keep_bp(days)
    kept = percent_of(course_fee_ore, keep_bp)
    return CancellationFee(days, keep_bp, kept, course_fee_ore - kept)


def cancellation_fee_kept(
    course_fee_ore: int,
    booked_on: date,
    start_on: date,
    cancelled_on: date,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> int:
    """T9.3: the fee kept in öre (see :func:`cancellation_fee`)."""
    return cancellation_fee(
        course_fee_ore, booked_on, start_on, cancelled_on, policy=policy
    ).kept_ore


def shop_cancellation_last_day(start_on: date, *, policy: Policy = DEFAULT_POLICY) -> date:
    """T9.5: the last day the shop may cancel a course: 14 days before start."""
    return start_on - timedelta(days=policy.shop_cancel_course_days_before_start)


def shop_may_cancel_course(start_on: date, today: date, *, policy: Policy = DEFAULT_POLICY) -> bool:
    """T9.5: True if the shop may still cancel the course on ``today``."""
    return today <= shop_cancellation_last_day(start_on, policy=policy)


def shop_cancellation_refund(
    start_on: date,
    today: date,
    paid_ore: int,
    *,
    override_reason: str | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> int:
    """T9.5: the refund when the shop cancels: every fee paid, nothing more.

    Later than 14 days before start the system refuses with
    :class:`ShopCancellationTooLate` unless staff give a recorded
    ``override_reason``; the refund is the same.
    """
    require_non_negative(paid_ore, "paid_ore")
    if not shop_may_cancel_course(start_on, today, policy=policy) and not (
        override_reason and override_reason.strip()
    ):
        raise ShopCancellationTooLate()
    return paid_ore


def require_seat_transfer_allowed(
    buyer_kind: BuyerKind, same_organisation: bool, shop_agreed: bool
) -> None:
    """T9.4: a seat may pass to another person of the same organisation, with the shop's
    agreement, at no charge; consumers cancel instead (raises :class:`SeatTransferNotAllowed`)."""
    if buyer_kind is not BuyerKind.ORGANISATION:
        raise SeatTransferNotAllowed(
            "Överlåtelse av plats gäller bokningar gjorda av en organisation. "
            "Du kan avboka i stället."
        )
    if not same_organisation:
        raise SeatTransferNotAllowed(
            "Platsen kan bara överlåtas till en annan person i samma organisation."
        )
    if not shop_agreed:
        raise SeatTransferNotAllowed("Överlåtelsen kräver att vi har godkänt den.")


def seats_left(seats: int, taken: int) -> int:
    """T9.6: free seats on a course (never negative)."""
    require_int(seats, "seats")
    require_int(taken, "taken")
    if seats < 0 or taken < 0:
        raise InvalidFacts("Antalet platser kan inte vara negativt.")
    return max(seats - taken, 0)


def require_seats(seats: int, taken: int, wanted: int) -> None:
    """T9.6: raise :class:`CourseFull` if ``wanted`` seats are not free (offer the waiting list)."""
    require_int(wanted, "wanted")
    if wanted < 1:
        raise InvalidFacts("En bokning gäller minst en plats.")
    if wanted > seats_left(seats, taken):
        raise CourseFull()


def require_participant_age(
    birth_date: date, start_on: date, min_age: int | None, max_age: int | None
) -> None:
    """T9.1: a participant's age on the first course day lies within the course's age range.

    Raises :class:`InvalidFacts` for a birth date in the future or an age
    outside ``min_age``..``max_age`` (either bound may be open).
    """
    age = age_on(birth_date, start_on)
    if min_age is not None and age < min_age:
        raise InvalidFacts("Deltagaren är yngre än kursens åldersgräns.")
    if max_age is not None and age > max_age:
        raise InvalidFacts("Deltagaren är äldre än kursens åldersgräns.")
