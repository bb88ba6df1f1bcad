"""Parcels that come back (T7): unclaimed (T7.1) or undeliverable for a wrong address (T7.2).

Staff mark a dispatched, not delivered shipment as come back, with the day it
came back and the freight the shop actually paid. The charge comes from the
domain (:func:`shop.domain.delivery.unclaimed_parcel_charges`,
:func:`shop.domain.delivery.undeliverable_parcel_charge`) and is written as
:class:`~shop.models.OrderFee` rows (kind ``unclaimed``/``undeliverable``) on
the order, whose total grows by the same amount: the fee rows are the claim.
An issued invoice is a bookkeeping record and is never changed; the e-mail to
the customer says the charge is deducted from a refund or invoiced separately.

For an unclaimed parcel the delivery fee the buyer already paid is offset
against the outbound freight (the domain leaves that to the service); each
order's delivery fee is offset once, whichever of its parcels comes back
first. The goods in the parcel go back on the shelf (``on_hand += q``, a
``restock`` movement); the order moves to ``returned_to_sender`` when the
transition table allows it. Marking the same parcel again does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select

from shop.domain.delivery import unclaimed_parcel_charges, undeliverable_parcel_charge
from shop.domain.fees import FeeLine
from shop.domain.lifecycle import OrderStatus, can_transition
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.domain.vat import vat_of_gross
from shop.extensions import db
from shop.models import AuditEntry, Order, OrderFee, Shipment
from shop.services import mail, orders, stock
from shop.services.shipping import ShippingError, staff_actor

ACTION = "shipment.returned"
MAIL_TEMPLATE = "returned_parcel"


class ReturnedKind(StrEnum):
    """Why a parcel came back (the shipment's ``returned_kind``)."""

    #: T7.1: the buyer did not collect it (outlöst paket).
    UNCLAIMED = "unclaimed"
    #: T7.2: it could not be delivered because the buyer gave a wrong address.
    UNDELIVERABLE = "undeliverable"

    @property
    def rule_id(self) -> str:
        return "T7.1" if self is ReturnedKind.UNCLAIMED else "T7.2"


#: The staff page's headings and the mail's reason, per kind.
KIND_LABELS: dict[ReturnedKind, LazyString] = {
    ReturnedKind.UNCLAIMED: _l("Outlöst paket"),
    ReturnedKind.UNDELIVERABLE: _l("Kunde inte levereras"),
}

#: The domain's Swedish fee labels, so that an English mail shows them translated.
FEE_LABELS: dict[str, LazyString] = {
    "Frakt till dig (outlöst paket)": _l("Frakt till dig (outlöst paket)"),
    "Returfrakt (outlöst paket)": _l("Returfrakt (outlöst paket)"),
    "Administrativ avgift (outlöst paket)": _l("Administrativ avgift (outlöst paket)"),
    "Fraktkostnad (felaktig adress, kom i retur)": _l(
        "Fraktkostnad (felaktig adress, kom i retur)"
    ),
}


def fee_label(label: str) -> str | LazyString:
    return FEE_LABELS.get(label, label)


@dataclass(frozen=True)
class ReturnedResult:
    shipment: Shipment
    #: False when the parcel was already marked as come back (nothing happened).
    marked: bool
    #: The fee rows written (empty when nothing happened).
    fees: tuple[OrderFee, ...]


def can_be_marked(shipment: Shipment) -> bool:
    """Dispatched, not delivered and not already marked as come back."""
    return (
        shipment.dispatched_on is not None
        and shipment.delivered_on is None
        and shipment.returned_kind is None
    )


def _offset_used(order_id: int) -> int:
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.subject_type == "order",
            AuditEntry.subject_id == str(order_id),
            AuditEntry.action == ACTION,
        )
    )
    return sum(int(entry.details.get("delivery_fee_offset_ore", 0)) for entry in entries)


def _charges(
    order: Order,
    kind: ReturnedKind,
    *,
    freight_ore: int,
    return_freight_ore: int,
    policy: Policy,
) -> tuple[tuple[FeeLine, ...], int]:
    """The domain's fee lines and the delivery fee offset against the outbound freight."""
    if kind is ReturnedKind.UNDELIVERABLE:
        return (undeliverable_parcel_charge(freight_ore, policy=policy),), 0
    paid = sum(fee.amount_ore for fee in order.fees if fee.kind == "delivery")
    available = max(paid - _offset_used(order.id), 0)
    offset = min(available, freight_ore)
    lines = unclaimed_parcel_charges(freight_ore - offset, return_freight_ore, policy=policy)
    return lines, offset


