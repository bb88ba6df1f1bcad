"""Paying for an order: start a payment, apply what the provider reports, exactly once.

The providers live in :mod:`shop.payments` (one interface, Stripe's SDK in one
module); ``create_app`` builds them once (:func:`build_registry`) and keeps
them as ``app.extensions["payments"]``.

- :func:`start_payment` writes a ``Payment`` row with an idempotency key and
  commits it *before* calling the provider, so a retry after a time-out or a
  5xx reuses the same key and the provider creates one session, never two.
- :func:`handle_event` applies a verified provider event exactly once: the
  unique ``ProviderEvent`` row is inserted first and committed together with
  its effects; a replay hits the unique constraint and changes nothing.
  Payment statuses change only through the domain's transition table; an
  event that the table does not allow (completed after expired, failed after
  succeeded) is recorded in the audit log and ignored.
- A payment that is authorised or paid confirms the order
  (:func:`shop.services.fulfilment.confirm_order`); one that fails, expires or
  is cancelled releases the order's stock (:func:`shop.services.orders.release_order`).
- Money that arrives for an order already cancelled (it expired first) is
  refunded (or the authorisation cancelled) right after the commit.
- :func:`refresh_state` asks the provider (the return page never trusts the
  redirect) and applies the answer through the same path.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.domain.buyers import BuyerKind
from shop.domain.errors import IllegalTransition
from shop.domain.lifecycle import (
    OrderStatus,
    PaymentStatus,
    can_transition,
    require_transition,
)
from shop.extensions import db
from shop.models import AuditEntry, CreditCheck, Order, Payment
from shop.models import ProviderEvent as ProviderEventRow
from shop.payments.base import (
    CreditDecision,
    LineKind,
    PaymentLine,
    PaymentProvider,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    ProviderEvent,
    RefundRequest,
    WidgetPaymentProvider,
)
from shop.payments.errors import (
    InvoiceRefused,
    MethodNotAvailable,
    PaymentDeclined,
    PaymentError,
)
from shop.payments.invoice import InvoiceProvider
from shop.payments.registry import PaymentMethod, ProviderRegistry
from shop.payments.registry import build_registry as registry_from_config
from shop.payments.sandbox import SandboxOutcome, SandboxProvider

log = logging.getLogger(__name__)

EXTENSION_KEY = "payments"

#: A payment method as the checkout lists it (name, provider, Swedish label and description).
MethodChoice = PaymentMethod

#: The shop's payment status for each state a provider reports.
STATUS_FOR_STATE: dict[PaymentState, PaymentStatus] = {
    PaymentState.PENDING: PaymentStatus.PENDING,
    PaymentState.AUTHORISED: PaymentStatus.AUTHORISED,
    PaymentState.PAID: PaymentStatus.CAPTURED,
    PaymentState.FAILED: PaymentStatus.FAILED,
    PaymentState.EXPIRED: PaymentStatus.CANCELLED,
    PaymentState.CANCELLED: PaymentStatus.CANCELLED,
    PaymentState.REFUNDED: PaymentStatus.REFUNDED,
}

#: What the return page shows for a payment whose provider cannot be asked right now.
STATE_FOR_STATUS: dict[PaymentStatus, PaymentState] = {
    PaymentStatus.PENDING: PaymentState.PENDING,
    PaymentStatus.AUTHORISED: PaymentState.AUTHORISED,
    PaymentStatus.CAPTURED: PaymentState.PAID,
    PaymentStatus.FAILED: PaymentState.FAILED,
    PaymentStatus.CANCELLED: PaymentState.CANCELLED,
    PaymentStatus.PARTLY_REFUNDED: PaymentState.PAID,
    PaymentStatus.REFUNDED: PaymentState.REFUNDED,
}

#: Payment statuses that confirm an order (it must never also be released).
CONFIRMING_STATUSES = (
    PaymentStatus.AUTHORISED.value,
    PaymentStatus.CAPTURED.value,
    PaymentStatus.PARTLY_REFUNDED.value,
    PaymentStatus.REFUNDED.value,
)

MSG_NOT_PENDING = lazy_gettext("Ordern väntar inte på betalning.")
MSG_AMOUNT_MISMATCH = lazy_gettext(
    "Betalningen kunde inte startas eftersom orderns belopp inte stämmer. Ingenting har dragits. "
    "Kontakta oss."
)
MSG_CANNOT_SWITCH = lazy_gettext(
    "Betalsättet kan inte bytas eftersom en betalning redan pågår. "
    "Slutför den eller vänta tills den har avbrutits."
)
SYSTEM = "system"
#: Payments (ids) that arrived for a cancelled order, to refund or cancel after the commit.
UNDO_KEY = "payments_to_undo"


# --- The registry -----------------------------------------------------------------------------


def build_registry(app: Flask) -> ProviderRegistry:
    """Build the providers from ``app.config`` and keep them as ``app.extensions["payments"]``."""
    registry = registry_from_config(app.config)
    app.extensions[EXTENSION_KEY] = registry
    return registry


def registry() -> ProviderRegistry:
    """The current app's providers."""
    found: ProviderRegistry = current_app.extensions[EXTENSION_KEY]
    return found


