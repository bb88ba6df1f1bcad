"""The retention sweeper (privacy.md S1–S7) and the legal holds it respects (R3).

:func:`sweep` runs every rule in :data:`RULES` for one day. Each rule reads
its candidates in batches (keyset by id), computes the facts of the batch
with a few set-based queries (holds, purchases, consent), asks the domain
(:mod:`shop.domain.retention`) for each record's decision, then acts on the
whole batch with set-based SQL (:mod:`shop.services.anonymisation`), writes
one log row per record (S3: rule ID and pseudonymous code, no personal
data) and commits: a batch is one transaction (S5). Anonymised records are
no longer candidates, so a second run the same day does nothing (S4); a run
killed mid-batch leaves that batch untouched, and the next run does it.

Only one sweep runs at a time (S4): a PostgreSQL advisory lock, or on SQLite
a lock row naming the host and process (a dead process loses it).

Adding a table: a new hold is one more entry in :data:`ORDER_HOLDS` or
:data:`CUSTOMER_HOLDS` (an SQL condition on the order or the customer); a new
kind of record is one more function in :data:`RULES` built like
:func:`_sweep_data_requests` (candidates by keyset, facts, ``decide_*`` from
the domain, one set-based statement, ``ctx.log``, ``ctx.commit``). Courses:
:func:`_course_booking_open` (R3.4) and :func:`_sweep_participants` (R2.5).
"""

from __future__ import annotations

import os
import signal
import socket
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import ColumnElement, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from shop.clock import STOCKHOLM, local_date, utcnow
from shop.domain.calendar import add_months, add_years
from shop.domain.lifecycle import BookingStatus, InvoiceStatus, OrderStatus, ReturnStatus
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.domain.retention import (
    AccountFacts,
    BookkeepingFacts,
    ConsentWithdrawalFacts,
    CreditDataFacts,
    DataRequestFacts,
    HoldReason,
    ParticipantFacts,
    RetentionAction,
    RetentionDecision,
    decide_account,
    decide_bookkeeping,
    decide_consent_withdrawal,
    decide_credit_data,
    decide_data_request,
    decide_participant,
)
from shop.extensions import db
from shop.models import (
    BookkeepingRecord,
    Complaint,
    Consent,
    CourseBooking,
    CourseParticipant,
    CourseRefund,
    CourseSession,
    CreditCheck,
    Customer,
    DataRequest,
    Invoice,
    LegalHold,
    Order,
    PendingRegistration,
    Refund,
    RetentionLock,
    RetentionLogEntry,
    RetentionRun,
    RoleGrant,
    Shipment,
    Withdrawal,
)
from shop.services.anonymisation import (
    ANONYMOUS_BIRTH_DATE,
    anonymise_customers,
    anonymise_orders,
    anonymise_participants,
    id_in,
)
from shop.services.bookkeeping import ALLOW_PURGE
from shop.services.complaints import remove_unreferenced_photos

#: App config key → Policy field: the retention policy as configuration (R2, R4).
POLICY_SETTINGS: dict[str, tuple[str, str]] = {
    "RETENTION_ACCOUNT_INACTIVE_YEARS": ("account_inactive_years", "R2.1"),
    "RETENTION_NEVER_BOUGHT_YEARS": ("never_bought_years", "R2.2"),
    "RETENTION_BOOKKEEPING_YEARS": ("bookkeeping_years", "R2.3"),
    "RETENTION_CREDIT_DATA_MONTHS": ("credit_data_months_after_settled", "R2.4"),
    "RETENTION_PARTICIPANT_MONTHS": ("participants_months_after_course", "R2.5"),
    "RETENTION_CONSENT_PROOF_YEARS": ("consent_withdrawal_proof_years", "R2.6"),
    "RETENTION_MARKETING_MONTHS": ("marketing_months", "R2.7"),
    "RETENTION_DATA_REQUEST_YEARS": ("data_request_years", "R2.8"),
    "DATA_REQUEST_ACCESS_DAYS": ("access_request_days", "R4.1"),
    "DATA_REQUEST_ERASURE_DAYS": ("erasure_request_days", "R4.3"),
}

LOCK_NAME = "retention_sweep"
#: pg_try_advisory_lock key: "RETN" as a number.
ADVISORY_KEY = 0x5245544E
#: A lock row older than this is taken over whatever its holder.
LOCK_TTL = timedelta(hours=6)


