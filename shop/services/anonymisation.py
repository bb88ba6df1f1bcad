"""Anonymisation as set-based SQL over a batch of ids (privacy.md R2.1, R2.4, R4.3).

:func:`anonymise_customers` takes a list of customer ids (one for an erasure
request, thousands for a sweeper batch) and runs one UPDATE or DELETE per
table with ``WHERE … IN (ids)`` (``= ANY(:ids)`` on PostgreSQL), inside the
caller's transaction: the caller commits, so a batch is either wholly
anonymised or untouched (S5). Identity fields become the customer's
pseudonymous code (``K-7F3A9C2B``, e-mail ``k-7f3a9c2b@anonymiserad.invalid``),
login is disabled for good and every session ends (session version bumped).
Orders keep amounts, VAT, dates, lines and the code (R2.1). Bookkeeping
records (receipts, invoices, credit notes) are never touched here: they keep
the buyer's identity as issued until R2.3 purges them. Course participants
(R2.5, with the booker's account or 12 months after the course) become
``Deltagare <id>`` born 1900-01-01 (the column requires a date), with the
names in seat transfers and the outbox copies of course mails naming them.

Adding a table with personal data: write a function that runs one
set-based statement for it and append it to
:data:`CUSTOMER_STEPS` (data tied to the account; called with
``(customer_ids, order_ids, now)``) or :data:`ORDER_STEPS` (data tied to an
order; called with ``(order_ids, now)``). Both run before the order and
account rows are overwritten, so a step can still read the original e-mail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, delete, exists, func, literal, select, update

from shop.extensions import db
from shop.models import (
    Address,
    CartLine,
    Complaint,
    ComplaintPhoto,
    Consent,
    Course,
    CourseBooking,
    CourseParticipant,
    CreditCheck,
    Customer,
    Order,
    OutboxAttachment,
    OutboxMessage,
    PasswordResetToken,
    SeatTransfer,
    Withdrawal,
)

#: The domain anonymised e-mail addresses get (``.invalid`` never delivers, RFC 2606).
ANONYMOUS_EMAIL_DOMAIN = "@anonymiserad.invalid"

#: A participant's birth date once anonymised (R2.5): the column requires a date, and no
#: participant is born on it (courses have an age range).
ANONYMOUS_BIRTH_DATE = date(1900, 1, 1)

#: A step for one more table: ``(customer_ids, order_ids, now)``, one set-based statement.
Step = Callable[[Sequence[int], Sequence[int], datetime], None]


def id_in(column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column = ANY(:ids)`` on PostgreSQL (one array parameter), ``IN (…)`` elsewhere."""
    if db.engine.dialect.name == "postgresql":
        return column == sa.any_(sa.cast(literal(list(ids)), sa.ARRAY(sa.Integer)))  # type: ignore[no-any-return]
    return column.in_(list(ids))  # type: ignore[no-any-return]


def anonymous_email(code: Any) -> Any:
    """The anonymised e-mail for a pseudonymous code (SQL expression or text)."""
    return func.lower(code) + literal(ANONYMOUS_EMAIL_DOMAIN)


def _withdrawal_code() -> Any:
    order_code = (
        select(func.coalesce(Customer.pseudonym, literal("O-") + sa.cast(Order.id, sa.String)))
        .select_from(Order)
        .outerjoin(Customer, Customer.id == Order.customer_id)
        .where(Order.id == Withdrawal.order_id)
        .scalar_subquery()
    )
    return order_code


def _orders_rows(order_ids: Sequence[int], now: datetime) -> None:
    """Two statements: customers' orders take the code by a join (UPDATE … FROM customer),
    guest orders become ``O-<id>``."""
    buyer_fields = {
        "phone": None,
        "organisation_name": None,
        "organisation_number": None,
        "delivery_name": None,
        "delivery_street": None,
        "delivery_postcode": None,
        "delivery_city": None,
        "billing_street": "",
        "billing_postcode": "",
        "billing_city": "",
        "anonymised_at": now,
    }
    db.session.execute(
        update(Order)
        .where(
            id_in(Order.id, order_ids),
            Order.anonymised_at.is_(None),
            Order.customer_id == Customer.id,
        )
        .values(
            email=anonymous_email(Customer.pseudonym),
            name=Customer.pseudonym,
            billing_name=Customer.pseudonym,
            **buyer_fields,
        )
        .execution_options(synchronize_session=False)
    )
    guest_code = literal("O-") + sa.cast(Order.id, sa.String)
    db.session.execute(
        update(Order)
        .where(
            id_in(Order.id, order_ids),
            Order.anonymised_at.is_(None),
            Order.customer_id.is_(None),
        )
        .values(
            email=anonymous_email(guest_code),
            name=guest_code,
            billing_name=guest_code,
            **buyer_fields,
        )
        .execution_options(synchronize_session=False)
    )


