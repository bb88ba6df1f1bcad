"""Right of withdrawal (T5.1–T5.8)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.buyers import BuyerKind
from shop.domain.calendar import is_working_day
from shop.domain.catalog import ProductKind
from shop.domain.errors import (
    InvalidAmount,
    InvalidFacts,
    NoWithdrawalRightForOrganisations,
    WithdrawalExcluded,
    WithdrawalPeriodOver,
)
from shop.domain.policy import Policy
from shop.domain.withdrawal import (
    ReturnCondition,
    WithdrawalItem,
    WithdrawalOrder,
    credit_for_returned_item,
    credit_without_return,
    delivery_fee_refund,
    goods_to_return,
    last_day_to_withdraw,
    last_day_to_withdraw_item,
    refund_deadline,
    refund_due_by,
    require_withdrawal_allowed,
    withdrawal_decision,
)

D = date.fromisoformat
CONSUMER, ORG = BuyerKind.CONSUMER, BuyerKind.ORGANISATION
BOOK = WithdrawalItem(ProductKind.PHYSICAL)


def order(
    *delivered: str | None, ordered: str = "2026-10-01", kind: BuyerKind = CONSUMER
) -> WithdrawalOrder:
    return WithdrawalOrder(kind, D(ordered), tuple(None if d is None else D(d) for d in delivered))


@pytest.mark.parametrize(
    ("delivered", "last_day"),
    [
        ("2026-11-02", "2026-11-16"),  # Monday + 14 = Monday: unchanged (T5.2)
        ("2026-10-24", "2026-11-09"),  # + 14 = Saturday 7 Nov → Monday (T5.3)
        ("2026-10-25", "2026-11-09"),  # + 14 = Sunday → Monday
        ("2026-06-05", "2026-06-22"),  # + 14 = Midsummer Eve → Monday
        ("2026-12-10", "2026-12-28"),  # + 14 = Christmas Eve → Monday 28 Dec
        ("2026-12-17", "2027-01-04"),  # + 14 = New Year's Eve → Monday 4 Jan
        ("2026-03-20", "2026-04-07"),  # + 14 = Good Friday → Tuesday after Easter
        ("2026-03-23", "2026-04-07"),  # + 14 = Easter Monday → Tuesday
        ("2026-04-30", "2026-05-15"),  # + 14 = Ascension Day → Friday
        ("2026-10-17", "2026-11-02"),  # + 14 = All Saints' Day (Saturday) → Monday
        ("2026-12-18", "2027-01-04"),  # + 14 = New Year's Day → Monday
    ],
)
def test_T5_2_T5_3_last_day_to_withdraw(delivered: str, last_day: str) -> None:
    o = order(delivered, ordered="2026-03-01")
    assert last_day_to_withdraw(o) == D(last_day)


def test_T5_3_period_ending_on_saturday_moves_to_monday() -> None:
    o = order("2026-10-24")
    assert D("2026-10-24") + timedelta(days=14) == D("2026-11-07")  # a Saturday
    assert last_day_to_withdraw(o) == D("2026-11-09")


def test_T5_2_several_parcels_count_from_the_last() -> None:
    o = order("2026-11-02", "2026-10-20", "2026-11-05")
    assert last_day_to_withdraw(o) == D("2026-11-19")


def test_T5_2_parcel_on_its_way_period_not_started_but_withdrawal_allowed() -> None:
    o = order("2026-10-20", None)
    assert last_day_to_withdraw(o) is None
    decision = withdrawal_decision(o, BOOK, D("2026-11-30"))
    assert decision.allowed
    assert decision.last_day is None
    assert "innan du har fått" in decision.reason_sv


def test_T5_2_digital_only_order_runs_from_the_order_day() -> None:
    o = order(ordered="2026-11-02")
    download = WithdrawalItem(ProductKind.DOWNLOAD)
    assert last_day_to_withdraw(o) == D("2026-11-16")
    assert last_day_to_withdraw_item(o, download) == D("2026-11-16")


def test_T5_2_mixed_order_items_have_their_own_last_day() -> None:
    o = order("2026-11-20", ordered="2026-11-02")
    assert last_day_to_withdraw_item(o, BOOK) == D("2026-12-04")
    assert last_day_to_withdraw_item(o, WithdrawalItem(ProductKind.SOFTWARE_CODE)) == D(
        "2026-11-16"
    )


def test_T5_2_shipped_item_without_parcel_is_impossible() -> None:
    with pytest.raises(InvalidFacts):
        last_day_to_withdraw_item(order(), BOOK)


@pytest.mark.parametrize(
    ("today", "allowed", "rule"),
    [
        ("2026-11-08", True, "T5.3"),  # Sunday, inside the moved period
        ("2026-11-09", True, "T5.3"),  # the last day (moved from Saturday 7th)
        ("2026-11-10", False, "T5.2"),  # the day after
    ],
)
def test_T5_2_boundaries_around_the_last_day(today: str, allowed: bool, rule: str) -> None:
    decision = withdrawal_decision(order("2026-10-24"), BOOK, D(today))
    assert (decision.allowed, decision.rule) == (allowed, rule)
    assert decision.last_day == D("2026-11-09")
    assert "9 november 2026" in decision.reason_sv


@pytest.mark.parametrize(
    ("today", "allowed"), [("2026-11-15", True), ("2026-11-16", True), ("2026-11-17", False)]
)
def test_T5_2_unmoved_period_boundaries(today: str, allowed: bool) -> None:
    decision = withdrawal_decision(order("2026-11-02"), BOOK, D(today))
    assert decision.allowed is allowed
    if allowed:
        assert decision.rule == "T5.2"
        require_withdrawal_allowed(order("2026-11-02"), BOOK, D(today))
    else:
        with pytest.raises(WithdrawalPeriodOver, match="Ångerfristen gick ut den 16 november"):
            require_withdrawal_allowed(order("2026-11-02"), BOOK, D(today))


def test_T5_1_organisations_have_no_right_of_withdrawal() -> None:
    o = order("2026-11-02", kind=ORG)
    decision = withdrawal_decision(o, BOOK, D("2026-11-03"))
    assert not decision.allowed
    assert decision.rule == "T5.1"
    with pytest.raises(NoWithdrawalRightForOrganisations, match="endast privatpersoner"):
        require_withdrawal_allowed(o, BOOK, D("2026-11-03"))


@pytest.mark.parametrize(
    ("item", "excluded", "words"),
    [
        (WithdrawalItem(ProductKind.SOFTWARE_BOXED, seal_broken=True), True, "försegling"),
        (WithdrawalItem(ProductKind.SOFTWARE_BOXED), False, ""),
        (WithdrawalItem(ProductKind.SOFTWARE_BOXED, code_activated=True), True, "koden"),
        (WithdrawalItem(ProductKind.SOFTWARE_CODE, code_activated=True), True, "koden"),
        (WithdrawalItem(ProductKind.SOFTWARE_CODE), False, ""),
        (
            WithdrawalItem(
                ProductKind.DOWNLOAD, download_started=True, download_consent_given=True
            ),
            True,
            "nedladdningen",
        ),
        # started without the consumer's consent: still withdrawable
        (WithdrawalItem(ProductKind.DOWNLOAD, download_started=True), False, ""),
        (WithdrawalItem(ProductKind.DOWNLOAD, download_consent_given=True), False, ""),
    ],
)
def test_T5_4_exclusions_with_reasons(item: WithdrawalItem, excluded: bool, words: str) -> None:
    o = order("2026-11-02", ordered="2026-11-01")
    decision = withdrawal_decision(o, item, D("2026-11-03"))
    assert decision.allowed is not excluded
    if excluded:
        assert decision.rule == "T5.4"
        assert words in decision.reason_sv
        with pytest.raises(WithdrawalExcluded):
            require_withdrawal_allowed(o, item, D("2026-11-03"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: WithdrawalItem(ProductKind.PHYSICAL, seal_broken=True),
        lambda: WithdrawalItem(ProductKind.DOWNLOAD, code_activated=True),
        lambda: WithdrawalItem(ProductKind.PHYSICAL, download_started=True),
        lambda: order("2026-09-30", ordered="2026-10-01"),  # delivered before the order
    ],
)
def test_T5_4_impossible_item_facts_are_refused(make: object) -> None:
    with pytest.raises(InvalidFacts):
        make()  # type: ignore[operator]


def test_T5_impossible_dates_are_refused() -> None:
    with pytest.raises(InvalidFacts):
        withdrawal_decision(order("2026-11-02"), BOOK, D("2026-09-30"))  # before the order
    with pytest.raises(InvalidFacts):
        withdrawal_decision(order("2026-11-02"), BOOK, D("2026-11-01"))  # delivery in future


@pytest.mark.parametrize(
    ("price", "condition", "deduction", "credit"),
    [
        (29900, ReturnCondition.UNUSED, 0, 29900),
        (29901, ReturnCondition.HANDLED, 5001, 24900),
        (29900, ReturnCondition.HANDLED, 0, 29900),
        (29900, ReturnCondition.HANDLED, 29900, 0),
        (29900, ReturnCondition.DAMAGED_BY_PACKING, 0, 0),
    ],
)
def test_T5_5_credit_from_inspected_condition(
    price: int, condition: ReturnCondition, deduction: int, credit: int
) -> None:
    assert credit_for_returned_item(price, condition, deduction) == credit


@pytest.mark.parametrize(
    ("price", "condition", "deduction", "error"),
    [
        (100, ReturnCondition.UNUSED, 1, InvalidFacts),
        (100, ReturnCondition.HANDLED, 101, InvalidAmount),
        (-1, ReturnCondition.UNUSED, 0, InvalidAmount),
        (100, ReturnCondition.HANDLED, -1, InvalidAmount),
    ],
)
def test_T5_5_impossible_credits_are_refused(
    price: int, condition: ReturnCondition, deduction: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        credit_for_returned_item(price, condition, deduction)


@pytest.mark.parametrize(
    ("paid", "cheapest", "whole", "refund"),
    [
        (7900, 7900, True, 7900),  # paid the cheapest: all back
        (15900, 7900, True, 7900),  # chose an express method: up to the cheapest
        (2900, 7900, True, 2900),
        (7900, 7900, False, 0),  # partial withdrawal keeps the delivery fee
        (0, 0, True, 0),  # digital only
    ],
)
def test_T5_6_delivery_fee_refund(paid: int, cheapest: int, whole: bool, refund: int) -> None:
    assert delivery_fee_refund(paid, cheapest, whole_order_withdrawn=whole) == refund


def test_T5_6_negative_fee_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        delivery_fee_refund(-1, 0, whole_order_withdrawn=True)


def test_T5_8_refund_deadline_is_14_calendar_days() -> None:
    assert refund_deadline(D("2026-11-02")) == D("2026-11-16")
    assert refund_deadline(D("2026-12-10")) == D("2026-12-24")  # not moved: pay earlier


@pytest.mark.parametrize(
    ("to_return", "back", "proof", "due"),
    [
        (False, None, None, "2026-11-16"),  # nothing to return
        (True, None, None, None),  # may wait for the goods
        (True, "2026-11-05", None, "2026-11-16"),  # back in time: the deadline
        (True, None, "2026-11-04", "2026-11-16"),  # proof of sending counts
        (True, "2026-11-25", None, "2026-11-25"),  # back late: due at once
        (True, "2026-11-25", "2026-11-20", "2026-11-20"),  # whichever is first
    ],
)
def test_T5_8_refund_may_wait_for_goods_or_proof(
    to_return: bool, back: str | None, proof: str | None, due: str | None
) -> None:
    result = refund_due_by(
        D("2026-11-02"),
        goods_to_return=to_return,
        goods_back_on=None if back is None else D(back),
        proof_of_sending_on=None if proof is None else D(proof),
    )
    assert result == (None if due is None else D(due))


@pytest.mark.parametrize(
    ("kinds", "to_return"),
    [
        ((ProductKind.DOWNLOAD,), False),
        ((ProductKind.SOFTWARE_CODE, ProductKind.DOWNLOAD), False),
        ((), False),  # only a fee is credited
        ((ProductKind.PHYSICAL,), True),
        ((ProductKind.SOFTWARE_BOXED,), True),  # boxed software comes back sealed (T5.4)
        ((ProductKind.DOWNLOAD, ProductKind.PHYSICAL), True),
    ],
)
def test_T5_8_only_shipped_goods_are_waited_for(
    kinds: tuple[ProductKind, ...], to_return: bool
) -> None:
    assert goods_to_return(kinds) is to_return


def test_T5_5_T5_8_nothing_sent_back_is_credited_in_full() -> None:
    assert credit_without_return(24900) == 24900
    assert credit_without_return(0) == 0
    with pytest.raises(InvalidAmount):
        credit_without_return(-1)


@given(
    st.lists(st.dates(min_value=date(2020, 1, 1), max_value=date(2060, 12, 31)), min_size=1),
    st.integers(14, 60),
)
def test_T5_3_property_deadline_is_a_working_day_at_least_14_days_after_last_delivery(
    deliveries: list[date], days: int
) -> None:
    o = WithdrawalOrder(CONSUMER, min(deliveries), tuple(deliveries))
    last = last_day_to_withdraw(o, policy=Policy(withdrawal_days=days))
    assert last is not None
    assert is_working_day(last)
    assert last >= max(deliveries) + timedelta(days=days)
    assert last - (max(deliveries) + timedelta(days=days)) <= timedelta(days=6)