def policy_from_config(config: Any = None) -> Policy:
    """The shop's Policy with the app config's retention settings (InvalidPolicy if unlawful)."""
    config = current_app.config if config is None else config
    changes = {
        name: int(config[key]) for key, (name, _rule) in POLICY_SETTINGS.items() if key in config
    }
    return replace(DEFAULT_POLICY, **changes)  # type: ignore[arg-type]


# --- Holds (R3) --------------------------------------------------------------------------------

#: Orders not yet delivered (R3.1): everything before delivered or an end.
UNDELIVERED = (
    OrderStatus.PENDING_PAYMENT.value,
    OrderStatus.CONFIRMED.value,
    OrderStatus.PARTLY_SHIPPED.value,
    OrderStatus.SHIPPED.value,
    OrderStatus.RETURNED_TO_SENDER.value,
)
UNPAID_INVOICE = (
    InvoiceStatus.OPEN.value,
    InvoiceStatus.REMINDED.value,
    InvoiceStatus.COLLECTION.value,
)
OPEN_REFUND = ("pending", "sent", "failed")


def _order_in_progress(sweep_on: date, policy: Policy) -> ColumnElement[bool]:
    """R3.1 (domain: ``order_is_held``): undelivered, in the withdrawal period, or a case open."""
    last_delivery_held = sweep_on - timedelta(days=policy.withdrawal_days)
    return sa.or_(
        Order.status.in_(UNDELIVERED),
        exists().where(Shipment.order_id == Order.id, Shipment.delivered_on >= last_delivery_held),
        exists().where(
            Withdrawal.order_id == Order.id, Withdrawal.status != ReturnStatus.REFUNDED.value
        ),
        exists().where(Refund.order_id == Order.id, Refund.status.in_(OPEN_REFUND)),
    )


def _order_unpaid_invoice(sweep_on: date, policy: Policy) -> ColumnElement[bool]:
    """R3.2: an unpaid invoice, reminder or debt-collection case."""
    return exists().where(Invoice.order_id == Order.id, Invoice.status.in_(UNPAID_INVOICE))


def _order_open_complaint(sweep_on: date, policy: Policy) -> ColumnElement[bool]:
    """R3.3: a complaint staff have not decided yet."""
    return exists().where(Complaint.order_id == Order.id, Complaint.status == "open")


#: Holds on one order: (reason, SQL condition on ``Order``).
ORDER_HOLDS: list[tuple[HoldReason, Callable[[date, Policy], ColumnElement[bool]]]] = [
    (HoldReason.ORDER_IN_PROGRESS, _order_in_progress),
    (HoldReason.UNPAID_INVOICE, _order_unpaid_invoice),
    (HoldReason.OPEN_COMPLAINT, _order_open_complaint),
]


def _staff_hold(sweep_on: date, policy: Policy) -> ColumnElement[bool]:
    """R3.5: a hold set by staff, not released."""
    return exists().where(LegalHold.customer_id == Customer.id, LegalHold.released_at.is_(None))


def _local_day_start(day: date) -> datetime:
    """Midnight in Stockholm of ``day``, in UTC: a session ending at or after it ends on
    ``day`` or later (course days are Stockholm dates)."""
    return datetime.combine(day, time(), tzinfo=STOCKHOLM).astimezone(UTC)


def _course_ends(course_id: Any) -> Any:
    """The end of a course's last session (SQL scalar subquery)."""
    return (
        select(sa.func.max(CourseSession.ends_at))
        .where(CourseSession.course_id == course_id)
        .scalar_subquery()
    )


def _unpaid_course_fee() -> ColumnElement[bool]:
    """An unpaid course invoice (the booking's current one) of a booking (R3.4)."""
    return exists().where(
        Invoice.id == CourseBooking.invoice_id, Invoice.status.in_(UNPAID_INVOICE)
    )


def _course_booking_open(sweep_on: date, policy: Policy) -> ColumnElement[bool]:
    """R3.4: a booking whose course has not ended (its last day is the sweep day or later),
    an unpaid course fee, or a course fee being paid back to the booker. A declined booking
    never held a seat and holds nothing."""
    not_ended = sa.and_(
        CourseBooking.status != BookingStatus.DECLINED.value,
        exists().where(
            CourseSession.course_id == CourseBooking.course_id,
            CourseSession.ends_at >= _local_day_start(sweep_on),
        ),
    )
    refund_open = exists().where(
        CourseRefund.booking_id == CourseBooking.id, CourseRefund.status == "pending"
    )
    return exists().where(
        CourseBooking.customer_id == Customer.id,
        sa.or_(not_ended, _unpaid_course_fee(), refund_open),
    )


