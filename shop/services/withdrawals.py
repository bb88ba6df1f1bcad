"""The withdrawal function, "Ångra köpet" (T5.9), and staff entry of a withdrawal by letter.

Every decision comes from :mod:`shop.domain.withdrawal`: who may withdraw
(T5.1), each item's "Sista dag att ångra" (T5.2, T5.3), which items are
excluded (T5.4) and when the refund is due (T5.8). This module gathers the
facts from the database (the order's parcels and their delivery dates, the
codes shown, the downloads started) and records the result.

:func:`submit_withdrawal` records a :class:`~shop.models.Withdrawal` and its
lines, moves the order to ``partly_withdrawn`` or ``withdrawn`` through
:func:`shop.services.orders.record_transition` when the transition table
allows it, and queues the acknowledgement mail in the same transaction. A
repeated submission (the same ``submission_key``) returns the first
withdrawal and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop.clock import STOCKHOLM, local_date
from shop.domain.buyers import BuyerKind
from shop.domain.calendar import format_date_sv
from shop.domain.catalog import ProductKind
from shop.domain.errors import NoWithdrawalRightForOrganisations, WithdrawalRefused
from shop.domain.lifecycle import OrderStatus, can_transition
from shop.domain.withdrawal import (
    WithdrawalDecision,
    WithdrawalItem,
    WithdrawalOrder,
    refund_deadline,
    require_withdrawal_allowed,
    withdrawal_decision,
)
from shop.extensions import db
from shop.models import AuditEntry, Order, OrderLine
from shop.models.aftersale import Shipment, Withdrawal, WithdrawalLine
from shop.models.digital import DownloadGrant, SoftwareCode
from shop.services import mail

ACK_TEMPLATE = "withdrawal_ack"
CHANNELS = ("function", "form", "staff_entry")
#: An order in these states has nothing to withdraw from (never paid, or cancelled).
CLOSED_STATUSES = (OrderStatus.PENDING_PAYMENT.value, OrderStatus.CANCELLED.value)


class WithdrawalInputError(Exception):
    """The submitted withdrawal does not hold together (nothing chosen, too many units …)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LineState:
    """One order line as the withdrawal function shows it."""

    line: OrderLine
    withdrawn: int
    decision: WithdrawalDecision
    item: WithdrawalItem

    @property
    def remaining(self) -> int:
        return self.line.quantity - self.withdrawn

    @property
    def withdrawable(self) -> bool:
        return self.decision.allowed and self.remaining > 0

    @property
    def last_day(self) -> date | None:
        """ "Sista dag att ångra" (T5.2, T5.3); None while the goods are on their way."""
        return self.decision.last_day

    @property
    def reason(self) -> str:
        """Why the line cannot be withdrawn (Swedish), or the domain's note."""
        if self.decision.allowed and self.remaining <= 0:
            return _("Hela antalet är redan ångrat.")
        return self.decision.reason_sv


@dataclass(frozen=True)
class Overview:
    """What may be withdrawn from an order on a day, line by line."""

    order: Order
    on: date
    lines: list[LineState] = field(default_factory=list)
    #: Why nothing can be withdrawn from the order at all (Swedish), or None.
    closed_reason: str | None = None

    @property
    def withdrawable(self) -> list[LineState]:
        return [state for state in self.lines if state.withdrawable]

    @property
    def not_withdrawable(self) -> list[LineState]:
        return [state for state in self.lines if not state.withdrawable]

    @property
    def open(self) -> bool:
        """True while the function is offered: something may still be withdrawn."""
        return self.closed_reason is None and bool(self.withdrawable)

    @property
    def last_day(self) -> date | None:
        """The latest "Sista dag att ångra" among the withdrawable lines (None: not started)."""
        days = [state.last_day for state in self.withdrawable]
        if any(day is None for day in days) or not days:
            return None
        return max(day for day in days if day is not None)

    def state(self, line_id: int) -> LineState | None:
        return next((s for s in self.lines if s.line.id == line_id), None)