def _withdrawals(order_ids: Sequence[int], now: datetime) -> None:
    code = _withdrawal_code()
    db.session.execute(
        update(Withdrawal)
        .where(id_in(Withdrawal.order_id, order_ids))
        .values(name=code, email=anonymous_email(code))
        .execution_options(synchronize_session=False)
    )


def _credit_checks_of_orders(order_ids: Sequence[int], now: datetime) -> None:
    """R2.4 with R2.1: the organisation or identity number goes; the outcome stays."""
    db.session.execute(
        update(CreditCheck)
        .where(id_in(CreditCheck.order_id, order_ids))
        .values(organisation_number=None, reason="")
        .execution_options(synchronize_session=False)
    )


def _complaints(order_ids: Sequence[int], now: datetime) -> None:
    """R2.1: what the buyer wrote, the reason written to them and the photos go; the
    outcome, dates and amounts stay. The photo files follow in
    :func:`shop.services.complaints.remove_unreferenced_photos` after the commit."""
    of_orders = select(Complaint.id).where(id_in(Complaint.order_id, order_ids))
    db.session.execute(
        delete(ComplaintPhoto)
        .where(ComplaintPhoto.complaint_id.in_(of_orders))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Complaint)
        .where(id_in(Complaint.order_id, order_ids))
        .values(
            description="",
            reason=sa.case((Complaint.reason.is_(None), None), else_=""),
        )
        .execution_options(synchronize_session=False)
    )


#: Per-order steps, run by :func:`anonymise_orders` (withdrawals, credit data, …).
ORDER_STEPS: list[Callable[[Sequence[int], datetime], None]] = [
    _withdrawals,
    _credit_checks_of_orders,
    _complaints,
]


def anonymise_orders(order_ids: Sequence[int], *, now: datetime) -> None:
    """Anonymise these orders and what hangs on them, set-based, in the caller's transaction.

    Amounts, VAT, dates, lines, status and number stay; the buyer becomes the code.
    """
    if not order_ids:
        return
    # Children first: their code subqueries read the order, not its anonymised copy.
    for step in ORDER_STEPS:
        step(order_ids, now)
    _orders_rows(order_ids, now)


def _outbox(customer_ids: Sequence[int], keep_order_ids: Sequence[int]) -> None:
    """Mail sent to the person goes: its text holds their name and address."""
    account_emails = select(Customer.email).where(id_in(Customer.id, customer_ids))
    order_emails = select(Order.email).where(id_in(Order.customer_id, customer_ids))
    addresses = sa.union(account_emails, order_emails)
    condition: ColumnElement[bool] = OutboxMessage.to_address.in_(addresses)
    if keep_order_ids:
        kept = select(Order.email).where(id_in(Order.id, keep_order_ids))
        condition = sa.and_(condition, OutboxMessage.to_address.not_in(kept))
    doomed = select(OutboxMessage.id).where(condition)
    db.session.execute(
        delete(OutboxAttachment)
        .where(OutboxAttachment.message_id.in_(doomed))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(OutboxMessage).where(condition).execution_options(synchronize_session=False)
    )