#: Holds on a customer as a whole: (reason, SQL condition on ``Customer``).
CUSTOMER_HOLDS: list[tuple[HoldReason, Callable[[date, Policy], ColumnElement[bool]]]] = [
    (HoldReason.COURSE_OPEN, _course_booking_open),
    (HoldReason.STAFF_HOLD, _staff_hold),
]


def order_holds(
    order_ids: Sequence[int], sweep_on: date, policy: Policy
) -> dict[int, set[HoldReason]]:
    """The holds on each of these orders (one query per kind of hold)."""
    found: dict[int, set[HoldReason]] = {}
    if not order_ids:
        return found
    for reason, condition in ORDER_HOLDS:
        for order_id in db.session.scalars(
            select(Order.id).where(id_in(Order.id, order_ids), condition(sweep_on, policy))
        ):
            found.setdefault(order_id, set()).add(reason)
    return found


def customer_holds(
    customer_ids: Sequence[int], sweep_on: date, policy: Policy
) -> dict[int, set[HoldReason]]:
    """The holds on each of these customers: on the account itself or on any of its orders."""
    found: dict[int, set[HoldReason]] = {}
    if not customer_ids:
        return found
    for reason, condition in CUSTOMER_HOLDS:
        for customer_id in db.session.scalars(
            select(Customer.id).where(id_in(Customer.id, customer_ids), condition(sweep_on, policy))
        ):
            found.setdefault(customer_id, set()).add(reason)
    for reason, condition in ORDER_HOLDS:
        for order_customer_id in db.session.scalars(
            select(Order.customer_id)
            .where(id_in(Order.customer_id, customer_ids), condition(sweep_on, policy))
            .distinct()
        ):
            if order_customer_id is not None:
                found.setdefault(order_customer_id, set()).add(reason)
    return found


# --- The run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    """One record in the report (S2): the same shape for a dry run and a real one."""

    rule: str
    action: str
    subject_type: str
    subject: str


class SweepLocked(Exception):
    """Another sweep holds the lock (S4)."""


@dataclass
class SweepContext:
    sweep_on: date
    now: datetime
    policy: Policy
    dry_run: bool
    batch_size: int
    emit: Callable[[ReportLine], None]
    run: RetentionRun | None = None
    counts: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    #: Test hook (S5): SIGKILL this process in the middle of this batch number.
    kill_in_batch: int | None = None

    def log(
        self, rule: str, action: RetentionAction, subject_type: str, subjects: Sequence[str]
    ) -> None:
        """Report and (on a real run) log these records, one row each, in the batch."""
        if not subjects:
            return
        self.counts[f"{rule} {action.value}"] += len(subjects)
        for subject in subjects:
            self.emit(ReportLine(rule, action.value, subject_type, subject))
        if self.run is None:
            return
        if db.engine.dialect.name == "postgresql":
            # One statement with one array parameter: the log is as set-based as the work.
            db.session.execute(
                sa.text(
                    "INSERT INTO retention_log (run_id, at, rule_id, action, subject_type, subject)"
                    " SELECT :run, :at, :rule, :action, :type,"
                    " unnest(CAST(:subjects AS varchar[]))"
                ),
                {
                    "run": self.run.id,
                    "at": self.now,
                    "rule": rule,
                    "action": action.value,
                    "type": subject_type,
                    "subjects": list(subjects),
                },
            )
            return
        db.session.execute(
            insert(RetentionLogEntry),
            [
                {
                    "run_id": self.run.id,
                    "at": self.now,
                    "rule_id": rule,
                    "action": action.value,
                    "subject_type": subject_type,
                    "subject": subject,
                }
                for subject in subjects
            ],
        )

    def midway(self) -> None:
        """Called after a batch's changes are written and before its commit (the kill hook)."""
        if self.kill_in_batch is not None and self.batches + 1 == self.kill_in_batch:
            os.kill(os.getpid(), signal.SIGKILL)

    def commit(self) -> None:
        """End the batch: one transaction (S5), the run's counts saved with it."""
        self.batches += 1
        if self.run is None:
            db.session.rollback()
            return
        db.session.execute(
            update(RetentionRun)
            .where(RetentionRun.id == self.run.id)
            .values(counts=dict(self.counts))
        )
        db.session.commit()


