"""Complaints: normal window, statutory window, out of time (T6.1, T6.2)."""

from datetime import date

import pytest

from shop.domain.buyers import BuyerKind
from shop.domain.complaints import (
    ComplaintWindow,
    complaint_window,
    normal_complaint_last_day,
    require_complaint_in_time,
    statutory_complaint_last_day,
)
from shop.domain.errors import ComplaintOutOfTime, InvalidFacts
from shop.domain.policy import Policy

D = date.fromisoformat
C, ORG = BuyerKind.CONSUMER, BuyerKind.ORGANISATION
W = ComplaintWindow
RECEIVED = "2026-09-16"  # + 2 months = Monday 16 November; + 3 years = Sunday 16 Sep 2029


@pytest.mark.parametrize(
    ("kind", "reported", "discovered", "window", "review"),
    [
        (C, "2026-09-16", None, W.NORMAL, False),  # the day of receipt
        (C, "2026-11-15", None, W.NORMAL, False),  # the day before
        (C, "2026-11-16", None, W.NORMAL, False),  # the last day of T6.1
        (C, "2026-11-17", None, W.STATUTORY, True),  # the day after: T6.2, staff review
        (ORG, "2026-11-16", None, W.NORMAL, False),
        (ORG, "2026-11-17", None, W.OUT_OF_TIME, False),  # organisations: 2 months only
        (C, "2029-09-17", "2029-08-01", W.STATUTORY, True),  # 3 years moved to Monday
        (C, "2029-09-18", "2029-08-01", W.OUT_OF_TIME, True),  # 3 years + 1 working day
        (C, "2027-05-10", "2027-03-10", W.STATUTORY, True),  # 2 months from discovery
        (C, "2027-05-11", "2027-03-10", W.OUT_OF_TIME, True),  # one day late
    ],
)
def test_T6_1_T6_2_complaint_windows(
    kind: BuyerKind, reported: str, discovered: str | None, window: W, review: bool
) -> None:
    decision = complaint_window(
        kind, D(RECEIVED), D(reported), None if discovered is None else D(discovered)
    )
    assert decision.window is window
    assert decision.needs_review is review
    assert decision.normal_last_day == D("2026-11-16")
    assert decision.reason_sv


def test_T6_1_normal_window_moves_to_working_day() -> None:
    # 7 September + 2 months = Saturday 7 November → Monday 9 November
    assert normal_complaint_last_day(D("2026-09-07")) == D("2026-11-09")
    d = complaint_window(C, D("2026-09-07"), D("2026-11-09"))
    assert d.window is W.NORMAL
    assert d.rule == "T6.1"


def test_T6_1_month_end_receipt() -> None:
    # 31 December + 2 months = 28 February 2027 (a Sunday) → Monday 1 March
    assert normal_complaint_last_day(D("2026-12-31")) == D("2027-03-01")


def test_T6_2_statutory_last_day_is_the_earlier_limit() -> None:
    assert statutory_complaint_last_day(D(RECEIVED), D("2029-08-01")) == D("2029-09-17")
    assert statutory_complaint_last_day(D(RECEIVED), D("2027-03-10")) == D("2027-05-10")


def test_T6_2_out_of_time_raises_with_rule() -> None:
    with pytest.raises(ComplaintOutOfTime) as error:
        require_complaint_in_time(C, D(RECEIVED), D("2029-09-18"), D("2029-08-01"))
    assert error.value.rule == "T6.2"
    with pytest.raises(ComplaintOutOfTime, match="16 november 2026") as org_error:
        require_complaint_in_time(ORG, D(RECEIVED), D("2026-11-17"))
    assert org_error.value.rule == "T6.1"
    ok = require_complaint_in_time(C, D(RECEIVED), D("2026-11-17"))
    assert ok.window is W.STATUTORY


@pytest.mark.parametrize(
    ("reported", "discovered"),
    [
        ("2026-09-15", None),  # complaint before receipt
        ("2026-10-01", "2026-09-15"),  # discovered before receipt
        ("2026-10-01", "2026-10-02"),  # discovered after the report
    ],
)
def test_T6_impossible_dates_are_refused(reported: str, discovered: str | None) -> None:
    with pytest.raises(InvalidFacts):
        complaint_window(C, D(RECEIVED), D(reported), None if discovered is None else D(discovered))


def test_T6_2_statutory_floor_holds_under_a_generous_policy() -> None:
    policy = Policy(complaint_normal_months=6)
    d = complaint_window(ORG, D(RECEIVED), D("2027-03-16"), policy=policy)
    assert d.window is W.NORMAL
