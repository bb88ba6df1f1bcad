"""Shipping: the pick list, shipments (T4.2), dispatch with stock and Klarna capture, delivery.

An order ships in one or more :class:`~shop.models.Shipment` rows. Staff
create a shipment with the lines and quantities in the parcel, a carrier and
a tracking number; "mark dispatched" then (once) takes the units out of
stock (``reserved -= q``, ``on_hand -= q``, a ``ship`` movement), moves the
order to ``partly_shipped`` or ``shipped``, and queues the shipment mail to
the customer in the same transaction. For an order paid through Klarna
directly, the shipped amount is captured afterwards with an idempotency key
derived from the shipment id; a failed capture leaves the shipment
dispatched and the capture "to retry" (Att göra om) with the error shown.

Every change is written to the audit log with the order as subject, so the
order's history shows it. Capture outcomes are audit entries too
(``shipment.capture``): a Klarna shipment without a successful one is to retry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from shop.domain.catalog import ProductKind
from shop.domain.lifecycle import (
    OrderStatus,
    PaymentStatus,
    can_transition,
    require_transition,
)
from shop.extensions import db
from shop.models import (
    AuditEntry,
    Order,
    OrderLine,
    Payment,
    Shipment,
    ShipmentLine,
    StockMovement,
)
from shop.payments.base import CaptureRequest, LineKind, PaymentLine
from shop.payments.errors import PaymentError
from shop.services import mail, orders, payments, stock

#: Carrier codes (the shipment table's check constraint) and their names.
CARRIERS: dict[str, str] = {"postnord": "PostNord", "dhl": "DHL"}
TRACKING_URLS: dict[str, str] = {
    "postnord": "https://tracking.postnord.com/se/?id={number}",
    "dhl": "https://www.dhl.com/se-sv/home/tracking.html?tracking-id={number}",
}
#: Orders whose goods may go into a new shipment.
SHIPPABLE_STATUSES = (OrderStatus.CONFIRMED.value, OrderStatus.PARTLY_SHIPPED.value)
SHIPPED_KINDS = tuple(kind.value for kind in ProductKind if kind.is_shipped)
SHIPMENT_TEMPLATE = "shipment"
CAPTURE_ACTION = "shipment.capture"
CAPTURE_PROVIDER = "klarna"


class ShippingError(Exception):
    """A shipping action refused, with a Swedish message for staff."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def staff_actor(staff_id: int) -> str:
    return f"staff:{staff_id}"


def _audit(order: Order, action: str, actor: str, now: datetime, **details: Any) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action=action,
            subject_type="order",
            subject_id=str(order.id),
            details=details,
            rule_id="T4.2" if action.startswith("shipment.") else None,
        )
    )


# --- What is shipped and what remains -----------------------------------------------------


def shipped_lines(order: Order) -> list[OrderLine]:
    """The order's lines that travel by post (physical goods and boxed software)."""
    return [line for line in order.lines if line.kind in SHIPPED_KINDS]


def _quantities(order_ids: Iterable[int], *, dispatched: bool = False) -> dict[int, int]:
    """Units per order line already in a shipment (only dispatched ones if asked)."""
    ids = list(order_ids)
    if not ids:
        return {}
    query = (
        select(ShipmentLine.order_line_id, func.sum(ShipmentLine.quantity))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id.in_(ids))
        .group_by(ShipmentLine.order_line_id)
    )
    if dispatched:
        query = query.where(Shipment.dispatched_on.is_not(None))
    return {int(line_id): int(total or 0) for line_id, total in db.session.execute(query)}


def unshipped(order: Order) -> dict[int, int]:
    """Units per shipped line not yet in any shipment (only lines with something left)."""
    done = _quantities([order.id])
    remaining = {line.id: line.quantity - done.get(line.id, 0) for line in shipped_lines(order)}
    return {line_id: qty for line_id, qty in remaining.items() if qty > 0}


@dataclass(frozen=True)
class PickLine:
    line: OrderLine
    quantity: int


@dataclass(frozen=True)
class PickOrder:
    order: Order
    lines: list[PickLine]


def pick_list() -> list[PickOrder]:
    """Shippable orders' goods not yet in a shipment, oldest order first (3 queries)."""
    candidates = list(
        db.session.scalars(
            select(Order)
            .where(Order.status.in_(SHIPPABLE_STATUSES))
            .options(selectinload(Order.lines))
            .order_by(Order.placed_at, Order.id)
        )
    )
    done = _quantities(order.id for order in candidates)
    result: list[PickOrder] = []
    for order in candidates:
        lines = [
            PickLine(line, line.quantity - done.get(line.id, 0))
            for line in shipped_lines(order)
            if line.quantity - done.get(line.id, 0) > 0
        ]
        if lines:
            result.append(PickOrder(order, lines))
    return result