def _pages(query: Any, id_column: Any, batch_size: int) -> Iterator[list[Any]]:
    """Keyset pages of ``query`` (rows whose first column is ``id_column``), by id."""
    after = 0
    while True:
        rows = list(
            db.session.execute(query.where(id_column > after).order_by(id_column).limit(batch_size))
        )
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _day_start(day: date) -> datetime:
    """Midnight UTC of ``day``: a prefilter bound, the domain decides on the exact date."""
    return datetime.combine(day, time(), tzinfo=UTC)


# --- Rules -----------------------------------------------------------------------------------


def _sweep_accounts(ctx: SweepContext) -> None:
    """R2.1, R2.2: inactive accounts with their order history, unless held (R3)."""
    policy = ctx.policy
    cutoff = add_years(ctx.sweep_on, -min(policy.never_bought_years, policy.account_inactive_years))
    staff = exists().where(RoleGrant.customer_id == Customer.id)
    query = select(
        Customer.id,
        Customer.pseudonym,
        Customer.last_activity_on,
        Customer.last_login_at,
        Customer.created_at,
    ).where(
        Customer.anonymised_at.is_(None),
        ~staff,
        sa.or_(
            Customer.last_activity_on.is_(None),
            Customer.last_activity_on <= cutoff,
            Customer.last_login_at < _day_start(cutoff + timedelta(days=1)),
        ),
    )
    bought = sa.or_(
        exists().where(
            Order.customer_id == Customer.id,
            Order.status.not_in((OrderStatus.PENDING_PAYMENT.value, OrderStatus.CANCELLED.value)),
        ),
        # A course booking accepted by the shop is a purchase too (R2.1).
        exists().where(
            CourseBooking.customer_id == Customer.id,
            CourseBooking.status.not_in(
                (BookingStatus.PENDING.value, BookingStatus.DECLINED.value)
            ),
        ),
    )
    for rows in _pages(query, Customer.id, ctx.batch_size):
        ids = [row.id for row in rows]
        buyers = set(db.session.scalars(select(Customer.id).where(id_in(Customer.id, ids), bought)))
        keepers = _subscribers(ids)
        holds = customer_holds(ids, ctx.sweep_on, policy)
        go: dict[str, list[int]] = {}
        held: dict[str, list[str]] = {}
        for row in rows:
            last_activity = row.last_activity_on or local_date(row.created_at)
            last_login = local_date(row.last_login_at) if row.last_login_at else None
            if last_login is not None and last_login > last_activity:
                last_activity = last_login
            if last_activity > ctx.sweep_on:
                continue
            decision = decide_account(
                AccountFacts(
                    last_activity_on=last_activity,
                    has_purchases=row.id in buyers,
                    keep_consent=row.id in keepers,
                    last_login_on=last_login,
                    holds=frozenset(holds.get(row.id, ())),
                ),
                ctx.sweep_on,
                policy=policy,
            )
            _sort(decision, row.id, row.pseudonym, go, held)
        doomed = [i for ids_ in go.values() for i in ids_]
        if doomed and not ctx.dry_run:
            anonymise_customers(doomed, now=ctx.now)
            ctx.midway()
        codes = {row.id: row.pseudonym for row in rows}
        for rule, rule_ids in go.items():
            ctx.log(rule, RetentionAction.ANONYMISE, "customer", [codes[i] for i in rule_ids])
        for rule, subjects in held.items():
            ctx.log(rule, RetentionAction.HOLD, "customer", subjects)
        ctx.commit()


def _subscribers(customer_ids: Sequence[int]) -> set[int]:
    """Customers whose latest consent event (per purpose) is "given": kept under R2.2."""
    latest: dict[tuple[int | None, str], tuple[datetime, str]] = {}
    rows = db.session.execute(
        select(Consent.customer_id, Consent.purpose, Consent.at, Consent.action).where(
            id_in(Consent.customer_id, customer_ids)
        )
    )
    for customer_id, purpose, at, action in rows:
        key = (customer_id, purpose)
        if key not in latest or latest[key][0] <= at:
            latest[key] = (at, action)
    return {
        key[0] for key, (_at, action) in latest.items() if action == "given" and key[0] is not None
    }


def _sort(
    decision: RetentionDecision,
    record_id: int,
    code: str,
    go: dict[str, list[int]],
    held: dict[str, list[str]],
) -> None:
    if decision.action in (RetentionAction.ANONYMISE, RetentionAction.PURGE):
        go.setdefault(decision.rule, []).append(record_id)
    elif decision.action is RetentionAction.HOLD:
        for reason in decision.holds:
            held.setdefault(reason.value, []).append(code)