def available_methods(buyer_kind: BuyerKind | str) -> list[MethodChoice]:
    """The methods this buyer may use: configured, allowed by ``PAYMENT_METHODS``, and
    invoice for organisations only (T3.2). The sandbox exists only outside production."""
    allowed = set(current_app.config.get("PAYMENT_METHODS") or ())
    return [
        method
        for method in registry().available_methods(BuyerKind(buyer_kind))
        if method.name in allowed
    ]


def method_label(name: str) -> str:
    """The Swedish label of a payment method (its name when unknown)."""
    for kind in BuyerKind:
        for method in available_methods(kind):
            if method.name == name:
                return method.label_sv
    return name


def provider_for(method: str, buyer_kind: BuyerKind | str) -> PaymentProvider:
    """The provider of a method the buyer may use; raises :class:`MethodNotAvailable`."""
    if method not in {m.name for m in available_methods(buyer_kind)}:
        raise MethodNotAvailable(detail=f"method {method!r} not offered to {buyer_kind}")
    return registry().provider_for_method(method, BuyerKind(buyer_kind))


def sandbox_provider() -> SandboxProvider | None:
    """The sandbox provider, when configured (never in production)."""
    try:
        provider = registry().provider("sandbox")
    except MethodNotAvailable:
        return None
    return provider if isinstance(provider, SandboxProvider) else None


# --- Credit check (T3.2) ----------------------------------------------------------------------


def _invoice_provider() -> InvoiceProvider:
    provider = registry().provider("invoice")
    if not isinstance(provider, InvoiceProvider):
        raise MethodNotAvailable(detail="invoice provider missing")
    return provider


def _record_credit_check(
    decision: CreditDecision,
    *,
    amount_ore: int,
    customer_id: int | None,
    order_id: int | None,
    organisation_number: str | None,
) -> None:
    db.session.add(
        CreditCheck(
            order_id=order_id,
            customer_id=customer_id,
            organisation_number=decision.organisation_number or organisation_number,
            amount_ore=amount_ore,
            approved=decision.approved,
            reason=decision.reason_sv[:300],
            checked_at=decision.checked_at,
        )
    )


def check_invoice_credit(
    *,
    organisation_number: str,
    amount_ore: int,
    customer_id: int | None,
    order_id: int | None = None,
    now: datetime,
) -> CreditDecision:
    """T3.2: ask the credit checker whether the organisation may pay ``amount_ore`` by invoice.

    Every decision is kept as a ``CreditCheck`` row (commits). A checker that
    cannot be reached raises :class:`~shop.payments.errors.ProviderUnavailable`.
    """
    checker = _invoice_provider().checker
    decision = checker.check(organisation_number, amount_ore, now)
    number = organisation_number if len(organisation_number) <= 11 else None
    _record_credit_check(
        decision,
        amount_ore=amount_ore,
        customer_id=customer_id,
        order_id=order_id,
        organisation_number=number,
    )
    db.session.commit()
    return decision


# --- Starting a payment ------------------------------------------------------------------------

_DIGITAL_KINDS = ("download", "software_code")


def payment_lines(order: Order) -> tuple[PaymentLine, ...]:
    """The order's lines and fees as the provider shows them (VAT from the domain, T2.1)."""
    lines = [
        PaymentLine.of(
            line.title,
            line.quantity,
            line.unit_price_ore,
            line.vat_rate_bp,
            reference=line.sku,
            kind=LineKind.DIGITAL if line.kind in _DIGITAL_KINDS else LineKind.PHYSICAL,
        )
        for line in order.lines
    ]
    lines.extend(
        PaymentLine.of(
            fee.label,
            1,
            fee.amount_ore,
            fee.vat_rate_bp,
            reference=f"fee-{fee.kind}",
            kind=LineKind.SHIPPING_FEE if fee.kind == "delivery" else LineKind.SURCHARGE,
        )
        for fee in order.fees
        if fee.amount_ore > 0
    )
    return tuple(lines)