def shipments_of(order: Order) -> list[Shipment]:
    return list(
        db.session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order.id)
            .options(selectinload(Shipment.lines).selectinload(ShipmentLine.order_line))
            .order_by(Shipment.id)
        )
    )


# --- Creating a shipment ------------------------------------------------------------------


def create_shipment(
    order: Order,
    quantities: Mapping[int, int],
    *,
    carrier: str,
    tracking_number: str,
    staff_id: int,
    now: datetime,
) -> Shipment:
    """A new shipment with ``quantities`` (order line id → units), up to what is unshipped.

    Several shipments per order are allowed (T4.2). Commits.
    """
    order = stock.lock_row(Order, order.id)
    try:
        if order.status not in SHIPPABLE_STATUSES:
            raise ShippingError(_("Ordern kan inte skickas i sin nuvarande status."))
        if carrier not in CARRIERS:
            raise ShippingError(_("Välj fraktbolag."))
        tracking = tracking_number.strip()
        if not tracking or len(tracking) > 60:
            raise ShippingError(_("Ange ett kollinummer (högst 60 tecken)."))
        remaining = unshipped(order)
        chosen = {int(k): int(v) for k, v in quantities.items() if int(v) != 0}
        if not chosen:
            raise ShippingError(_("Välj minst en vara att skicka."))
        for line_id, quantity in chosen.items():
            if line_id not in remaining or not 0 < quantity <= remaining[line_id]:
                raise ShippingError(_("Antalet är större än det som återstår att skicka."))
    except ShippingError:
        db.session.rollback()
        raise
    shipment = Shipment(
        order_id=order.id,
        carrier=carrier,
        tracking_number=tracking,
        created_at=now,
        created_by=str(staff_id),
    )
    shipment.lines = [
        ShipmentLine(order_line_id=line_id, quantity=quantity)
        for line_id, quantity in sorted(chosen.items())
    ]
    db.session.add(shipment)
    db.session.flush()
    _audit(
        order,
        "shipment.created",
        staff_actor(staff_id),
        now,
        shipment_id=shipment.id,
        carrier=carrier,
        lines={str(k): v for k, v in sorted(chosen.items())},
    )
    db.session.commit()
    return shipment


# --- Dispatch -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureState:
    """Where a shipment's Klarna capture stands (None when nothing is to be captured)."""

    done: bool
    amount_ore: int
    error: str | None = None


@dataclass(frozen=True)
class DispatchResult:
    shipment: Shipment
    #: False when the shipment was already dispatched (nothing happened).
    dispatched: bool
    capture: CaptureState | None


def _take_from_stock(order: Order, shipment: Shipment, now: datetime) -> None:
    per_product = stock.quantities_in(shipment)
    levels = stock.lock_levels(per_product)
    for product_id, quantity in sorted(per_product.items()):
        level = levels.get(product_id)
        if level is None:
            continue  # a product without stock keeping
        if level.on_hand < quantity:
            raise ShippingError(
                _(
                    "Lagret räcker inte för försändelsen: det finns %(n)d st i lager.",
                    n=level.on_hand,
                )
            )
        level.on_hand -= quantity
        level.reserved = min(max(level.reserved - quantity, 0), level.on_hand)
        db.session.add(
            StockMovement(
                product_id=product_id, order_id=order.id, kind="ship", quantity=-quantity, at=now
            )
        )


def _all_covered(order: Order, covered: Mapping[int, int]) -> bool:
    return all(covered.get(line.id, 0) >= line.quantity for line in shipped_lines(order))


def queue_shipment_mail(order: Order, shipment: Shipment, *, now: datetime) -> None:
    number = shipment.tracking_number or ""
    mail.queue_templated_mail(
        to=order.email,
        subject=_("Din order %(number)s är skickad", number=order.number),
        template=SHIPMENT_TEMPLATE,
        context={
            "order": order,
            "shipment": shipment,
            "carrier": CARRIERS[shipment.carrier],
            "tracking_number": number,
            "tracking_url": TRACKING_URLS[shipment.carrier].format(number=number),
        },
        now=now,
    )