def _sweep_guest_orders(ctx: SweepContext) -> None:
    """R2.1 for guest orders: the order is the whole history; anonymised 3 years after it."""
    policy = ctx.policy
    cutoff = add_years(ctx.sweep_on, -policy.account_inactive_years)
    query = select(Order.id, Order.placed_at).where(
        Order.customer_id.is_(None),
        Order.anonymised_at.is_(None),
        Order.placed_at < _day_start(cutoff),
    )
    for rows in _pages(query, Order.id, ctx.batch_size):
        ids = [row.id for row in rows]
        holds = order_holds(ids, ctx.sweep_on, policy)
        go: dict[str, list[int]] = {}
        held: dict[str, list[str]] = {}
        for row in rows:
            decision = decide_account(
                AccountFacts(
                    last_activity_on=local_date(row.placed_at),
                    has_purchases=True,
                    holds=frozenset(holds.get(row.id, ())),
                ),
                ctx.sweep_on,
                policy=policy,
            )
            _sort(decision, row.id, f"O-{row.id}", go, held)
        doomed = [i for ids_ in go.values() for i in ids_]
        if doomed and not ctx.dry_run:
            anonymise_orders(doomed, now=ctx.now)
            ctx.midway()
        for rule, rule_ids in go.items():
            ctx.log(rule, RetentionAction.ANONYMISE, "order", [f"O-{i}" for i in rule_ids])
        for rule, subjects in held.items():
            ctx.log(rule, RetentionAction.HOLD, "order", subjects)
        ctx.commit()


def _sweep_waiting_erasures(ctx: SweepContext) -> None:
    """R4.3: erasures that waited for a hold: what is free now goes, then the request closes."""
    from shop.services import data_requests

    query = select(DataRequest.id, DataRequest.customer_id).where(
        DataRequest.kind == "erasure", DataRequest.status == "waiting"
    )
    for rows in _pages(query, DataRequest.id, ctx.batch_size):
        for row in rows:
            request = db.session.get(DataRequest, row.id)
            customer = db.session.get(Customer, row.customer_id) if row.customer_id else None
            if request is None:
                continue
            outcome = data_requests.continue_erasure(
                request,
                customer,
                today=ctx.sweep_on,
                now=ctx.now,
                policy=ctx.policy,
                dry_run=ctx.dry_run,
            )
            code = customer.pseudonym if customer is not None else f"request-{row.id}"
            if outcome.done:
                ctx.log("R4.3", RetentionAction.ANONYMISE, "customer", [code])
            else:
                for item in outcome.waiting:
                    ctx.log(item.rule, RetentionAction.HOLD, item.kind, [item.number])
        if not ctx.dry_run:
            ctx.midway()
        ctx.commit()


def _sweep_credit_data(ctx: SweepContext) -> None:
    """R2.4: the organisation or identity number of a credit check, 3 months after settlement."""
    policy = ctx.policy
    settled = (
        select(sa.func.max(Invoice.paid_on))
        .where(Invoice.order_id == CreditCheck.order_id)
        .scalar_subquery()
    )
    unpaid = exists().where(
        Invoice.order_id == CreditCheck.order_id, Invoice.status.in_(UNPAID_INVOICE)
    )
    query = select(CreditCheck.id, CreditCheck.checked_at, settled.label("settled"), unpaid).where(
        sa.or_(CreditCheck.organisation_number.is_not(None), CreditCheck.reason != "")
    )
    for rows in _pages(query, CreditCheck.id, ctx.batch_size):
        go: dict[str, list[int]] = {}
        held: dict[str, list[str]] = {}
        for row in rows:
            # A check without an invoice (declined, or not invoiced) is settled when made.
            settled_on = None if row[3] else (row.settled or local_date(row.checked_at))
            if settled_on is not None and settled_on > ctx.sweep_on:
                continue
            decision = decide_credit_data(
                CreditDataFacts(invoice_settled_on=settled_on), ctx.sweep_on, policy=policy
            )
            _sort(decision, row.id, f"credit_check {row.id}", go, held)
        doomed = [i for ids_ in go.values() for i in ids_]
        if doomed and not ctx.dry_run:
            db.session.execute(
                update(CreditCheck)
                .where(id_in(CreditCheck.id, doomed))
                .values(organisation_number=None, reason="")
            )
        for rule, rule_ids in go.items():
            ctx.log(rule, RetentionAction.PURGE, "credit_check", [str(i) for i in rule_ids])
        for rule, subjects in held.items():
            ctx.log(rule, RetentionAction.HOLD, "credit_check", subjects)
        ctx.commit()