def _request(order: Order, payment: Payment, return_url: str, cancel_url: str) -> PaymentRequest:
    lines = payment_lines(order)
    if sum(line.total_ore for line in lines) != order.total_ore:
        raise PaymentError(
            str(MSG_AMOUNT_MISMATCH), detail=f"order {order.number}: lines != total_ore"
        )
    return PaymentRequest(
        order_reference=str(order.number),
        amount_ore=payment.amount_ore,
        lines=lines,
        customer_email=order.email,
        success_url=return_url,
        cancel_url=cancel_url,
        idempotency_key=payment.idempotency_key,
        locale="en-SE" if order.language == "en" else "sv-SE",
        buyer_kind=BuyerKind(order.buyer_kind),
        organisation_number=order.organisation_number,
        organisation_name=order.organisation_name,
    )


def _lock_order(order: Order) -> Order:
    """Re-read the order under a row lock (PostgreSQL), so a double click starts one payment."""
    locked = db.session.scalar(
        select(Order)
        .where(Order.id == order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    return locked


def _payments_of(order: Order) -> list[Payment]:
    return list(
        db.session.scalars(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id))
    )


def latest_payment(order: Order) -> Payment | None:
    """The order's most recent payment attempt."""
    return db.session.scalar(
        select(Payment).where(Payment.order_id == order.id).order_by(Payment.id.desc()).limit(1)
    )


def _new_key(order: Order) -> str:
    return f"order-{order.number or order.id}-{secrets.token_hex(12)}"


def _open_payment(order: Order, provider: PaymentProvider, method: str, now: datetime) -> Payment:
    """The pending payment of this method to reuse (same idempotency key), or a new one."""
    for payment in reversed(_payments_of(order)):
        if (
            payment.method == method
            and payment.provider == provider.name
            and payment.status == PaymentStatus.PENDING.value
            and payment.amount_ore == order.total_ore
        ):
            return payment
    payment = Payment(
        order_id=order.id,
        provider=provider.name,
        method=method,
        idempotency_key=_new_key(order),
        amount_ore=order.total_ore,
        status=PaymentStatus.PENDING.value,
        created_at=now,
        updated_at=now,
    )
    db.session.add(payment)
    return payment


def _switch_method(order: Order, method: str, now: datetime) -> None:
    """Pay the order another way (after a refusal): only while nothing is under way elsewhere.

    Pending attempts of the old method are cancelled at their provider first,
    so the buyer can never pay twice. Leaving invoice drops the invoice fee
    row (T3.3) and its amount from the order's totals. Invoice itself is
    chosen in the checkout (credit check first), not here.
    """
    if method == "invoice":
        raise MethodNotAvailable(detail="invoice is chosen in the checkout")
    buyer = BuyerKind(order.buyer_kind)
    provider_for(method, buyer)
    for payment in _payments_of(order):
        if payment.status in CONFIRMING_STATUSES:
            raise PaymentError(str(MSG_CANNOT_SWITCH), detail=f"payment {payment.id} settled")
        if payment.status != PaymentStatus.PENDING.value:
            continue
        if payment.provider_reference:
            try:
                state = (
                    registry()
                    .provider(payment.provider)
                    .cancel(payment.provider_reference, f"{payment.idempotency_key}:cancel")
                )
            except PaymentError as error:
                raise PaymentError(str(MSG_CANNOT_SWITCH), detail=error.detail) from error
            if state not in (PaymentState.CANCELLED, PaymentState.EXPIRED):
                raise PaymentError(str(MSG_CANNOT_SWITCH), detail=f"cancel gave {state}")
        _set_status(payment, PaymentStatus.CANCELLED, now)
    for fee in list(order.fees):
        if fee.kind == "invoice":
            order.total_ore -= fee.amount_ore
            order.vat_ore -= fee.vat_ore
            order.fees.remove(fee)
    db.session.add(
        AuditEntry(
            at=now,
            actor=SYSTEM,
            action="order.payment_method",
            subject_type="order",
            subject_id=str(order.id),
            details={"from": order.payment_method, "to": method},
        )
    )
    order.payment_method = method


def start_payment(
    order: Order,
    *,
    now: datetime,
    return_url: str,
    cancel_url: str,
    method: str | None = None,
) -> PaymentStart:
    """Start (or resume) paying ``order`` with its payment method (or ``method``, switching).

    The ``Payment`` row and its idempotency key are committed before the
    provider is called; a retry reuses both, so the provider creates one
    session. On a :class:`~shop.payments.errors.PaymentError` the order stays
    ``pending_payment`` and the error (its Swedish ``message``) is raised for
    the page to show. An invoice order is credit-checked (a ``CreditCheck``
    row, T3.2), authorised at once and confirmed (C's ``confirm_order``).
    Commits.
    """
    order = _lock_order(order)
    if order.status != OrderStatus.PENDING_PAYMENT.value:
        db.session.rollback()
        raise PaymentError(str(MSG_NOT_PENDING), detail=f"order {order.number} is {order.status}")
    try:
        if method and method != order.payment_method:
            _switch_method(order, method, now)
        provider = provider_for(order.payment_method, order.buyer_kind)
        payment = _open_payment(order, provider, order.payment_method, now)
        request = _request(order, payment, return_url, cancel_url)
    except PaymentError:
        db.session.rollback()
        raise
    db.session.commit()  # the key is stored before the provider sees it
    try:
        start = provider.start_payment(request, payment.created_at)
    except InvoiceRefused as error:
        if isinstance(error.decision, CreditDecision):
            _record_credit_check(
                error.decision,
                amount_ore=payment.amount_ore,
                customer_id=order.customer_id,
                order_id=order.id,
                organisation_number=order.organisation_number,
            )
        _fail_start(payment, error, now)
        raise
    except PaymentDeclined as error:
        _fail_start(payment, error, now)
        raise
    except PaymentError as error:
        payment.failure_message = error.message
        payment.updated_at = now
        db.session.commit()
        log.warning("payment %s could not start: %s", payment.id, error.detail)
        raise
    payment.provider_reference = start.provider_reference
    payment.failure_message = None
    payment.updated_at = now
    if start.credit_decision is not None:
        _record_credit_check(
            start.credit_decision,
            amount_ore=payment.amount_ore,
            customer_id=order.customer_id,
            order_id=order.id,
            organisation_number=order.organisation_number,
        )
    if start.state is not PaymentState.PENDING:
        _apply(payment, start.state, now=now, source=f"start:{start.provider}")
    db.session.commit()
    return start


def _fail_start(payment: Payment, error: PaymentError, now: datetime) -> None:
    """The provider said no at the start: this attempt failed, the order waits for another."""
    payment.failure_message = error.message
    _set_status(payment, PaymentStatus.FAILED, now)
    db.session.commit()


def place_widget_order(
    order: Order,
    authorization_token: str,
    *,
    now: datetime,
    return_url: str,
    cancel_url: str,
) -> PaymentStart:
    """Klarna: turn the widget's ``authorization_token`` into an order at the provider.

    The result's reference (Klarna's order id) replaces the session id on the
    ``Payment`` row; an authorised order is confirmed at once. A repeated post
    reuses the idempotency key (the same order at Klarna). Commits.
    """
    order = _lock_order(order)
    payment = latest_payment(order)
    if (
        order.status != OrderStatus.PENDING_PAYMENT.value
        or payment is None
        or payment.status != PaymentStatus.PENDING.value
    ):
        db.session.rollback()
        raise PaymentError(str(MSG_NOT_PENDING), detail=f"order {order.number} is {order.status}")
    provider = registry().provider(payment.provider)
    if not isinstance(provider, WidgetPaymentProvider):
        db.session.rollback()
        raise MethodNotAvailable(detail=f"{payment.provider} has no widget")
    request = _request(order, payment, return_url, cancel_url)
    db.session.commit()
    try:
        start = provider.place_order(request, authorization_token, payment.created_at)
    except PaymentDeclined as error:
        _fail_start(payment, error, now)
        raise
    except PaymentError as error:
        payment.failure_message = error.message
        payment.updated_at = now
        db.session.commit()
        raise
    payment.provider_reference = start.provider_reference
    payment.failure_message = None
    payment.updated_at = now
    if start.state is not PaymentState.PENDING:
        _apply(payment, start.state, now=now, source=f"place:{start.provider}")
    db.session.commit()
    return start


# --- Applying a provider's state ---------------------------------------------------------------


def _set_status(payment: Payment, status: PaymentStatus, now: datetime) -> None:
    current = PaymentStatus(payment.status)
    if current is status:
        return
    payment.status = require_transition(current, status).value
    payment.updated_at = now
    if status is PaymentStatus.CAPTURED and payment.captured_at is None:
        payment.captured_at = now


def _audit(payment: Payment, action: str, details: dict[str, Any], now: datetime) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=SYSTEM,
            action=action,
            subject_type="payment",
            subject_id=str(payment.id),
            details=details,
        )
    )


