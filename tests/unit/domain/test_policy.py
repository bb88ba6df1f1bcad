"""The shop's terms as data, with statutory floors (all rules; T5.2, T6.2, T5.8, R2.3)."""

import dataclasses

import pytest

from shop.domain.errors import InvalidPolicy
from shop.domain.policy import DEFAULT_POLICY, CancellationTier, Policy


def test_default_policy_is_the_seed_terms() -> None:
    p = DEFAULT_POLICY
    assert p.terms_version == "2026-11-01"
    assert (p.withdrawal_days, p.refund_deadline_days) == (14, 14)
    assert (p.invoice_fee_ore, p.invoice_fee_vat_bp, p.invoice_due_days) == (1900, 2500, 30)
    assert (p.reminder_fee_ore, p.reminder_fee_vat_bp, p.reminder_extra_days) == (5000, 0, 10)
    assert p.collection_after_reminder_days == 10
    assert (p.complaint_normal_months, p.complaint_statutory_years) == (2, 3)
    assert p.complaint_discovery_months == 2
    assert p.unclaimed_admin_fee_ore == 5000
    assert p.course_invoice_days_before_start == p.shop_cancel_course_days_before_start == 14
    assert p.dispatch_working_days == (1, 4)
    assert (p.account_inactive_years, p.never_bought_years, p.bookkeeping_years) == (3, 2, 7)
    assert p.credit_data_months_after_settled == 3
    assert p.participants_months_after_course == 12
    assert (p.consent_withdrawal_proof_years, p.marketing_months, p.data_request_years) == (2, 6, 3)
    assert (p.access_request_days, p.erasure_request_days) == (30, 7)


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.withdrawal_days = 30  # type: ignore[misc]


def test_a_shop_may_be_more_generous() -> None:
    p = Policy(withdrawal_days=30, complaint_normal_months=6, invoice_fee_ore=0)
    assert p.withdrawal_days == 30
    assert p.invoice_fee_ore == 0


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"withdrawal_days": 13}, "T5.2"),
        ({"complaint_statutory_years": 2}, "T6.2"),
        ({"complaint_discovery_months": 1}, "T6.2"),
        ({"refund_deadline_days": 15}, "T5.8"),
        ({"bookkeeping_years": 6}, "R2.3"),
        ({"access_request_days": 31}, "R4.1"),
        ({"erasure_request_days": 31}, "R4.3"),
    ],
)
def test_statutory_floors_cannot_be_configured_away(change: dict[str, int], rule: str) -> None:
    with pytest.raises(InvalidPolicy):
        Policy(**change)  # type: ignore[arg-type]
    assert rule  # the rule the floor protects


@pytest.mark.parametrize(
    "change",
    [
        {"invoice_fee_ore": -1},
        {"invoice_fee_ore": 19.0},
        {"withdrawal_days": True},
        {"terms_version": " "},
        {"dispatch_working_days": (4, 1)},
        {"reminder_fee_vat_bp": 10001},
    ],
)
def test_impossible_numbers_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(InvalidPolicy):
        Policy(**change)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "tiers",
    [
        (),
        (CancellationTier(29, 0),),  # no "otherwise" tier
        (CancellationTier(29, 5000), CancellationTier(None, 2500)),  # fee drops nearer start
        (CancellationTier(15, 0), CancellationTier(29, 5000), CancellationTier(None, 10000)),
        (CancellationTier(29, 0), CancellationTier(None, 10001)),
    ],
)
def test_T9_3_bad_cancellation_tiers_are_refused(tiers: tuple[CancellationTier, ...]) -> None:
    with pytest.raises(InvalidPolicy):
        Policy(course_cancellation_tiers=tiers)


@pytest.mark.parametrize(
    ("days", "bp"), [(60, 0), (29, 0), (28, 5000), (15, 5000), (14, 10000), (0, 10000), (-5, 10000)]
)
def test_T9_3_default_tiers(days: int, bp: int) -> None:
    assert DEFAULT_POLICY.cancellation_keep_bp(days) == bp