# --- Facts --------------------------------------------------------------------------------


def withdrawn_quantities(order: Order) -> dict[int, int]:
    """Units already withdrawn per order line (every withdrawal of the order)."""
    rows = db.session.execute(
        select(WithdrawalLine.order_line_id, func.sum(WithdrawalLine.quantity))
        .join(Withdrawal, Withdrawal.id == WithdrawalLine.withdrawal_id)
        .where(Withdrawal.order_id == order.id)
        .group_by(WithdrawalLine.order_line_id)
    ).all()
    return {int(line_id): int(total) for line_id, total in rows}


def parcels_delivered_on(order: Order, on: date) -> tuple[date | None, ...]:
    """T5.2: one entry per parcel of the order's shipped goods, as known on ``on``.

    A parcel delivered after ``on`` (a letter dated before the delivery) or
    sent back to the shop counts as not yet received; shipped lines not yet
    (fully) in a parcel add an entry "on its way". An order without shipped
    goods has no parcels (downloads and codes run from the order day).
    """
    shipped = [line for line in order.lines if ProductKind(line.kind).is_shipped]
    if not shipped:
        return ()
    shipments = list(
        db.session.scalars(
            select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id)
        )
    )
    parcels: list[date | None] = []
    covered: dict[int, int] = {}
    for shipment in shipments:
        if shipment.returned_kind is not None:
            continue
        delivered = shipment.delivered_on
        parcels.append(delivered if delivered is not None and delivered <= on else None)
        for shipment_line in shipment.lines:
            covered[shipment_line.order_line_id] = (
                covered.get(shipment_line.order_line_id, 0) + shipment_line.quantity
            )
    if any(covered.get(line.id, 0) < line.quantity for line in shipped):
        parcels.append(None)
    return tuple(parcels)


def _code_revealed(line: OrderLine) -> bool:
    return (
        db.session.scalar(
            select(func.count(SoftwareCode.id)).where(
                SoftwareCode.order_line_id == line.id, SoftwareCode.revealed_at.is_not(None)
            )
        )
        or 0
    ) > 0


def _download_started(line: OrderLine) -> bool:
    return (
        db.session.scalar(
            select(func.count(DownloadGrant.id)).where(
                DownloadGrant.order_line_id == line.id,
                DownloadGrant.first_download_at.is_not(None),
            )
        )
        or 0
    ) > 0


def item_facts(line: OrderLine) -> WithdrawalItem:
    """T5.4: the facts of one line. Boxed software counts as sealed until an inspection
    records otherwise; a code is in use once shown; a download started through the
    link was started with the consumer's consent (the link page says so)."""
    kind = ProductKind(line.kind)
    code_activated = kind in (
        ProductKind.SOFTWARE_CODE,
        ProductKind.SOFTWARE_BOXED,
    ) and _code_revealed(line)
    started = kind is ProductKind.DOWNLOAD and _download_started(line)
    return WithdrawalItem(
        kind=kind,
        code_activated=code_activated,
        download_started=started,
        download_consent_given=started,
    )


def order_facts(order: Order, on: date) -> WithdrawalOrder:
    return WithdrawalOrder(
        buyer_kind=BuyerKind(order.buyer_kind),
        ordered_on=local_date(order.placed_at),
        parcels_delivered_on=parcels_delivered_on(order, on),
    )


def overview(order: Order, on: date) -> Overview:
    """Each line's decision on ``on`` (T5.1–T5.4), with what is already withdrawn."""
    if order.status in CLOSED_STATUSES or order.anonymised_at is not None:
        return Overview(order, on, [], _("Ordern går inte att ångra."))
    facts = order_facts(order, on)
    withdrawn = withdrawn_quantities(order)
    states = []
    for line in order.lines:
        item = item_facts(line)
        decision = withdrawal_decision(facts, item, on)
        states.append(LineState(line, withdrawn.get(line.id, 0), decision, item))
    closed = None
    if BuyerKind(order.buyer_kind) is not BuyerKind.CONSUMER and states:
        closed = states[0].decision.reason_sv
    return Overview(order, on, states, closed)