def _sweep_bookkeeping(ctx: SweepContext) -> None:
    """R2.3: bookkeeping records purged from 1 January after 7 years from their fiscal year."""
    last_year = ctx.sweep_on.year - ctx.policy.bookkeeping_years - 1
    query = select(
        BookkeepingRecord.id,
        BookkeepingRecord.kind,
        BookkeepingRecord.number,
        BookkeepingRecord.fiscal_year,
    ).where(BookkeepingRecord.fiscal_year <= last_year)
    db.session.info[ALLOW_PURGE] = True
    try:
        for rows in _pages(query, BookkeepingRecord.id, ctx.batch_size):
            doomed: list[int] = []
            names: list[str] = []
            for row in rows:
                decision = decide_bookkeeping(
                    BookkeepingFacts(fiscal_year=row.fiscal_year), ctx.sweep_on, policy=ctx.policy
                )
                if decision.action is RetentionAction.PURGE:
                    doomed.append(row.id)
                    names.append(f"{row.kind} {row.number}")
            if doomed and not ctx.dry_run:
                db.session.execute(
                    update(Refund)
                    .where(id_in(Refund.credit_note_id, doomed))
                    .values(credit_note_id=None)
                )
                db.session.execute(
                    delete(BookkeepingRecord)
                    .where(id_in(BookkeepingRecord.id, doomed))
                    .execution_options(synchronize_session=False)
                )
            ctx.log("R2.3", RetentionAction.PURGE, "bookkeeping_record", names)
            ctx.commit()
    finally:
        db.session.info.pop(ALLOW_PURGE, None)


def _sweep_consent_proof(ctx: SweepContext) -> None:
    """R2.6: the proof of a withdrawn consent (and the events before it) goes after 2 years."""
    cutoff = add_years(ctx.sweep_on, -ctx.policy.consent_withdrawal_proof_years)
    query = select(Consent.id, Consent.at, Consent.email, Consent.purpose).where(
        Consent.action == "withdrawn", Consent.at < _day_start(cutoff + timedelta(days=1))
    )
    for rows in _pages(query, Consent.id, ctx.batch_size):
        doomed = []
        for row in rows:
            decision = decide_consent_withdrawal(
                ConsentWithdrawalFacts(withdrawn_on=local_date(row.at)),
                ctx.sweep_on,
                policy=ctx.policy,
            )
            if decision.action is RetentionAction.PURGE:
                doomed.append(row)
        if doomed and not ctx.dry_run:
            for row in doomed:
                db.session.execute(
                    delete(Consent).where(
                        Consent.email == row.email,
                        Consent.purpose == row.purpose,
                        Consent.at <= row.at,
                    )
                )
        ctx.log("R2.6", RetentionAction.PURGE, "consent", [str(row.id) for row in doomed])
        ctx.commit()


def _sweep_data_requests(ctx: SweepContext) -> None:
    """R2.8: records of data requests, 3 years after they were closed."""
    cutoff = add_years(ctx.sweep_on, -ctx.policy.data_request_years)
    query = select(DataRequest.id, DataRequest.closed_on).where(
        DataRequest.status == "done", DataRequest.closed_on <= cutoff
    )
    for rows in _pages(query, DataRequest.id, ctx.batch_size):
        doomed = [
            row.id
            for row in rows
            if decide_data_request(
                DataRequestFacts(closed_on=row.closed_on), ctx.sweep_on, policy=ctx.policy
            ).action
            is RetentionAction.PURGE
        ]
        if doomed and not ctx.dry_run:
            db.session.execute(delete(DataRequest).where(id_in(DataRequest.id, doomed)))
        ctx.log("R2.8", RetentionAction.PURGE, "data_request", [str(i) for i in doomed])
        ctx.commit()