def _check(
    shipment: Shipment,
    returned_on: date,
    *,
    freight_ore: int,
    return_freight_ore: int,
    today: date,
) -> None:
    if shipment.dispatched_on is None:
        raise ShippingError(_("Försändelsen är inte skickad än."))
    if shipment.delivered_on is not None:
        raise ShippingError(
            _("Försändelsen är redan levererad och kan inte markeras som tillbakakommen.")
        )
    if returned_on < shipment.dispatched_on:
        raise ShippingError(
            _(
                "Returdatumet kan inte vara före avsändningsdagen %(day)s.",
                day=shipment.dispatched_on.isoformat(),
            )
        )
    if returned_on > today:
        raise ShippingError(_("Returdatumet kan inte ligga i framtiden."))
    if freight_ore < 0 or return_freight_ore < 0:
        raise ShippingError(_("Fraktkostnaden kan inte vara negativ."))


def mark_returned(
    shipment: Shipment,
    kind: ReturnedKind,
    returned_on: date,
    *,
    freight_ore: int,
    return_freight_ore: int = 0,
    staff_id: int,
    today: date,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> ReturnedResult:
    """T7: mark a parcel as come back, charge the buyer, restock, tell the customer.

    ``freight_ore`` is the actual freight: the outbound freight for an
    unclaimed parcel (with ``return_freight_ore`` the freight back, T7.1), the
    actual freight cost for an undeliverable one (T7.2). Refused (with a
    Swedish message) unless dispatched and not delivered, or for a day before
    dispatch or in the future. A second call does nothing. Commits.
    """
    kind = ReturnedKind(kind)
    shipment = stock.lock_row(Shipment, shipment.id)
    if shipment.returned_kind is not None:
        db.session.rollback()
        return ReturnedResult(shipment, False, ())
    try:
        _check(
            shipment,
            returned_on,
            freight_ore=freight_ore,
            return_freight_ore=return_freight_ore if kind is ReturnedKind.UNCLAIMED else 0,
            today=today,
        )
    except ShippingError:
        db.session.rollback()
        raise
    order = stock.lock_row(Order, shipment.order_id)
    lines, offset = _charges(
        order,
        kind,
        freight_ore=freight_ore,
        return_freight_ore=return_freight_ore,
        policy=policy,
    )
    fees = tuple(
        OrderFee(
            order_id=order.id,
            kind=line.kind.value,
            label=line.label_sv,
            amount_ore=line.amount_ore,
            vat_rate_bp=line.vat_rate_bp,
            vat_ore=vat_of_gross(line.amount_ore, line.vat_rate_bp),
            created_at=now,
        )
        for line in lines
        if line.amount_ore > 0
    )
    for fee in fees:
        order.fees.append(fee)
        order.total_ore += fee.amount_ore
        order.vat_ore += fee.vat_ore
    shipment.returned_kind = kind.value
    shipment.returned_on = returned_on
    stock.restock(stock.quantities_in(shipment), order_id=order.id, now=now)
    actor = staff_actor(staff_id)
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action=ACTION,
            subject_type="order",
            subject_id=str(order.id),
            details={
                "shipment_id": shipment.id,
                "kind": kind.value,
                "returned_on": returned_on.isoformat(),
                "freight_ore": freight_ore,
                "return_freight_ore": return_freight_ore if kind is ReturnedKind.UNCLAIMED else 0,
                "delivery_fee_offset_ore": offset,
                "charged_ore": sum(fee.amount_ore for fee in fees),
            },
            rule_id=kind.rule_id,
        )
    )
    current = OrderStatus(order.status)
    if can_transition(current, OrderStatus.RETURNED_TO_SENDER):
        orders.record_transition(
            order, OrderStatus.RETURNED_TO_SENDER, actor=actor, now=now, rule_id=kind.rule_id
        )
    _queue_mail(order, shipment, kind, fees, offset, now=now)
    db.session.commit()
    return ReturnedResult(shipment, True, fees)


def _queue_mail(
    order: Order,
    shipment: Shipment,
    kind: ReturnedKind,
    fees: tuple[OrderFee, ...],
    offset: int,
    *,
    now: datetime,
) -> None:
    mail.queue_templated_mail(
        to=order.email,
        subject=_l(
            "Din försändelse från order %(number)s kom tillbaka till oss", number=order.number
        ),
        template=MAIL_TEMPLATE,
        context={
            "order": order,
            "shipment": shipment,
            "kind": kind.value,
            "fees": [(fee_label(fee.label), fee) for fee in fees],
            "total_ore": sum(fee.amount_ore for fee in fees),
            "total_vat_ore": sum(fee.vat_ore for fee in fees),
            "offset_ore": offset,
        },
        now=now,
        language=order.language,
    )
