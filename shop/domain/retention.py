"""Retention decisions for the sweeper (privacy.md R2, R3, R4).

Given the facts about one record (a frozen dataclass, filled from live data
by the caller) and the sweep date, :func:`decide_retention` answers keep,
anonymise, purge or hold, with the rule ID that decided and the first day
the record may go. Nothing is anonymised or purged while a hold applies
(R3): the decision is then ``HOLD`` with the hold's rule ID, and the
sweeper reports it and leaves the record alone.

Periods (defaults; see :class:`~shop.domain.policy.Policy`):
R2.1 account and order history: more than 3 years after the last activity
(purchase, booking or login), then anonymised. R2.2 an account that never
bought and has no consent to be kept: anonymised 2 years after the last
login. R2.3 bookkeeping records: purged from 1 January of the year after
the 7 years that follow their fiscal year. R2.4 credit data: purged 3 months
after the invoice is settled, or with R2.1 if that is first. R2.5
participants: anonymised 12 months after the course ended unless the
booker keeps them. R2.6 proof of a withdrawn newsletter consent: purged
after 2 years. R2.7 marketing data: purged after 6 months. R2.8 records of
data requests: purged 3 years after they were closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from shop.domain.calendar import add_months, add_years
from shop.domain.errors import InvalidFacts
from shop.domain.policy import DEFAULT_POLICY, Policy


class RetentionAction(StrEnum):
    """What the sweeper does with a record."""

    KEEP = "keep"
    ANONYMISE = "anonymise"
    PURGE = "purge"
    HOLD = "hold"


class HoldReason(StrEnum):
    """R3: the legal holds; the value is the rule ID."""

    ORDER_IN_PROGRESS = "R3.1"
    UNPAID_INVOICE = "R3.2"
    OPEN_COMPLAINT = "R3.3"
    COURSE_OPEN = "R3.4"
    STAFF_HOLD = "R3.5"


@dataclass(frozen=True)
class RetentionDecision:
    """The sweeper's answer for one record.

    ``rule`` is the R2 rule that applies, or for ``HOLD`` the first hold's
    R3 rule ID; ``due_on`` is the first day the record may go (None when it
    cannot be known yet); ``holds`` lists every hold found.
    """

    action: RetentionAction
    rule: str
    due_on: date | None
    holds: tuple[HoldReason, ...] = ()


@dataclass(frozen=True)
class AccountFacts:
    """R2.1, R2.2: a customer account with its order history."""

    last_activity_on: date
    has_purchases: bool
    keep_consent: bool = False
    last_login_on: date | None = None
    anonymised: bool = False
    holds: frozenset[HoldReason] = frozenset()

    def __post_init__(self) -> None:
        if self.last_login_on is not None and self.last_login_on > self.last_activity_on:
            raise InvalidFacts("Senaste inloggning kan inte ligga efter senaste aktivitet.")


@dataclass(frozen=True)
class BookkeepingFacts:
    """R2.3: a bookkeeping record (receipt, invoice, credit note) of a fiscal year."""

    fiscal_year: int
    holds: frozenset[HoldReason] = frozenset()


@dataclass(frozen=True)
class CreditDataFacts:
    """R2.4: credit data of an invoice (organisation or identity number, check outcome)."""

    invoice_settled_on: date | None
    account_anonymised: bool = False
    holds: frozenset[HoldReason] = frozenset()


@dataclass(frozen=True)
class ParticipantFacts:
    """R2.5: a course participant's name and birth date."""

    course_ended_on: date
    booker_keeps: bool = False
    holds: frozenset[HoldReason] = frozenset()


@dataclass(frozen=True)
class ConsentWithdrawalFacts:
    """R2.6: the record that a newsletter consent was withdrawn (time, source)."""

    withdrawn_on: date
    holds: frozenset[HoldReason] = frozenset()