def _account_rows(customer_ids: Sequence[int], now: datetime) -> None:
    for table in (Address, CartLine, PasswordResetToken):
        db.session.execute(
            delete(table)
            .where(id_in(table.customer_id, customer_ids))
            .execution_options(synchronize_session=False)
        )
    # Consent events by account, and those given by the same address before it was an
    # account: two statements, so that each uses its index (customer_id; email, purpose).
    by_account = select(Customer.pseudonym).where(Customer.id == Consent.customer_id)
    db.session.execute(
        update(Consent)
        .where(id_in(Consent.customer_id, customer_ids))
        .values(email=anonymous_email(by_account.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    by_address = (
        select(Customer.pseudonym)
        .where(id_in(Customer.id, customer_ids), Customer.email == Consent.email)
        .limit(1)
    )
    db.session.execute(
        update(Consent)
        .where(Consent.email.in_(select(Customer.email).where(id_in(Customer.id, customer_ids))))
        .values(email=anonymous_email(by_address.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(CreditCheck)
        .where(id_in(CreditCheck.customer_id, customer_ids))
        .values(organisation_number=None, reason="")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Customer)
        .where(id_in(Customer.id, customer_ids), Customer.anonymised_at.is_(None))
        .values(
            email=anonymous_email(Customer.pseudonym),
            name=Customer.pseudonym,
            phone=None,
            organisation_name=None,
            organisation_number=None,
            birth_date=None,
            password_hash=None,
            login_disabled=True,
            session_version=Customer.session_version + 1,
            anonymised_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def participant_code(participant_id: Any) -> Any:
    """A participant's code once anonymised: ``Deltagare <id>`` (SQL expression)."""
    return literal("Deltagare ") + sa.cast(participant_id, sa.String)


def _course_mails(doomed: Any) -> None:
    """Course mails (booking, invoice, transfer…) to the booker or the course's teacher that
    name one of these participants or a person named in a seat transfer from or to them:
    the copy in the outbox goes."""
    names = sa.union(
        select(CourseParticipant.name).where(CourseParticipant.id.in_(doomed)),
        select(SeatTransfer.name).where(
            sa.or_(
                SeatTransfer.participant_id.in_(doomed),
                SeatTransfer.new_participant_id.in_(doomed),
            )
        ),
    ).subquery()
    bookings = select(CourseParticipant.booking_id).where(CourseParticipant.id.in_(doomed))
    bookers = (
        select(Customer.email)
        .join(CourseBooking, CourseBooking.customer_id == Customer.id)
        .where(CourseBooking.id.in_(bookings))
    )
    teachers = (
        select(Customer.email)
        .join(Course, Course.teacher_id == Customer.id)
        .join(CourseBooking, CourseBooking.course_id == Course.id)
        .where(CourseBooking.id.in_(bookings))
    )
    naming = sa.and_(
        OutboxMessage.template.startswith("course"),
        OutboxMessage.to_address.in_(sa.union(bookers, teachers)),
        exists().where(
            sa.or_(
                OutboxMessage.body_text.contains(names.c.name),
                OutboxMessage.body_html.contains(names.c.name),
            )
        ),
    )
    mails = select(OutboxMessage.id).where(naming)
    db.session.execute(
        delete(OutboxAttachment)
        .where(OutboxAttachment.message_id.in_(mails))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(OutboxMessage).where(naming).execution_options(synchronize_session=False)
    )


def _anonymise_participants_where(condition: ColumnElement[bool]) -> None:
    """Name and birth date of these participants, and of the seat transfers from or to them."""
    doomed = select(CourseParticipant.id).where(condition)
    _course_mails(doomed)
    db.session.execute(
        update(SeatTransfer)
        .where(
            sa.or_(
                SeatTransfer.participant_id.in_(doomed),
                SeatTransfer.new_participant_id.in_(doomed),
            )
        )
        .values(
            name=sa.case(
                (
                    SeatTransfer.new_participant_id.is_not(None),
                    participant_code(SeatTransfer.new_participant_id),
                ),
                else_=literal("Överlåtelse ") + sa.cast(SeatTransfer.id, sa.String),
            ),
            birth_date=ANONYMOUS_BIRTH_DATE,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(CourseParticipant)
        .where(condition)
        .values(name=participant_code(CourseParticipant.id), birth_date=ANONYMOUS_BIRTH_DATE)
        .execution_options(synchronize_session=False)
    )


def anonymise_participants(participant_ids: Sequence[int], *, now: datetime) -> None:
    """R2.5: these participants become ``Deltagare <id>`` born :data:`ANONYMOUS_BIRTH_DATE`,
    with the seat transfers from or to them; in the caller's transaction."""
    if participant_ids:
        _anonymise_participants_where(id_in(CourseParticipant.id, participant_ids))


def _course_bookings(customer_ids: Sequence[int], order_ids: Sequence[int], now: datetime) -> None:
    """R2.1, R4.3: the bookings' organisation name and number, and their participants.

    A booking whose course has not ended holds the account (R3.4), so the participants
    here are of courses that ended (or of declined bookings, which never held a seat).
    """
    of_bookers = select(CourseBooking.id).where(id_in(CourseBooking.customer_id, customer_ids))
    _anonymise_participants_where(CourseParticipant.booking_id.in_(of_bookers))
    db.session.execute(
        update(CourseBooking)
        .where(id_in(CourseBooking.customer_id, customer_ids))
        .values(organisation_name=None, organisation_number=None)
        .execution_options(synchronize_session=False)
    )


#: Per-customer steps for more tables: course bookings and their participants (R2.5).
CUSTOMER_STEPS: list[Step] = [_course_bookings]


def anonymise_customers(
    customer_ids: Sequence[int], *, now: datetime, keep_order_ids: Sequence[int] = ()
) -> None:
    """Anonymise these customers, their orders (except ``keep_order_ids``) and their data.

    Set-based: one statement per table over the whole batch, in the caller's
    transaction (the caller commits). ``keep_order_ids`` are orders under a
    hold (R3), left as they are for a later sweep (R4.3).
    """
    if not customer_ids:
        return
    order_query = select(Order.id).where(
        id_in(Order.customer_id, customer_ids), Order.anonymised_at.is_(None)
    )
    if keep_order_ids:
        order_query = order_query.where(Order.id.not_in(list(keep_order_ids)))
    order_ids = list(db.session.scalars(order_query))
    _outbox(customer_ids, keep_order_ids)
    for step in CUSTOMER_STEPS:
        step(customer_ids, order_ids, now)
    anonymise_orders(order_ids, now=now)
    # The account last: the steps above read the e-mail it had.
    _account_rows(customer_ids, now)