# --- Submitting ---------------------------------------------------------------------------


def received_at_for(received_on: date, *, now: datetime) -> datetime:
    """The instant for a letter received on ``received_on``: now if today, else that
    day's start in Stockholm (the time of day of a letter is not known)."""
    if received_on == local_date(now):
        return now
    return datetime.combine(received_on, time(0, 0), tzinfo=STOCKHOLM)


def received_text(withdrawal: Withdrawal) -> str:
    """ "24 november 2026 kl. 14:05" (Stockholm); only the date for a letter of an earlier day."""
    local = withdrawal.received_at.astimezone(STOCKHOLM)
    text = format_date_sv(local.date())
    if withdrawal.channel == "function" or local.date() == local_date(withdrawal.created_at):
        text += f" kl. {local:%H:%M}"
    return text


def find_by_key(submission_key: str) -> Withdrawal | None:
    return db.session.scalar(select(Withdrawal).where(Withdrawal.submission_key == submission_key))


def withdrawals_of(order: Order) -> list[Withdrawal]:
    return list(
        db.session.scalars(
            select(Withdrawal).where(Withdrawal.order_id == order.id).order_by(Withdrawal.id)
        )
    )


def _locked(order: Order) -> Order:
    query = select(Order).where(Order.id == order.id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).one()


def validate_selection(
    view: Overview, quantities: Mapping[int, int]
) -> list[tuple[LineState, int]]:
    """The chosen lines with their quantities; raises :class:`WithdrawalInputError` or the
    domain's :class:`WithdrawalRefused` (T5.1, T5.2, T5.4) with the Swedish reason."""
    if view.closed_reason is not None:
        if BuyerKind(view.order.buyer_kind) is not BuyerKind.CONSUMER:
            raise NoWithdrawalRightForOrganisations(view.closed_reason)
        raise WithdrawalInputError(view.closed_reason)
    chosen = {line_id: qty for line_id, qty in quantities.items() if qty}
    if not chosen:
        raise WithdrawalInputError(_("Välj minst en vara att ångra."))
    facts = order_facts(view.order, view.on)
    selection = []
    for line_id, quantity in sorted(chosen.items()):
        state = view.state(line_id)
        if state is None:
            raise WithdrawalInputError(_("Varan finns inte i ordern."))
        require_withdrawal_allowed(facts, state.item, view.on)
        if quantity < 0 or quantity > state.remaining:
            raise WithdrawalInputError(
                _(
                    "Du kan ångra högst %(count)s st av %(title)s.",
                    count=state.remaining,
                    title=state.line.title,
                )
            )
        selection.append((state, quantity))
    return selection