@dataclass(frozen=True)
class MarketingFacts:
    """R2.7: marketing or behaviour data tied to a person."""

    recorded_on: date
    holds: frozenset[HoldReason] = frozenset()


@dataclass(frozen=True)
class DataRequestFacts:
    """R2.8: the record of a data request (who asked, what was done, when)."""

    closed_on: date | None
    holds: frozenset[HoldReason] = frozenset()


RecordFacts = (
    AccountFacts
    | BookkeepingFacts
    | CreditDataFacts
    | ParticipantFacts
    | ConsentWithdrawalFacts
    | MarketingFacts
    | DataRequestFacts
)


def _not_after(d: date | None, sweep_on: date, what: str) -> None:
    if d is not None and d > sweep_on:
        raise InvalidFacts(f"{what} ({d.isoformat()}) ligger efter rensningsdagen.")


def _decide(
    action: RetentionAction,
    rule: str,
    due_on: date | None,
    sweep_on: date,
    holds: frozenset[HoldReason],
) -> RetentionDecision:
    if due_on is None or sweep_on < due_on:
        return RetentionDecision(RetentionAction.KEEP, rule, due_on, tuple(sorted(holds)))
    if holds:
        ordered = tuple(sorted(holds))
        return RetentionDecision(RetentionAction.HOLD, ordered[0].value, due_on, ordered)
    return RetentionDecision(action, rule, due_on)