def mark_dispatched(
    shipment: Shipment, *, staff_id: int, today: date, now: datetime
) -> DispatchResult:
    """Dispatch once: stock out, order status, customer mail; then capture a Klarna order.

    A second call finds ``dispatched_on`` set and does nothing. The dispatch
    commits before the capture is attempted, so a provider failure never
    undoes it (the capture is then to retry, see :func:`retry_capture`).
    """
    shipment = stock.lock_row(Shipment, shipment.id)
    if shipment.dispatched_on is not None:
        db.session.rollback()
        return DispatchResult(shipment, False, capture_state(shipment))
    order = stock.lock_row(Order, shipment.order_id)
    if order.status in (OrderStatus.CANCELLED.value, OrderStatus.WITHDRAWN.value):
        db.session.rollback()
        raise ShippingError(_("Ordern är avslutad och kan inte skickas."))
    try:
        _take_from_stock(order, shipment, now)
    except ShippingError:
        db.session.rollback()
        raise
    shipment.dispatched_on = today
    actor = staff_actor(staff_id)
    _audit(
        order,
        "shipment.dispatched",
        actor,
        now,
        shipment_id=shipment.id,
        dispatched_on=today.isoformat(),
    )
    db.session.flush()
    current = OrderStatus(order.status)
    target = (
        OrderStatus.SHIPPED
        if _all_covered(order, _quantities([order.id], dispatched=True))
        else OrderStatus.PARTLY_SHIPPED
    )
    if target is not current and can_transition(current, target):
        orders.record_transition(order, target, actor=actor, now=now, rule_id="T4.2")
    queue_shipment_mail(order, shipment, now=now)
    db.session.commit()
    capture = None
    if capture_needed(order):
        capture = _capture(order, shipment, actor=actor, now=now)
    return DispatchResult(shipment, True, capture)


# --- Klarna capture -----------------------------------------------------------------------


def _klarna_payment(order: Order) -> Payment | None:
    return db.session.scalar(
        select(Payment)
        .where(
            Payment.order_id == order.id,
            Payment.provider == CAPTURE_PROVIDER,
            Payment.status.in_((PaymentStatus.AUTHORISED.value, PaymentStatus.CAPTURED.value)),
        )
        .order_by(Payment.id.desc())
        .limit(1)
    )


def capture_needed(order: Order) -> bool:
    """True for orders paid through Klarna directly (Stripe, sandbox, invoice: nothing)."""
    return order.payment_method == "klarna" and _klarna_payment(order) is not None


def capture_key(shipment: Shipment) -> str:
    """The idempotency key of a shipment's capture: a retry never captures twice."""
    return f"capture-shipment-{shipment.id}"


def capture_lines(order: Order, shipment: Shipment) -> tuple[PaymentLine, ...]:
    """What a shipment captures: its goods; the order's first shipment also its fees and
    digital lines (delivered at once, so never in a parcel)."""
    lines = [
        PaymentLine.of(
            item.order_line.title,
            item.quantity,
            item.order_line.unit_price_ore,
            item.order_line.vat_rate_bp,
            reference=item.order_line.sku,
            kind=LineKind.PHYSICAL,
        )
        for item in shipment.lines
    ]
    first_id = db.session.scalar(select(func.min(Shipment.id)).where(Shipment.order_id == order.id))
    if shipment.id == first_id:
        lines.extend(
            line
            for line in payments.payment_lines(order)
            if line.kind in (LineKind.DIGITAL, LineKind.SHIPPING_FEE, LineKind.SURCHARGE)
        )
    return tuple(line for line in lines if line.total_ore > 0)


def _capture_entries(order_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.subject_type == "order",
                AuditEntry.subject_id == str(order_id),
                AuditEntry.action == CAPTURE_ACTION,
            )
            .order_by(AuditEntry.id)
        )
    )


def capture_states(order: Order, shipments: Iterable[Shipment]) -> dict[int, CaptureState]:
    """Capture state per dispatched shipment of a Klarna order (empty for other orders)."""
    if not capture_needed(order):
        return {}
    latest: dict[int, AuditEntry] = {}
    for entry in _capture_entries(order.id):
        latest[int(entry.details.get("shipment_id", 0))] = entry
    states: dict[int, CaptureState] = {}
    for shipment in shipments:
        if shipment.dispatched_on is None:
            continue
        last = latest.get(shipment.id)
        if last is None:
            states[shipment.id] = CaptureState(False, 0, _("Dragningen är inte gjord."))
        else:
            states[shipment.id] = CaptureState(
                last.details.get("status") == "done",
                int(last.details.get("amount_ore", 0)),
                last.details.get("error"),
            )
    return states


def capture_state(shipment: Shipment) -> CaptureState | None:
    order = db.session.get(Order, shipment.order_id)
    assert order is not None
    return capture_states(order, [shipment]).get(shipment.id)