def _apply(payment: Payment, state: PaymentState, *, now: datetime, source: str) -> bool:
    """Move the payment to ``state`` if the transition table allows it, then the order.

    Returns False (and records why) when the change is not allowed: the
    payment and the order stay as they are. Does not commit.
    """
    current = PaymentStatus(payment.status)
    target = STATUS_FOR_STATE[state]
    if current is target:
        return True
    if not can_transition(current, target):
        _audit(
            payment,
            "payment.event_ignored",
            {"from": current.value, "to": target.value, "source": source[:120]},
            now,
        )
        log.info("payment %s: %s → %s ignored (%s)", payment.id, current, target, source)
        return False
    _set_status(payment, target, now)
    _audit(payment, "payment.status", {"from": current.value, "to": target.value}, now)
    order = db.session.get(Order, payment.order_id)
    assert order is not None
    try:
        _order_effects(order, payment, state, now=now, source=source)
    except IllegalTransition as error:
        _audit(payment, "payment.order_unchanged", {"reason": str(error)[:200]}, now)
    return True


def _order_effects(
    order: Order, payment: Payment, state: PaymentState, *, now: datetime, source: str
) -> None:
    from shop.services import fulfilment, orders

    status = OrderStatus(order.status)
    if state.confirms_order:
        if status is OrderStatus.PENDING_PAYMENT:
            fulfilment.confirm_order(order, now=now)
        elif status is OrderStatus.CANCELLED:
            # Money arrived for an order already cancelled (it expired): give it back.
            _audit(payment, "payment.after_cancellation", {"state": state.value}, now)
            db.session.info.setdefault(UNDO_KEY, []).append(payment.id)
        return
    if STATUS_FOR_STATE[state] not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return
    if status is not OrderStatus.PENDING_PAYMENT:
        return
    latest = latest_payment(order)
    settled = any(p.status in CONFIRMING_STATUSES for p in _payments_of(order))
    if latest is not None and latest.id == payment.id and not settled:
        orders.release_order(order, reason=f"payment {state.value}", now=now)