def _sweep_pending_registrations(ctx: SweepContext) -> None:
    """R2.2 at its smallest: a registration never activated is an account that never came to
    be; its details go once its link has expired (the day after, so no link still works)."""
    cutoff = _day_start(ctx.sweep_on)
    query = select(PendingRegistration.id).where(PendingRegistration.expires_at < cutoff)
    for rows in _pages(query, PendingRegistration.id, ctx.batch_size):
        doomed = [row.id for row in rows]
        if not ctx.dry_run:
            db.session.execute(
                delete(PendingRegistration).where(id_in(PendingRegistration.id, doomed))
            )
        ctx.log("R2.2", RetentionAction.PURGE, "pending_registration", [str(i) for i in doomed])
        ctx.commit()


def _sweep_participants(ctx: SweepContext) -> None:
    """R2.5: participants' names and birth dates, 12 months after the course ended.

    The period is the policy's (``RETENTION_PARTICIPANT_MONTHS``); an anonymised participant
    (born :data:`ANONYMOUS_BIRTH_DATE`) is no longer a candidate, so a second run does nothing.

    Held while the booking's course fee is unpaid (R3.4) or staff hold the booker (R3.5).
    No participant is kept by the booker's choice: the shop offers no such choice, so
    ``booker_keeps`` is never set.
    """
    policy = ctx.policy
    latest_end = add_months(ctx.sweep_on, -policy.participants_months_after_course)
    ends = _course_ends(CourseBooking.course_id)
    query = (
        select(
            CourseParticipant.id,
            ends.label("ends_at"),
            CourseBooking.customer_id,
            _unpaid_course_fee().label("unpaid"),
        )
        .join(CourseBooking, CourseBooking.id == CourseParticipant.booking_id)
        .where(
            CourseParticipant.birth_date != ANONYMOUS_BIRTH_DATE,
            # A prefilter: month ends clamp (31 → 28), the domain decides on the exact day.
            ends < _local_day_start(latest_end + timedelta(days=4)),
        )
    )
    for rows in _pages(query, CourseParticipant.id, ctx.batch_size):
        bookers = [row.customer_id for row in rows if row.customer_id is not None]
        staff_held = (
            set(
                db.session.scalars(
                    select(Customer.id).where(
                        id_in(Customer.id, bookers), _staff_hold(ctx.sweep_on, policy)
                    )
                )
            )
            if bookers
            else set()
        )
        go: dict[str, list[int]] = {}
        held: dict[str, list[str]] = {}
        for row in rows:
            holds = set()
            if row.unpaid:
                holds.add(HoldReason.COURSE_OPEN)
            if row.customer_id in staff_held:
                holds.add(HoldReason.STAFF_HOLD)
            decision = decide_participant(
                ParticipantFacts(course_ended_on=local_date(row.ends_at), holds=frozenset(holds)),
                ctx.sweep_on,
                policy=policy,
            )
            _sort(decision, row.id, str(row.id), go, held)
        doomed = [i for ids_ in go.values() for i in ids_]
        if doomed and not ctx.dry_run:
            anonymise_participants(doomed, now=ctx.now)
            ctx.midway()
        for rule, rule_ids in go.items():
            ctx.log(
                rule, RetentionAction.ANONYMISE, "course_participant", [str(i) for i in rule_ids]
            )
        for rule, subjects in held.items():
            ctx.log(rule, RetentionAction.HOLD, "course_participant", subjects)
        ctx.commit()


#: The sweeper's rules in order: erasures that waited, accounts, guest orders, then purges.
RULES: list[Callable[[SweepContext], None]] = [
    _sweep_waiting_erasures,
    _sweep_accounts,
    _sweep_guest_orders,
    _sweep_participants,
    _sweep_credit_data,
    _sweep_bookkeeping,
    _sweep_consent_proof,
    _sweep_data_requests,
    _sweep_pending_registrations,
]


# --- Lock (S4) -------------------------------------------------------------------------------


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def _dead(holder: str) -> bool:
    """True if the holder ran on this host and its process is gone."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def sweeper_lock(now: datetime) -> Iterator[bool]:
    """Yield True if this process may sweep (it holds the lock until the block ends)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            got = bool(conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}))
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                    conn.commit()
        return
    me = _me()
    got = _take_lock_row(me, now)
    try:
        yield got
    finally:
        if got:
            db.session.rollback()
            db.session.execute(
                delete(RetentionLock).where(
                    RetentionLock.name == LOCK_NAME, RetentionLock.holder == me
                )
            )
            db.session.commit()


