"""Retention decisions for the sweeper (privacy.md R2.1–R2.8, R3.1–R3.5, R4)."""

from datetime import date

import pytest

from shop.domain.errors import InvalidFacts
from shop.domain.policy import Policy
from shop.domain.retention import (
    AccountFacts,
    BookkeepingFacts,
    ConsentWithdrawalFacts,
    CreditDataFacts,
    DataRequestFacts,
    DataRequestKind,
    HoldReason,
    MarketingFacts,
    ParticipantFacts,
    RecordFacts,
    RetentionAction,
    data_request_due_on,
    decide_retention,
    order_is_held,
)

D = date.fromisoformat
A = RetentionAction
H = HoldReason


@pytest.mark.parametrize(
    ("facts", "sweep", "action", "rule", "due"),
    [
        # R2.1: more than 3 years since the last activity
        (AccountFacts(D("2023-05-10"), True), "2026-05-10", A.KEEP, "R2.1", "2026-05-11"),
        (AccountFacts(D("2023-05-10"), True), "2026-05-11", A.ANONYMISE, "R2.1", "2026-05-11"),
        (AccountFacts(D("2023-05-10"), True), "2026-05-12", A.ANONYMISE, "R2.1", "2026-05-11"),
        # R2.2: never bought, no consent: 2 years after the last login
        (
            AccountFacts(D("2024-05-10"), False, last_login_on=D("2024-05-10")),
            "2026-05-09",
            A.KEEP,
            "R2.2",
            "2026-05-10",
        ),
        (
            AccountFacts(D("2024-05-10"), False, last_login_on=D("2024-05-10")),
            "2026-05-10",
            A.ANONYMISE,
            "R2.2",
            "2026-05-10",
        ),
        # never bought but consented to be kept: R2.1 applies
        (
            AccountFacts(D("2024-05-10"), False, keep_consent=True),
            "2026-05-10",
            A.KEEP,
            "R2.1",
            "2027-05-11",
        ),
        # R2.3: records of 2018 are purged from 1 January 2026
        (BookkeepingFacts(2018), "2025-12-31", A.KEEP, "R2.3", "2026-01-01"),
        (BookkeepingFacts(2018), "2026-01-01", A.PURGE, "R2.3", "2026-01-01"),
        (BookkeepingFacts(2019), "2026-06-01", A.KEEP, "R2.3", "2027-01-01"),
        # R2.4: settled + 3 months (month end clamps)
        (CreditDataFacts(D("2026-11-30")), "2027-02-27", A.KEEP, "R2.4", "2027-02-28"),
        (CreditDataFacts(D("2026-11-30")), "2027-02-28", A.PURGE, "R2.4", "2027-02-28"),
        (
            CreditDataFacts(D("2026-11-30"), account_anonymised=True),
            "2026-12-01",
            A.PURGE,
            "R2.1",
            "2026-12-01",
        ),
        # R2.5: 12 months after the course ended
        (ParticipantFacts(D("2025-11-30")), "2026-11-29", A.KEEP, "R2.5", "2026-11-30"),
        (ParticipantFacts(D("2025-11-30")), "2026-11-30", A.ANONYMISE, "R2.5", "2026-11-30"),
        (ParticipantFacts(D("2025-11-30"), booker_keeps=True), "2027-06-01", A.KEEP, "R2.5", None),
        # R2.6: proof of withdrawn consent, 2 years (29 Feb → 28 Feb)
        (ConsentWithdrawalFacts(D("2024-02-29")), "2026-02-27", A.KEEP, "R2.6", "2026-02-28"),
        (ConsentWithdrawalFacts(D("2024-02-29")), "2026-02-28", A.PURGE, "R2.6", "2026-02-28"),
        # R2.7: marketing data, 6 months
        (MarketingFacts(D("2026-08-31")), "2027-02-27", A.KEEP, "R2.7", "2027-02-28"),
        (MarketingFacts(D("2026-08-31")), "2027-02-28", A.PURGE, "R2.7", "2027-02-28"),
        # R2.8: data-request records, 3 years after closing; open requests are kept
        (DataRequestFacts(D("2023-06-01")), "2026-05-31", A.KEEP, "R2.8", "2026-06-01"),
        (DataRequestFacts(D("2023-06-01")), "2026-06-01", A.PURGE, "R2.8", "2026-06-01"),
        (DataRequestFacts(None), "2030-01-01", A.KEEP, "R2.8", None),
    ],
)
def test_R2_retention_periods(
    facts: RecordFacts, sweep: str, action: A, rule: str, due: str | None
) -> None:
    decision = decide_retention(facts, D(sweep))
    assert decision.action is action
    assert decision.rule == rule
    assert decision.due_on == (None if due is None else D(due))


