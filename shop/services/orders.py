"""Orders after checkout: status changes, releasing stock, expiry, who may see an order.

Every status change of an order goes through :func:`record_transition`,
which asks the domain's transition table and writes an audit entry (no
personal data: the actor is "system", "customer:<pseudonym>" or
"staff:<id>").

An unpaid order holds its stock reservation until it is paid, or until its
payment fails, or until ``expires_at`` has passed: ``flask orders expire``
(:func:`expire_unpaid_orders`) then cancels it and releases the stock.
Several machines may run the job at once: rows are claimed with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL.

Guests see their order through a signed link (:func:`guest_order_token`):
it carries the order id and a digest of the order's e-mail address, signed
with the app's secret key, so it cannot be guessed or moved to another order.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, func, select

from shop import clock
from shop.domain.lifecycle import OrderStatus, PaymentStatus, require_transition
from shop.extensions import db
from shop.models import AuditEntry, Customer, Order, Payment, StockMovement
from shop.services import stock

GUEST_TOKEN_SALT = "shop.order.guest-link"
DEFAULT_BATCH = 100
#: Payment states that mean the money is (being) collected: such an order never expires.
SETTLED_PAYMENT_STATUSES = (
    PaymentStatus.AUTHORISED.value,
    PaymentStatus.CAPTURED.value,
    PaymentStatus.PARTLY_REFUNDED.value,
    PaymentStatus.REFUNDED.value,
)


# --- Status changes ----------------------------------------------------------------------


def customer_actor(customer: Customer) -> str:
    """The audit actor for a customer: their pseudonym, never their name or e-mail."""
    return f"customer:{customer.pseudonym}"


def record_transition(
    order: Order,
    new_status: OrderStatus,
    *,
    actor: str,
    now: datetime,
    rule_id: str | None = None,
) -> None:
    """Change the order's status if the transition table allows it, with an audit entry.

    Raises :class:`~shop.domain.errors.IllegalTransition` otherwise (nothing changes).
    Does not commit.
    """
    current = OrderStatus(order.status)
    target = require_transition(current, OrderStatus(new_status))
    order.status = target.value
    if target is OrderStatus.CONFIRMED and order.confirmed_at is None:
        order.confirmed_at = now
    if target is OrderStatus.CANCELLED and order.cancelled_at is None:
        order.cancelled_at = now
    if order.id is None:
        db.session.flush()
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action="order.status",
            subject_type="order",
            subject_id=str(order.id),
            details={"from": current.value, "to": target.value},
            rule_id=rule_id,
        )
    )


# --- Releasing stock ---------------------------------------------------------------------


def _outstanding_reservations(order: Order) -> dict[int, int]:
    """Units still reserved for the order per product: reserves minus releases and shipments."""
    rows = db.session.execute(
        select(StockMovement.product_id, func.sum(StockMovement.quantity))
        .where(
            StockMovement.order_id == order.id,
            StockMovement.kind.in_(("reserve", "release")),
        )
        .group_by(StockMovement.product_id)
        .order_by(StockMovement.product_id)
    ).all()
    return {int(product_id): int(total) for product_id, total in rows if total and total > 0}


def release_order(order: Order, *, reason: str, now: datetime, actor: str = "system") -> None:
    """Cancel an unpaid order and release its reserved stock; a no-op if already cancelled.

    Called when the payment failed, expired or was cancelled (``reason`` says
    which, for the audit entry). Stock rows are locked in product-id order.
    Does not commit: the caller's transaction (event handling, expiry job) does.
    """
    if OrderStatus(order.status) is OrderStatus.CANCELLED:
        return
    record_transition(order, OrderStatus.CANCELLED, actor=actor, now=now)
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action="order.released",
            subject_type="order",
            subject_id=str(order.id),
            details={"reason": reason[:60]},
        )
    )
    outstanding = _outstanding_reservations(order)
    if not outstanding:
        return
    levels = stock.lock_levels(outstanding)
    for product_id, quantity in sorted(outstanding.items()):
        level = levels.get(product_id)
        if level is None:
            continue
        release = min(quantity, level.reserved)
        if release <= 0:
            continue
        level.reserved -= release
        db.session.add(
            StockMovement(
                product_id=product_id,
                order_id=order.id,
                kind="release",
                quantity=-release,
                at=now,
            )
        )
    db.session.flush()


def _expirable(now: datetime) -> Any:
    settled = exists().where(
        Payment.order_id == Order.id, Payment.status.in_(SETTLED_PAYMENT_STATUSES)
    )
    return (
        select(Order)
        .where(
            Order.status == OrderStatus.PENDING_PAYMENT.value,
            Order.expires_at.is_not(None),
            Order.expires_at < now,
            ~settled,
        )
        .order_by(Order.expires_at, Order.id)
    )


def expire_unpaid_orders(now: datetime, *, batch: int = DEFAULT_BATCH) -> int:
    """Cancel unpaid orders whose ``expires_at`` has passed and release their stock.

    An order expires strictly after ``expires_at``. Orders with an authorised
    or captured payment are left alone. Works in batches of ``batch`` orders,
    each in its own transaction; on PostgreSQL rows another worker holds are
    skipped (``SKIP LOCKED``), so the job is safe on several machines.
    Returns how many orders were cancelled.
    """
    total = 0
    while True:
        query = _expirable(now).limit(batch)
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Order)
        orders = list(db.session.scalars(query.execution_options(populate_existing=True)))
        if not orders:
            db.session.rollback()
            return total
        for order in orders:
            release_order(order, reason="expired", now=now)
        db.session.commit()
        total += len(orders)
        if len(orders) < batch:
            return total


# --- Who may see an order ----------------------------------------------------------------


def order_for_customer(customer: Customer, number: str) -> Order | None:
    """The customer's own order with this number; None for anyone else's."""
    return db.session.scalar(
        select(Order).where(Order.number == str(number), Order.customer_id == customer.id)
    )


def orders_for_customer(customer: Customer, *, limit: int | None = None) -> list[Order]:
    """The customer's orders, newest first ("Mina ordrar"); at most ``limit`` if given."""
    query = (
        select(Order)
        .where(Order.customer_id == customer.id, Order.number.is_not(None))
        .order_by(Order.placed_at.desc(), Order.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def order_by_number(number: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.number == str(number)))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=GUEST_TOKEN_SALT)


def _email_digest(order: Order) -> str:
    return hashlib.sha256(f"{order.id}:{order.email.lower()}".encode()).hexdigest()[:24]


def guest_order_token(order: Order) -> str:
    """A signed, unguessable link token bound to this order (its id and e-mail)."""
    return str(_serializer().dumps([order.id, _email_digest(order)]))


def order_from_guest_token(token: str) -> Order | None:
    """The order a guest link points at; None for a tampered, foreign or unknown token."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or type(payload[0]) is not int
        or not isinstance(payload[1], str)
    ):
        return None
    order = db.session.get(Order, payload[0])
    if order is None or order.anonymised_at is not None:
        return None
    if not hmac.compare_digest(_email_digest(order).encode(), payload[1].encode()):
        return None
    return order


# --- CLI ---------------------------------------------------------------------------------

orders_cli = AppGroup("orders", help="Order jobs.")


@orders_cli.command("expire")
@click.option("--batch", default=DEFAULT_BATCH, show_default=True, help="Orders per transaction.")
def expire_command(batch: int) -> None:
    """Cancel unpaid orders past their payment time-out and release their stock."""
    count = expire_unpaid_orders(clock.utcnow(), batch=batch)
    click.echo(f"Expired {count} unpaid order(s).")