def _find_payment(event: ProviderEvent) -> Payment | None:
    query = select(Payment).where(
        Payment.provider == event.provider,
        Payment.provider_reference == event.provider_reference,
    )
    payment = db.session.scalar(query.with_for_update())
    if payment is not None or not event.order_reference:
        return payment
    # The provider's reference was never stored (the answer to the start was lost):
    # the order's attempt at this provider without a reference is the one.
    order = db.session.scalar(select(Order).where(Order.number == event.order_reference))
    if order is None:
        return None
    candidate = db.session.scalar(
        select(Payment)
        .where(
            Payment.order_id == order.id,
            Payment.provider == event.provider,
            Payment.provider_reference.is_(None),
        )
        .order_by(Payment.id.desc())
        .limit(1)
        .with_for_update()
    )
    if candidate is not None:
        candidate.provider_reference = event.provider_reference
    return candidate


def handle_event(event: ProviderEvent, *, now: datetime) -> bool:
    """Apply a verified provider event exactly once. Returns False for a replay.

    The ``ProviderEvent`` row is inserted first; its unique (provider,
    event_id) makes a second delivery fail there and change nothing. The row
    and every effect commit together. An event the transition table does not
    allow is recorded and ignored (never an error).
    """
    db.session.add(
        ProviderEventRow(
            provider=event.provider,
            event_id=event.event_id[:255],
            kind=event.kind[:100],
            received_at=now,
        )
    )
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    row = db.session.scalar(
        select(ProviderEventRow).where(
            ProviderEventRow.provider == event.provider,
            ProviderEventRow.event_id == event.event_id[:255],
        )
    )
    try:
        if event.state is not None:
            payment = _find_payment(event)
            if payment is None:
                log.warning("%s event %s matches no payment", event.provider, event.event_id)
            elif (
                event.amount_ore is not None
                and event.state.confirms_order
                and event.amount_ore != payment.amount_ore
            ):
                _audit(
                    payment,
                    "payment.amount_mismatch",
                    {"event": event.event_id[:80], "amount_ore": event.amount_ore},
                    now,
                )
            else:
                _apply(payment, event.state, now=now, source=f"{event.kind}:{event.event_id}")
        if row is not None:
            row.processed_at = now
        db.session.commit()
    except BaseException:
        db.session.info.pop(UNDO_KEY, None)
        db.session.rollback()
        raise
    for payment_id in db.session.info.pop(UNDO_KEY, []):
        _give_back(payment_id, now=now)
    return True


