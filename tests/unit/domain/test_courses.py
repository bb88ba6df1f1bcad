"""Course booking: invoice date, cancellation fee, shop cancellation, transfer, seats (T9)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.buyers import BuyerKind
from shop.domain.courses import (
    cancellation_fee,
    cancellation_fee_kept,
    course_invoice_date,
    require_seat_transfer_allowed,
    require_seats,
    require_valid_booking,
    seats_left,
    shop_cancellation_last_day,
    shop_cancellation_refund,
    shop_may_cancel_course,
)
from shop.domain.errors import (
    BuyerUnderAge,
    CourseFull,
    InvalidAmount,
    InvalidFacts,
    SeatTransferNotAllowed,
    ShopCancellationTooLate,
)
from shop.domain.policy import DEFAULT_POLICY, CancellationTier, Policy

D = date.fromisoformat
BOOKED, START = D("2026-10-01"), D("2026-12-01")


@pytest.mark.parametrize(
    ("cancelled", "days", "bp", "kept"),
    [
        ("2026-10-01", 61, 0, 0),
        ("2026-11-02", 29, 0, 0),  # more than 28 days: nothing
        ("2026-11-03", 28, 5000, 64951),  # 28 days: 50 %, odd öre half up
        ("2026-11-04", 27, 5000, 64951),
        ("2026-11-16", 15, 5000, 64951),  # 15 days: still 50 %
        ("2026-11-17", 14, 10000, 129901),  # 14 days: 100 %
        ("2026-11-30", 1, 10000, 129901),
        ("2026-12-01", 0, 10000, 129901),  # the start day
        ("2026-12-05", -4, 10000, 129901),  # after the start
    ],
)
def test_T9_3_fee_kept_by_days_before_start(cancelled: str, days: int, bp: int, kept: int) -> None:
    fee = cancellation_fee(129901, BOOKED, START, D(cancelled))
    assert (fee.days_before_start, fee.keep_bp, fee.kept_ore) == (days, bp, kept)
    assert fee.kept_ore + fee.credited_ore == 129901
    assert cancellation_fee_kept(129901, BOOKED, START, D(cancelled)) == kept


@pytest.mark.parametrize(("fee", "half"), [(1, 1), (3, 2), (2, 1), (0, 0), (99999, 50000)])
def test_T9_3_half_of_odd_ore_rounds_up(fee: int, half: int) -> None:
    assert cancellation_fee_kept(fee, BOOKED, START, D("2026-11-10")) == half


@pytest.mark.parametrize(
    ("booked", "start", "cancelled", "error"),
    [
        ("2026-12-02", "2026-12-01", "2026-12-02", InvalidFacts),  # course before booking
        ("2026-10-01", "2026-12-01", "2026-09-30", InvalidFacts),  # cancelled before booking
    ],
)
def test_T9_3_impossible_dates_are_refused(
    booked: str, start: str, cancelled: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        cancellation_fee(100, D(booked), D(start), D(cancelled))


def test_T9_3_negative_fee_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        cancellation_fee(-100, BOOKED, START, BOOKED)


def test_T9_3_tiers_come_from_policy() -> None:
    policy = Policy(
        course_cancellation_tiers=(
            CancellationTier(43, 0),
            CancellationTier(22, 2500),
            CancellationTier(None, 10000),
        )
    )
    assert cancellation_fee_kept(10000, BOOKED, START, D("2026-11-09"), policy=policy) == 2500


@given(
    st.integers(0, 10**9),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    st.integers(0, 120),
)
def test_T9_3_property_fee_never_decreases_toward_the_start(
    fee: int, start: date, gap: int
) -> None:
    booked = start - timedelta(days=120)
    kept = [
        cancellation_fee_kept(fee, booked, start, booked + timedelta(days=offset))
        for offset in range(gap, 131, 7)
    ]
    assert kept == sorted(kept)
    assert all(0 <= k <= fee for k in kept)


@pytest.mark.parametrize(
    ("booked", "invoice"),
    [
        ("2026-10-01", "2026-11-17"),  # 14 days before 1 December
        ("2026-11-17", "2026-11-17"),
        ("2026-11-20", "2026-11-20"),  # booked later: invoiced at once
        ("2026-12-01", "2026-12-01"),
    ],
)
def test_T9_2_invoice_date(booked: str, invoice: str) -> None:
    assert course_invoice_date(START, D(booked)) == D(invoice)


def test_T9_2_course_before_booking_is_impossible() -> None:
    with pytest.raises(InvalidFacts):
        course_invoice_date(START, D("2026-12-02"))


@pytest.mark.parametrize(
    ("today", "may"), [("2026-11-16", True), ("2026-11-17", True), ("2026-11-18", False)]
)
def test_T9_5_shop_may_cancel_until_14_days_before(today: str, may: bool) -> None:
    assert shop_cancellation_last_day(START) == D("2026-11-17")
    assert shop_may_cancel_course(START, D(today)) is may
    if may:
        assert shop_cancellation_refund(START, D(today), 259800) == 259800
    else:
        with pytest.raises(ShopCancellationTooLate):
            shop_cancellation_refund(START, D(today), 259800)
        with pytest.raises(ShopCancellationTooLate):
            shop_cancellation_refund(START, D(today), 259800, override_reason="  ")
        # staff override with a recorded reason: the same full refund
        assert (
            shop_cancellation_refund(START, D(today), 259800, override_reason="Läraren är sjuk")
            == 259800
        )


def test_T9_4_seat_transfer_only_within_an_organisation_with_agreement() -> None:
    require_seat_transfer_allowed(BuyerKind.ORGANISATION, same_organisation=True, shop_agreed=True)
    cases = [
        (BuyerKind.CONSUMER, True, True, "organisation"),
        (BuyerKind.ORGANISATION, False, True, "samma organisation"),
        (BuyerKind.ORGANISATION, True, False, "godkänt"),
    ]
    for kind, same, agreed, words in cases:
        with pytest.raises(SeatTransferNotAllowed, match=words):
            require_seat_transfer_allowed(kind, same_organisation=same, shop_agreed=agreed)


def test_T9_1_booker_of_age_participants_may_be_children() -> None:
    require_valid_booking(D("1980-01-01"), (D("2015-06-01"), D("2019-02-28")), BOOKED, START)
    with pytest.raises(BuyerUnderAge):
        require_valid_booking(D("2010-01-01"), (D("2015-06-01"),), BOOKED, START)
    with pytest.raises(InvalidFacts):
        require_valid_booking(D("1980-01-01"), (D("2027-01-01"),), BOOKED, START)
    with pytest.raises(InvalidFacts):
        require_valid_booking(D("1980-01-01"), (), BOOKED, START)
    with pytest.raises(InvalidFacts):
        require_valid_booking(D("1980-01-01"), (D("2015-06-01"),), START, BOOKED)


@pytest.mark.parametrize(
    ("seats", "taken", "wanted", "full"),
    [(10, 9, 1, False), (10, 10, 1, True), (10, 8, 3, True), (10, 12, 1, True)],
)
def test_T9_6_full_course_takes_no_more_bookings(
    seats: int, taken: int, wanted: int, full: bool
) -> None:
    assert seats_left(seats, taken) == max(seats - taken, 0)
    if full:
        with pytest.raises(CourseFull, match="väntelistan"):
            require_seats(seats, taken, wanted)
    else:
        require_seats(seats, taken, wanted)


def test_T9_6_impossible_seat_counts() -> None:
    with pytest.raises(InvalidFacts):
        seats_left(-1, 0)
    with pytest.raises(InvalidFacts):
        require_seats(10, 0, 0)
    assert DEFAULT_POLICY.shop_cancel_course_days_before_start == 14


def test_T9_1_participant_age_range_at_the_first_course_day() -> None:
    from shop.domain.courses import require_participant_age

    start = date(2027, 3, 1)
    require_participant_age(date(2019, 3, 1), start, 8, 12)  # 8 on the start day
    require_participant_age(date(2014, 3, 2), start, 8, 12)  # still 12
    require_participant_age(date(1950, 1, 1), start, None, None)
    with pytest.raises(InvalidFacts, match="yngre än"):
        require_participant_age(date(2019, 3, 2), start, 8, 12)
    with pytest.raises(InvalidFacts, match="äldre än"):
        require_participant_age(date(2014, 3, 1), start, 8, 12)
    with pytest.raises(InvalidFacts, match="framtiden"):
        require_participant_age(date(2027, 3, 2), start, None, None)