@pytest.mark.parametrize(
    ("facts", "rule", "holds"),
    [
        (
            AccountFacts(D("2020-01-01"), True, holds=frozenset({H.ORDER_IN_PROGRESS})),
            "R3.1",
            (H.ORDER_IN_PROGRESS,),
        ),
        (
            AccountFacts(D("2020-01-01"), True, holds=frozenset({H.UNPAID_INVOICE})),
            "R3.2",
            (H.UNPAID_INVOICE,),
        ),
        (
            AccountFacts(D("2020-01-01"), True, holds=frozenset({H.STAFF_HOLD, H.OPEN_COMPLAINT})),
            "R3.3",
            (H.OPEN_COMPLAINT, H.STAFF_HOLD),
        ),
        (
            ParticipantFacts(D("2024-01-01"), holds=frozenset({H.COURSE_OPEN})),
            "R3.4",
            (H.COURSE_OPEN,),
        ),
        (BookkeepingFacts(2010, holds=frozenset({H.STAFF_HOLD})), "R3.5", (H.STAFF_HOLD,)),
        # an unsettled invoice holds its credit data even when the account is anonymised
        (CreditDataFacts(None, account_anonymised=True), "R3.2", (H.UNPAID_INVOICE,)),
    ],
)
def test_R3_holds_stop_the_sweeper(facts: RecordFacts, rule: str, holds: tuple[H, ...]) -> None:
    decision = decide_retention(facts, D("2026-11-23"))
    assert decision.action is A.HOLD
    assert decision.rule == rule
    assert decision.holds == holds


def test_R3_a_hold_on_a_record_not_yet_due_is_just_kept() -> None:
    facts = AccountFacts(D("2026-01-01"), True, holds=frozenset({H.UNPAID_INVOICE}))
    decision = decide_retention(facts, D("2026-11-23"))
    assert decision.action is A.KEEP
    assert decision.holds == (H.UNPAID_INVOICE,)


def test_R3_4_course_not_ended_holds_participants() -> None:
    decision = decide_retention(ParticipantFacts(D("2026-12-01")), D("2026-11-23"))
    assert decision.action is A.KEEP
    assert H.COURSE_OPEN in decision.holds


def test_R2_1_anonymised_account_is_left_alone() -> None:
    decision = decide_retention(
        AccountFacts(D("2010-01-01"), True, anonymised=True), D("2026-11-23")
    )
    assert decision.action is A.KEEP


def test_R2_periods_come_from_policy() -> None:
    policy = Policy(account_inactive_years=5)
    decision = decide_retention(AccountFacts(D("2023-05-10"), True), D("2026-05-11"), policy=policy)
    assert decision.action is A.KEEP
    assert decision.due_on == D("2028-05-11")


@pytest.mark.parametrize(
    "facts",
    [
        AccountFacts(D("2026-12-01"), True),  # activity after the sweep day
        MarketingFacts(D("2027-01-01")),
        CreditDataFacts(D("2027-01-01")),
        BookkeepingFacts(2027),
        DataRequestFacts(D("2027-01-01")),
        ConsentWithdrawalFacts(D("2027-01-01")),
    ],
)
def test_R2_facts_from_the_future_are_refused(facts: RecordFacts) -> None:
    with pytest.raises(InvalidFacts):
        decide_retention(facts, D("2026-11-23"))


def test_R2_1_login_after_last_activity_is_impossible() -> None:
    with pytest.raises(InvalidFacts):
        AccountFacts(D("2026-01-01"), True, last_login_on=D("2026-02-01"))


def test_R2_unknown_facts_are_refused() -> None:
    with pytest.raises(TypeError):
        decide_retention(object(), D("2026-11-23"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delivered", "last_day", "in_progress", "sweep", "held"),
    [
        (False, None, False, "2026-11-23", True),  # not yet delivered
        (True, "2026-11-23", False, "2026-11-23", True),  # last day of withdrawal
        (True, "2026-11-23", False, "2026-11-24", False),  # the day after
        (True, "2026-01-01", True, "2026-11-24", True),  # return in progress
        (True, None, False, "2026-11-24", False),  # organisation: no period
    ],
)
def test_R3_1_order_hold(
    delivered: bool, last_day: str | None, in_progress: bool, sweep: str, held: bool
) -> None:
    result = order_is_held(
        all_delivered=delivered,
        last_day_to_withdraw=None if last_day is None else D(last_day),
        case_in_progress=in_progress,
        sweep_on=D(sweep),
    )
    assert result is held


def test_R4_1_R4_3_data_request_deadlines() -> None:
    assert data_request_due_on(DataRequestKind.ACCESS, D("2026-11-23")) == D("2026-12-23")
    assert data_request_due_on(DataRequestKind.ERASURE, D("2026-11-23")) == D("2026-11-30")