def _give_back(payment_id: int, *, now: datetime) -> None:
    """Refund (or cancel, if only authorised) a payment made for an order already cancelled.

    The provider call uses a key derived from the payment's, so a repeat
    gives the same refund. A failure is logged and audited for staff.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None or not payment.provider_reference:
        return
    status = PaymentStatus(payment.status)
    key = f"{payment.idempotency_key}:undo"
    try:
        provider = registry().provider(payment.provider)
        if status is PaymentStatus.CAPTURED:
            result = provider.refund(
                RefundRequest(
                    payment.provider_reference,
                    payment.amount_ore,
                    key,
                    reason="order cancelled before the payment arrived",
                )
            )
            payment.refunded_ore = min(result.amount_ore, payment.amount_ore)
            target = PaymentStatus.REFUNDED
        elif status is PaymentStatus.AUTHORISED:
            provider.cancel(payment.provider_reference, key)
            target = PaymentStatus.CANCELLED
        else:
            return
    except PaymentError as error:
        db.session.rollback()
        payment = db.session.get(Payment, payment_id)
        assert payment is not None
        _audit(payment, "payment.undo_failed", {"detail": error.detail[:200]}, now)
        db.session.commit()
        log.error("payment %s for a cancelled order not given back: %s", payment_id, error.detail)
        return
    _set_status(payment, target, now)
    _audit(payment, "payment.given_back", {"from": status.value, "to": target.value}, now)
    db.session.commit()


def refresh_state(order: Order, *, now: datetime) -> PaymentState:
    """Where the order's payment stands, asked of the provider (never the redirect).

    A state that differs from the stored one is applied through
    :func:`handle_event` with an event id made of the provider's reference and
    the state, so it too applies once. When the provider cannot be asked, the
    stored state is returned.
    """
    payment = latest_payment(order)
    if payment is None:
        if order.status == OrderStatus.CANCELLED.value:
            return PaymentState.CANCELLED
        return PaymentState.PENDING
    stored = STATE_FOR_STATUS[PaymentStatus(payment.status)]
    if not payment.provider_reference:
        return stored
    try:
        provider = registry().provider(payment.provider)
        state = provider.fetch_state(payment.provider_reference)
    except PaymentError as error:
        log.info("payment %s: state not available: %s", payment.id, error.detail)
        return stored
    if STATUS_FOR_STATE[state].value != payment.status:
        handle_event(
            ProviderEvent(
                provider=payment.provider,
                event_id=f"refresh:{payment.provider_reference}:{state.value}",
                kind="refresh",
                provider_reference=payment.provider_reference,
                state=state,
                order_reference=order.number,
            ),
            now=now,
        )
        db.session.refresh(payment)
    current = PaymentStatus(payment.status)
    return state if STATUS_FOR_STATE[state] is current else STATE_FOR_STATUS[current]


# --- Pages' helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxPage:
    """What the test payment page shows."""

    reference: str
    order: Order
    amount_ore: int
    state: PaymentState


def sandbox_payment(reference: str) -> SandboxPage | None:
    """The test payment ``reference`` and its order; None if unknown (or no sandbox)."""
    provider = sandbox_provider()
    if provider is None:
        return None
    payment = db.session.scalar(
        select(Payment).where(
            Payment.provider == "sandbox", Payment.provider_reference == reference
        )
    )
    if payment is None:
        return None
    order = db.session.get(Order, payment.order_id)
    assert order is not None
    try:
        state = provider.fetch_state(reference)
    except PaymentError:
        return None
    return SandboxPage(reference, order, payment.amount_ore, state)


def complete_sandbox_payment(reference: str, outcome: SandboxOutcome, *, now: datetime) -> bool:
    """The buyer's choice on the test page, as a signed event through :func:`handle_event`.

    Returns False for a repeated click (the same event again). Raises
    :class:`~shop.payments.errors.PaymentError` when the outcome is not allowed now.
    """
    provider = sandbox_provider()
    if provider is None:
        raise MethodNotAvailable(detail="no sandbox")
    signed = provider.simulate(reference, outcome, now)
    event = provider.parse_webhook(signed.payload, signed.headers, now)
    return handle_event(event, now=now)


def find_order(number: str) -> Order | None:
    """The order with this number (the page decides who may see it)."""
    return db.session.scalar(select(Order).where(Order.number == str(number)))