def decide_account(
    facts: AccountFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.1, R2.2 (held by R3): anonymise an inactive account.

    A buyer (or an account kept by consent) is anonymised from the day
    *more than* 3 years have passed since the last activity (R2.1). An
    account that never bought and has no consent to be kept is anonymised
    2 years after the last login, or the last activity if it never logged in
    (R2.2). An account already anonymised is kept as it is.
    """
    _not_after(facts.last_activity_on, sweep_on, "Senaste aktivitet")
    if facts.anonymised:
        return RetentionDecision(RetentionAction.KEEP, "R2.1", None)
    if not facts.has_purchases and not facts.keep_consent:
        last_login = facts.last_login_on or facts.last_activity_on
        due = add_years(last_login, policy.never_bought_years)
        return _decide(RetentionAction.ANONYMISE, "R2.2", due, sweep_on, facts.holds)
    due = add_years(facts.last_activity_on, policy.account_inactive_years) + timedelta(days=1)
    return _decide(RetentionAction.ANONYMISE, "R2.1", due, sweep_on, facts.holds)


def decide_bookkeeping(
    facts: BookkeepingFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.3: purge a bookkeeping record from 1 January after 7 years from its fiscal year's end.

    Records of 2018 are purged from 1 January 2026.
    """
    if type(facts.fiscal_year) is not int or facts.fiscal_year > sweep_on.year:
        raise InvalidFacts("Räkenskapsåret ligger efter rensningsdagen.")
    due = date(facts.fiscal_year + policy.bookkeeping_years + 1, 1, 1)
    return _decide(RetentionAction.PURGE, "R2.3", due, sweep_on, facts.holds)


def decide_credit_data(
    facts: CreditDataFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.4: purge credit data 3 months after the invoice is settled, or with R2.1.

    An unsettled invoice is a hold (R3.2). The credit-check outcome alone
    stays with the invoice as a bookkeeping record (R2.3), not here.
    """
    _not_after(facts.invoice_settled_on, sweep_on, "Betalningsdagen")
    holds = facts.holds
    if facts.invoice_settled_on is None:
        holds = holds | {HoldReason.UNPAID_INVOICE}
    if facts.account_anonymised:
        return _decide(RetentionAction.PURGE, "R2.1", sweep_on, sweep_on, holds)
    due = (
        None
        if facts.invoice_settled_on is None
        else add_months(facts.invoice_settled_on, policy.credit_data_months_after_settled)
    )
    return _decide(RetentionAction.PURGE, "R2.4", due, sweep_on, holds)


def decide_participant(
    facts: ParticipantFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.5: anonymise a participant 12 months after the course ended.

    Kept while the booker is active and has chosen to keep them. A course
    not yet ended (``course_ended_on`` after the sweep day) is a hold (R3.4).
    """
    holds = facts.holds
    if facts.course_ended_on >= sweep_on:
        holds = holds | {HoldReason.COURSE_OPEN}
    if facts.booker_keeps:
        return RetentionDecision(RetentionAction.KEEP, "R2.5", None, tuple(sorted(holds)))
    due = add_months(facts.course_ended_on, policy.participants_months_after_course)
    return _decide(RetentionAction.ANONYMISE, "R2.5", due, sweep_on, holds)


def decide_consent_withdrawal(
    facts: ConsentWithdrawalFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.6: purge the proof of a withdrawn newsletter consent after 2 years."""
    _not_after(facts.withdrawn_on, sweep_on, "Återkallelsen")
    due = add_years(facts.withdrawn_on, policy.consent_withdrawal_proof_years)
    return _decide(RetentionAction.PURGE, "R2.6", due, sweep_on, facts.holds)


def decide_marketing(
    facts: MarketingFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.7: purge marketing and behaviour data tied to a person after 6 months."""
    _not_after(facts.recorded_on, sweep_on, "Registreringsdagen")
    due = add_months(facts.recorded_on, policy.marketing_months)
    return _decide(RetentionAction.PURGE, "R2.7", due, sweep_on, facts.holds)


def decide_data_request(
    facts: DataRequestFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.8: purge the record of a data request 3 years after it was closed (kept while open)."""
    _not_after(facts.closed_on, sweep_on, "Avslutsdagen")
    due = None if facts.closed_on is None else add_years(facts.closed_on, policy.data_request_years)
    return _decide(RetentionAction.PURGE, "R2.8", due, sweep_on, facts.holds)


def decide_retention(
    facts: RecordFacts, sweep_on: date, *, policy: Policy = DEFAULT_POLICY
) -> RetentionDecision:
    """R2.1–R2.8, R3.1–R3.5: the decision for any record, by the kind of its facts."""
    if isinstance(facts, AccountFacts):
        return decide_account(facts, sweep_on, policy=policy)
    if isinstance(facts, BookkeepingFacts):
        return decide_bookkeeping(facts, sweep_on, policy=policy)
    if isinstance(facts, CreditDataFacts):
        return decide_credit_data(facts, sweep_on, policy=policy)
    if isinstance(facts, ParticipantFacts):
        return decide_participant(facts, sweep_on, policy=policy)
    if isinstance(facts, ConsentWithdrawalFacts):
        return decide_consent_withdrawal(facts, sweep_on, policy=policy)
    if isinstance(facts, MarketingFacts):
        return decide_marketing(facts, sweep_on, policy=policy)
    if isinstance(facts, DataRequestFacts):
        return decide_data_request(facts, sweep_on, policy=policy)
    raise TypeError(f"no retention rule for {type(facts).__name__}")


def order_is_held(
    *,
    all_delivered: bool,
    last_day_to_withdraw: date | None,
    case_in_progress: bool,
    sweep_on: date,
) -> bool:
    """R3.1: an order not yet delivered, within its withdrawal period (T5), or with a
    withdrawal, return or refund in progress holds its customer's data."""
    if not all_delivered or case_in_progress:
        return True
    return last_day_to_withdraw is not None and sweep_on <= last_day_to_withdraw


class DataRequestKind(StrEnum):
    """R4: the kinds of data request with a deadline."""

    ACCESS = "access"
    ERASURE = "erasure"


def data_request_due_on(
    kind: DataRequestKind, received_on: date, *, policy: Policy = DEFAULT_POLICY
) -> date:
    """R4.1, R4.3: the last day to answer: access within 30 days, erasure within 7."""
    days = (
        policy.access_request_days
        if kind is DataRequestKind.ACCESS
        else policy.erasure_request_days
    )
    return received_on + timedelta(days=days)