def _take_lock_row(me: str, now: datetime) -> bool:
    row = db.session.get(RetentionLock, LOCK_NAME)
    if row is not None:
        if row.expires_at > now and not _dead(row.holder):
            db.session.rollback()
            return False
        db.session.delete(row)
        db.session.flush()
    db.session.add(
        RetentionLock(name=LOCK_NAME, holder=me, acquired_at=now, expires_at=now + LOCK_TTL)
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


# --- Entry point -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    run_id: int | None
    sweep_on: date
    dry_run: bool
    counts: dict[str, int]
    batches: int


def sweep(
    sweep_on: date,
    *,
    now: datetime,
    dry_run: bool = False,
    policy: Policy | None = None,
    batch_size: int | None = None,
    emit: Callable[[ReportLine], None] | None = None,
) -> SweepResult:
    """S1: run every rule for ``sweep_on``; :class:`SweepLocked` if another sweep runs (S4)."""
    config = current_app.config
    ctx = SweepContext(
        sweep_on=sweep_on,
        now=now,
        policy=policy or policy_from_config(),
        dry_run=dry_run,
        batch_size=max(1, int(batch_size or config["RETENTION_BATCH_SIZE"])),
        emit=emit or (lambda line: None),
        kill_in_batch=_int_or_none(config.get("RETENTION_TEST_KILL_IN_BATCH")),
    )
    with sweeper_lock(now) as got:
        if not got:
            raise SweepLocked
        if not dry_run:
            ctx.run = RetentionRun(
                sweep_on=sweep_on,
                dry_run=False,
                status="running",
                started_at=now,
                runner=_me(),
                counts={},
            )
            db.session.add(ctx.run)
            db.session.commit()
        try:
            for rule in RULES:
                rule(ctx)
            if not dry_run:
                # Photo files of complaints anonymised above (their rows went with the batch).
                files = remove_unreferenced_photos(now=now)
                if files:
                    ctx.counts["R2.1 delete photo file"] += len(files)
        except Exception:
            db.session.rollback()
            if ctx.run is not None:
                ctx.run.status = "failed"
                ctx.run.finished_at = utcnow()
                db.session.commit()
            raise
        if ctx.run is not None:
            ctx.run.status = "finished"
            ctx.run.finished_at = utcnow()
            ctx.run.counts = dict(ctx.counts)
            db.session.commit()
    return SweepResult(
        run_id=ctx.run.id if ctx.run else None,
        sweep_on=sweep_on,
        dry_run=dry_run,
        counts=dict(ctx.counts),
        batches=ctx.batches,
    )


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


# --- What staff see (S6) ---------------------------------------------------------------------


def last_runs(limit: int = 10) -> list[RetentionRun]:
    return list(
        db.session.scalars(select(RetentionRun).order_by(RetentionRun.id.desc()).limit(limit))
    )


def held_records(limit: int = 200) -> list[RetentionLogEntry]:
    """The records the last finished run held, with the hold's rule ID as reason."""
    run_id = db.session.scalar(
        select(sa.func.max(RetentionRun.id)).where(RetentionRun.status == "finished")
    )
    if run_id is None:
        return []
    return list(
        db.session.scalars(
            select(RetentionLogEntry)
            .where(RetentionLogEntry.run_id == run_id, RetentionLogEntry.action == "hold")
            .order_by(RetentionLogEntry.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class UpcomingErasure:
    code: str
    due_on: date
    rule: str


def upcoming_erasures(
    today: date, *, days: int = 30, policy: Policy | None = None, limit: int = 100
) -> list[UpcomingErasure]:
    """Accounts that become erasable under R2.1 in the coming ``days`` (by last activity)."""
    policy = policy or policy_from_config()
    start = add_years(today, -policy.account_inactive_years)
    end = start + timedelta(days=days)
    rows = db.session.execute(
        select(Customer.pseudonym, Customer.last_activity_on)
        .where(
            Customer.anonymised_at.is_(None),
            Customer.last_activity_on >= start,
            Customer.last_activity_on < end,
            ~exists().where(RoleGrant.customer_id == Customer.id),
        )
        .order_by(Customer.last_activity_on, Customer.id)
        .limit(limit)
    )
    return [
        UpcomingErasure(
            code,
            add_years(last, policy.account_inactive_years) + timedelta(days=1),
            "R2.1",
        )
        for code, last in rows
        if last is not None
    ]


def settings_table(config: Any = None) -> list[tuple[str, str, int]]:
    """(rule ID, config key, value) of every retention setting, for the admins' page."""
    config = current_app.config if config is None else config
    return [(rule, key, int(config[key])) for key, (_name, rule) in POLICY_SETTINGS.items()]
