"""Complaints, reklamation (T6).

A fault reported within 2 months of receipt is handled by the normal desk
(T6.1). A consumer's later complaint is still taken when it is within 3
years of receipt and within 2 months of discovering the fault
(konsumentköplagen): it is flagged for staff review, never refused by the
system alone (T6.2). Organisations have the terms' 2 months only. Every
window that ends on a Saturday, Sunday, public holiday or period-end eve
runs to the next working day (lag 1930:173, applied to the buyer's benefit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shop.domain.buyers import BuyerKind
from shop.domain.calendar import (
    add_months,
    add_years,
    format_date_sv,
    next_working_day_on_or_after,
)
from shop.domain.errors import ComplaintOutOfTime, InvalidFacts
from shop.domain.policy import DEFAULT_POLICY, Policy


class ComplaintWindow(StrEnum):
    """Which window a complaint falls in (T6.1, T6.2)."""

    NORMAL = "normal"
    STATUTORY = "statutory"
    OUT_OF_TIME = "out_of_time"


@dataclass(frozen=True)
class ComplaintDecision:
    """The window of a complaint, the rule that decided, and what staff must do (T6)."""

    window: ComplaintWindow
    rule: str
    needs_review: bool
    reason_sv: str
    normal_last_day: date


def normal_complaint_last_day(received_on: date, *, policy: Policy = DEFAULT_POLICY) -> date:
    """T6.1: the last day of the normal window (2 months from receipt, to a working day)."""
    return next_working_day_on_or_after(add_months(received_on, policy.complaint_normal_months))


def statutory_complaint_last_day(
    received_on: date, discovered_on: date, *, policy: Policy = DEFAULT_POLICY
) -> date:
    """T6.2: the last day of a consumer's statutory window.

    The earlier of 3 years from receipt and 2 months from discovery, each
    moved to a working day.
    """
    absolute = next_working_day_on_or_after(
        add_years(received_on, policy.complaint_statutory_years)
    )
    from_discovery = next_working_day_on_or_after(
        add_months(discovered_on, policy.complaint_discovery_months)
    )
    return min(absolute, from_discovery)


def complaint_window(
    buyer_kind: BuyerKind,
    received_on: date,
    reported_on: date,
    discovered_on: date | None = None,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> ComplaintDecision:
    """T6.1, T6.2: is the complaint in the normal window, the statutory one, or out of time?

    ``discovered_on`` (when the buyer found the fault) defaults to the day of
    the report, the reading most favourable to the consumer. Statutory and
    a consumer's out-of-time complaints are flagged for staff review.
    """
    if reported_on < received_on:
        raise InvalidFacts("Reklamationen kan inte komma före mottagandet av varan.")
    if discovered_on is None:
        discovered_on = reported_on
    if not received_on <= discovered_on <= reported_on:
        raise InvalidFacts("Felet måste upptäckas mellan mottagandet och reklamationen.")
    normal_last = normal_complaint_last_day(received_on, policy=policy)
    if reported_on <= normal_last:
        return ComplaintDecision(
            ComplaintWindow.NORMAL,
            "T6.1",
            False,
            "Reklamationen har kommit in i tid.",
            normal_last,
        )
    is_consumer = buyer_kind is BuyerKind.CONSUMER
    if is_consumer and reported_on <= statutory_complaint_last_day(
        received_on, discovered_on, policy=policy
    ):
        return ComplaintDecision(
            ComplaintWindow.STATUTORY,
            "T6.2",
            True,
            "Reklamationen har kommit in efter 2 månader men inom konsumentköplagens "
            "frister. Vår personal går igenom den.",
            normal_last,
        )
    return ComplaintDecision(
        ComplaintWindow.OUT_OF_TIME,
        "T6.2" if is_consumer else "T6.1",
        is_consumer,
        f"Reklamationen har kommit in för sent: sista dag var {format_date_sv(normal_last)}."
        if not is_consumer
        else "Reklamationen har kommit in för sent enligt konsumentköplagen. "
        "Vår personal går igenom den.",
        normal_last,
    )


def require_complaint_in_time(
    buyer_kind: BuyerKind,
    received_on: date,
    reported_on: date,
    discovered_on: date | None = None,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> ComplaintDecision:
    """T6.1, T6.2: the decision, or :class:`ComplaintOutOfTime` when out of every window.

    For a consumer the service should still hand the case to staff (T6.2:
    never refused by the system alone); ``error.rule`` tells which rule.
    """
    decision = complaint_window(buyer_kind, received_on, reported_on, discovered_on, policy=policy)
    if decision.window is ComplaintWindow.OUT_OF_TIME:
        raise ComplaintOutOfTime(decision.reason_sv, rule=decision.rule)
    return decision