def _capture(order: Order, shipment: Shipment, *, actor: str, now: datetime) -> CaptureState:
    payment = _klarna_payment(order)
    assert payment is not None
    assert payment.provider_reference
    lines = capture_lines(order, shipment)
    amount = sum(line.total_ore for line in lines)
    if amount <= 0:
        _audit(
            order, CAPTURE_ACTION, actor, now, shipment_id=shipment.id, status="done", amount_ore=0
        )
        db.session.commit()
        return CaptureState(True, 0)
    request = CaptureRequest(
        provider_reference=payment.provider_reference,
        amount_ore=amount,
        idempotency_key=capture_key(shipment),
        lines=lines,
        description=f"Order {order.number}, försändelse {shipment.id}",
    )
    try:
        result = payments.registry().provider(CAPTURE_PROVIDER).capture(request)
    except PaymentError as error:
        message = (error.detail or error.message)[:300]
        _audit(
            order,
            CAPTURE_ACTION,
            actor,
            now,
            shipment_id=shipment.id,
            status="failed",
            amount_ore=amount,
            error=message,
        )
        db.session.commit()
        return CaptureState(False, amount, message)
    _audit(
        order,
        CAPTURE_ACTION,
        actor,
        now,
        shipment_id=shipment.id,
        status="done",
        amount_ore=result.amount_ore,
        capture_id=result.capture_id[:60],
    )
    db.session.flush()
    captured = sum(
        int(entry.details.get("amount_ore", 0))
        for entry in {
            int(e.details.get("shipment_id", 0)): e for e in _capture_entries(order.id)
        }.values()
        if entry.details.get("status") == "done"
    )
    if captured >= payment.amount_ore and payment.status == PaymentStatus.AUTHORISED.value:
        payment.status = require_transition(PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED).value
        payment.captured_at = now
        payment.updated_at = now
    db.session.commit()
    return CaptureState(True, result.amount_ore)


def retry_capture(shipment: Shipment, *, staff_id: int, now: datetime) -> CaptureState:
    """Try a failed (or never attempted) capture again, with the same idempotency key."""
    order = db.session.get(Order, shipment.order_id)
    assert order is not None
    state = capture_state(shipment)
    if state is None:
        raise ShippingError(_("Det finns ingen dragning att göra för försändelsen."))
    if state.done:
        return state
    return _capture(order, shipment, actor=staff_actor(staff_id), now=now)


# --- Delivery (T4.2) ----------------------------------------------------------------------


def record_delivery(
    shipment: Shipment, delivered_on: date, *, staff_id: int, today: date, now: datetime
) -> bool:
    """T4.2: the day the buyer received the parcel; the order is delivered when all are.

    Refused before the dispatch day or in the future. Recording the same date
    again does nothing (returns False); a corrected date is audited. Commits.
    """
    shipment = stock.lock_row(Shipment, shipment.id)
    try:
        if shipment.dispatched_on is None:
            raise ShippingError(_("Försändelsen är inte skickad än."))
        if shipment.returned_kind is not None:
            raise ShippingError(_("Försändelsen har kommit tillbaka till oss."))
        if delivered_on < shipment.dispatched_on:
            raise ShippingError(
                _(
                    "Leveransdatumet kan inte vara före avsändningsdagen %(day)s.",
                    day=shipment.dispatched_on.isoformat(),
                )
            )
        if delivered_on > today:
            raise ShippingError(_("Leveransdatumet kan inte ligga i framtiden."))
    except ShippingError:
        db.session.rollback()
        raise
    if shipment.delivered_on == delivered_on:
        db.session.rollback()
        return False
    order = stock.lock_row(Order, shipment.order_id)
    before = shipment.delivered_on
    shipment.delivered_on = delivered_on
    actor = staff_actor(staff_id)
    _audit(
        order,
        "shipment.delivered",
        actor,
        now,
        shipment_id=shipment.id,
        before=before.isoformat() if before else None,
        after=delivered_on.isoformat(),
    )
    db.session.flush()
    delivered = db.session.execute(
        select(ShipmentLine.order_line_id, func.sum(ShipmentLine.quantity))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id == order.id, Shipment.delivered_on.is_not(None))
        .group_by(ShipmentLine.order_line_id)
    )
    covered = {int(line_id): int(total or 0) for line_id, total in delivered}
    current = OrderStatus(order.status)
    if _all_covered(order, covered) and can_transition(current, OrderStatus.DELIVERED):
        orders.record_transition(order, OrderStatus.DELIVERED, actor=actor, now=now, rule_id="T4.2")
    db.session.commit()
    return True