def submit_withdrawal(
    order: Order,
    *,
    name: str,
    email: str,
    quantities: Mapping[int, int],
    submission_key: str,
    channel: str,
    received_at: datetime,
    actor: str,
    now: datetime,
    entered_by: str | None = None,
) -> tuple[Withdrawal, bool]:
    """Record a withdrawal (T5.9) and queue its acknowledgement; commits.

    The domain decides on the Stockholm date of ``received_at`` (for a letter,
    the day it was received). Returns the withdrawal and whether it is new:
    a repeated ``submission_key`` returns the first one and does nothing.
    Raises :class:`WithdrawalRefused` (T5.1, T5.2, T5.4) or
    :class:`WithdrawalInputError`; nothing is stored then.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    existing = find_by_key(submission_key)
    if existing is not None:
        if existing.order_id != order.id:
            raise WithdrawalInputError(_("Ångrandet hör till en annan order."))
        return existing, False
    name, email = name.strip(), email.strip()
    if not name or not email:
        raise WithdrawalInputError(_("Fyll i namn och e-postadress."))
    order = _locked(order)
    received_on = local_date(received_at)
    if received_on < local_date(order.placed_at):
        raise WithdrawalInputError(_("Mottagningsdagen kan inte ligga före beställningen."))
    if received_at > now:
        raise WithdrawalInputError(_("Mottagningsdagen kan inte ligga i framtiden."))
    view = overview(order, received_on)
    try:
        selection = validate_selection(view, quantities)
    except (WithdrawalRefused, WithdrawalInputError):
        db.session.rollback()
        raise
    withdrawal = Withdrawal(
        order_id=order.id,
        received_at=received_at,
        channel=channel,
        name=name[:200],
        email=email[:254],
        refund_due_on=refund_deadline(received_on),
        acknowledged_at=now,
        entered_by=entered_by,
        submission_key=submission_key,
        created_at=now,
    )
    for state, quantity in selection:
        withdrawal.lines.append(WithdrawalLine(order_line_id=state.line.id, quantity=quantity))
    db.session.add(withdrawal)
    try:
        db.session.flush()
    except IntegrityError:
        # The same submission committed in another request a moment ago.
        db.session.rollback()
        again = find_by_key(submission_key)
        if again is None:
            raise
        return again, False
    now_withdrawn = {state.line.id: quantity for state, quantity in selection}
    whole = all(state.remaining - now_withdrawn.get(state.line.id, 0) <= 0 for state in view.lines)
    target = OrderStatus.WITHDRAWN if whole else OrderStatus.PARTLY_WITHDRAWN
    if can_transition(OrderStatus(order.status), target):
        from shop.services import orders

        orders.record_transition(order, target, actor=actor, now=now, rule_id="T5.9")
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action="withdrawal.stated",
            subject_type="order",
            subject_id=str(order.id),
            details={
                "withdrawal": withdrawal.id,
                "channel": channel,
                "received_on": received_on.isoformat(),
                "lines": {str(s.line.id): q for s, q in selection},
            },
            rule_id="T5.9",
        )
    )
    queue_acknowledgement(withdrawal, order, now=now)
    db.session.commit()
    return withdrawal, True


def acknowledgement_context(withdrawal: Withdrawal, order: Order) -> dict[str, Any]:
    return {
        "withdrawal": withdrawal,
        "order": order,
        "received": received_text(withdrawal),
        "refund_due": format_date_sv(withdrawal.refund_due_on),
        "lines": [(line.order_line.title, line.quantity) for line in withdrawal.lines],
    }


def queue_acknowledgement(withdrawal: Withdrawal, order: Order, *, now: datetime) -> None:
    """The acknowledgement of receipt with the content and the time received (T5.9)."""
    mail.queue_templated_mail(
        to=withdrawal.email,
        subject=_("Vi har tagit emot ditt ångrande av order %(number)s", number=order.number),
        template=ACK_TEMPLATE,
        context=acknowledgement_context(withdrawal, order),
        now=now,
    )


# --- The personal link for guests -----------------------------------------------------------


def order_for_guest_lookup(number: str, email: str) -> Order | None:
    """The order with this number and e-mail address (case-insensitive), or None."""
    number, email = number.strip(), email.strip().lower()
    if not number or not email:
        return None
    order = db.session.scalar(select(Order).where(Order.number == number))
    if order is None or order.anonymised_at is not None or order.email.lower() != email:
        return None
    return order


def send_guest_link(
    number: str, email: str, *, link_for: Any, render: Any, now: datetime
) -> int | None:
    """Queue the personal "Ångra köpet" link to the order's own address if the number
    and e-mail match an order; commits. Returns the outbox message id, or None.

    ``link_for(order)`` builds the absolute link; ``render(order, link)`` gives the
    mail's (subject, text). The caller answers the same either way.
    """
    order = order_for_guest_lookup(number, email)
    if order is None:
        return None
    link = link_for(order)
    subject, text = render(order, link)
    message = mail.queue_mail(
        to=order.email, subject=subject, template="withdrawal_link", text=text, now=now
    )
    db.session.commit()
    return int(message.id)
