"""The returns desk: return parcels, inspection, credit notes and refunds (T5.5–T5.8).

Every rule comes from :mod:`shop.domain.withdrawal`: the credit per
inspected line (T5.5), the delivery fee refunded for a withdrawal of the
whole order (T5.6), the refused parcels (T5.7) and the refund deadline
(T5.8). The withdrawal's status follows the domain's transition table:
stated → goods_sent / parcel_refused / received → inspected → refunded.

Approving (:func:`approve`) creates, in one transaction with the withdrawal
row locked (``FOR UPDATE`` on PostgreSQL), one :class:`~shop.models.Refund`
with the unique idempotency key ``refund-withdrawal-<id>`` and one credit
note (a frozen bookkeeping record of the ``credit_note`` series: its content
and its PDF). When nothing physical comes back (downloads and codes, or a
credit of fees only; :func:`shop.domain.withdrawal.goods_to_return`) the
credit is approved without a parcel, straight from the stated withdrawal.
After the commit :func:`send_refund` pays it back through the original
provider with that key: success marks it done and moves the
withdrawal to ``refunded``; a failure leaves it ``failed`` with the error,
to retry with the same key. (Invoice orders never come here: only
consumers withdraw, T5.1, and only organisations pay by invoice, T3.2.)
A complaint decided with a refund (T6, :mod:`shop.services.complaints`) uses
the same refund, credit note and :func:`send_refund`, with the key
``refund-complaint-<id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import clock
from shop.domain.catalog import ProductKind, SizeClass
from shop.domain.delivery import DeliveryItem, estimate_delivery_fee
from shop.domain.errors import DomainError
from shop.domain.lifecycle import (
    PaymentStatus,
    ReturnStatus,
    can_transition,
    require_transition,
)
from shop.domain.policy import DEFAULT_POLICY
from shop.domain.vat import VatLine, split_vat, vat_of_gross
from shop.domain.withdrawal import (
    ReturnCondition,
    credit_for_returned_item,
    credit_without_return,
    delivery_fee_refund,
    goods_to_return,
    refund_due_by,
)
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    Order,
    OrderLine,
    Payment,
    Product,
    Refund,
    ReturnParcel,
)
from shop.models.aftersale import Inspection, Withdrawal
from shop.payments.base import RefundRequest, RefundStatus
from shop.payments.errors import PaymentError
from shop.services import (
    invoicing,
    mail,
    numbering,
    payments,
    pdf,
    receipts,
    stock,
    withdrawals,
)

CREDIT_NOTE_SERIES = "credit_note"
REFUSED_REASONS = ("registered", "cash_on_delivery")
#: Days before the refund deadline when the desk shows it in red (T5.8).
NEAR_DAYS = 3
#: Payment states a refund can be sent against.
REFUNDABLE_PAYMENTS = (PaymentStatus.CAPTURED.value, PaymentStatus.PARTLY_REFUNDED.value)
RECEIVABLE = (ReturnStatus.STATED, ReturnStatus.GOODS_SENT, ReturnStatus.PARCEL_REFUSED)


class ReturnsError(Exception):
    """A desk action that cannot be done; ``message`` is Swedish and shown to staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refusal_text(reason: str) -> str:
    """T5.7: why a parcel was refused, in Swedish."""
    if reason == "registered":
        return _("Paketet skickades rekommenderat.")
    return _("Paketet skickades mot postförskott eller med avgift vid leverans.")


# --- What the desk shows --------------------------------------------------------------------


@dataclass(frozen=True)
class DeskLine:
    """A withdrawn order line, its value and (once inspected) its credit (T5.5)."""

    line: OrderLine
    quantity: int
    inspection: Inspection | None
    #: Nothing is sent back for this line (a download, a code): the domain's credit (T5.8).
    credit_without_return_ore: int | None = None

    @property
    def value_ore(self) -> int:
        return self.line.unit_price_ore * self.quantity

    @property
    def credit_ore(self) -> int | None:
        if self.inspection is not None:
            return self.inspection.credit_ore
        return self.credit_without_return_ore


@dataclass(frozen=True)
class Desk:
    """Everything the returns page shows for one withdrawal."""

    withdrawal: Withdrawal
    order: Order
    parcels: list[ReturnParcel]
    lines: list[DeskLine]
    whole_order: bool
    delivery_fee_paid_ore: int
    delivery_refund_ore: int
    due_on: date | None
    today: date
    #: False when nothing physical comes back (downloads, codes, only fees): no parcel (T5.8).
    goods_to_return: bool = True
    refund: Refund | None = None
    payment: Payment | None = None
    credit_note: BookkeepingRecord | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> ReturnStatus:
        return ReturnStatus(self.withdrawal.status)

    @property
    def accepted_parcel(self) -> ReturnParcel | None:
        return next((p for p in reversed(self.parcels) if p.refused_reason is None), None)

    @property
    def inspected(self) -> bool:
        return bool(self.lines) and all(line.inspection is not None for line in self.lines)

    @property
    def without_return(self) -> bool:
        """T5.8: nothing to send back, so the credit is approved without a parcel."""
        return not self.goods_to_return

    @property
    def lines_credit_ore(self) -> int:
        return sum(line.credit_ore or 0 for line in self.lines)

    @property
    def total_credit_ore(self) -> int:
        return self.lines_credit_ore + self.delivery_refund_ore

    @property
    def deadline(self) -> date:
        """T5.8: the day shown; while the refund may wait for the goods, the 14-day deadline."""
        return self.due_on if self.due_on is not None else self.withdrawal.refund_due_on

    @property
    def deadline_near(self) -> bool:
        """T5.8: red on the page when the deadline is at most three days away (or passed)."""
        done = self.refund is not None and self.refund.status == "done"
        return not done and (self.deadline - self.today).days <= NEAR_DAYS

    @property
    def can_receive(self) -> bool:
        return self.goods_to_return and self.status in RECEIVABLE

    @property
    def can_inspect(self) -> bool:
        return self.status is ReturnStatus.RECEIVED

    @property
    def can_approve(self) -> bool:
        if self.refund is not None:
            return False
        if self.without_return:
            return self.status is ReturnStatus.STATED
        return self.status is ReturnStatus.INSPECTED

    @property
    def can_retry(self) -> bool:
        return self.refund is not None and self.refund.status in ("failed", "sent", "pending")


def get_withdrawal(withdrawal_id: int) -> Withdrawal | None:
    return db.session.get(Withdrawal, withdrawal_id)


def open_returns() -> list[Withdrawal]:
    """Withdrawals not yet refunded, or with a refund not yet done, earliest deadline first."""
    unfinished = select(Refund.withdrawal_id).where(
        Refund.status != "done", Refund.withdrawal_id.is_not(None)
    )
    return list(
        db.session.scalars(
            select(Withdrawal)
            .where(
                (Withdrawal.status != ReturnStatus.REFUNDED.value) | Withdrawal.id.in_(unfinished)
            )
            .order_by(Withdrawal.refund_due_on, Withdrawal.id)
        )
    )


def refund_for(withdrawal: Withdrawal) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.withdrawal_id == withdrawal.id))


def parcels_of(withdrawal: Withdrawal) -> list[ReturnParcel]:
    return list(
        db.session.scalars(
            select(ReturnParcel)
            .where(ReturnParcel.withdrawal_id == withdrawal.id)
            .order_by(ReturnParcel.id)
        )
    )


def _whole_order(withdrawal: Withdrawal, order: Order) -> bool:
    """T5.6: every unit of the order is withdrawn and this is the order's last withdrawal."""
    withdrawn = withdrawals.withdrawn_quantities(order)
    if any(withdrawn.get(line.id, 0) < line.quantity for line in order.lines):
        return False
    last = max(w.id for w in withdrawals.withdrawals_of(order))
    return bool(withdrawal.id == last)


def _cheapest_standard_fee(order: Order, paid_ore: int) -> int:
    """T5.6: the cheapest standard delivery fee for the order's goods (from the domain);
    the fee paid when a product is no longer in the catalogue."""
    items = []
    for line in order.lines:
        product = db.session.get(Product, line.product_id) if line.product_id else None
        if product is None:
            return paid_ore
        items.append(
            DeliveryItem(
                kind=ProductKind(line.kind),
                weight_g=product.weight_g,
                size_class=SizeClass(product.size_class),
                quantity=line.quantity,
            )
        )
    return estimate_delivery_fee(items, DEFAULT_POLICY.delivery)


def _goods_to_return(withdrawal: Withdrawal) -> bool:
    """T5.8 (from the domain): whether any withdrawn line comes back by post."""
    return goods_to_return(ProductKind(line.order_line.kind) for line in withdrawal.lines)


def refund_due_on(withdrawal: Withdrawal, parcels: list[ReturnParcel]) -> date | None:
    """T5.8: when the refund is due; None while it may wait for the goods."""
    back = [p.received_on for p in parcels if p.refused_reason is None]
    return refund_due_by(
        clock.local_date(withdrawal.received_at),
        goods_to_return=_goods_to_return(withdrawal),
        goods_back_on=min(back) if back else None,
    )


def desk(withdrawal: Withdrawal, today: date) -> Desk:
    """The returns page for ``withdrawal`` on ``today``: lines, credits, deadline (T5.5–T5.8)."""
    order = withdrawal.order
    parcels = parcels_of(withdrawal)
    accepted = next((p for p in reversed(parcels) if p.refused_reason is None), None)
    inspections = {i.order_line_id: i for i in (accepted.inspections if accepted else [])}
    to_return = _goods_to_return(withdrawal)
    lines = [
        DeskLine(
            line.order_line,
            line.quantity,
            inspections.get(line.order_line_id),
            None
            if to_return
            else credit_without_return(line.order_line.unit_price_ore * line.quantity),
        )
        for line in withdrawal.lines
    ]
    paid = sum(fee.amount_ore for fee in order.fees if fee.kind == "delivery")
    whole = _whole_order(withdrawal, order)
    delivery_refund = delivery_fee_refund(
        paid, _cheapest_standard_fee(order, paid), whole_order_withdrawn=whole
    )
    refund = refund_for(withdrawal)
    payment = payment_of(order)
    credit_note = (
        db.session.get(BookkeepingRecord, refund.credit_note_id)
        if refund is not None and refund.credit_note_id
        else None
    )
    return Desk(
        withdrawal=withdrawal,
        order=order,
        parcels=parcels,
        lines=lines,
        whole_order=whole,
        delivery_fee_paid_ore=paid,
        delivery_refund_ore=delivery_refund,
        due_on=refund_due_on(withdrawal, parcels),
        today=today,
        goods_to_return=to_return,
        refund=refund,
        payment=payment,
        credit_note=credit_note,
    )


def payment_of(order: Order) -> Payment | None:
    """The order's payment the refund goes back through (the latest settled one)."""
    settled = (*REFUNDABLE_PAYMENTS, PaymentStatus.AUTHORISED.value, PaymentStatus.REFUNDED.value)
    return db.session.scalars(
        select(Payment)
        .where(Payment.order_id == order.id, Payment.status.in_(settled))
        .order_by(Payment.id.desc())
        .limit(1)
    ).first()


# --- Locking and audit ----------------------------------------------------------------------


def _locked(withdrawal_id: int) -> Withdrawal:
    query = select(Withdrawal).where(Withdrawal.id == withdrawal_id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).one()


def _audit(
    action: str,
    subject_type: str,
    subject_id: int,
    details: dict[str, Any],
    *,
    actor: str,
    now: datetime,
    rule_id: str | None = None,
) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            details=details,
            rule_id=rule_id,
        )
    )


def _move(withdrawal: Withdrawal, target: ReturnStatus, *, actor: str, now: datetime) -> None:
    current = ReturnStatus(withdrawal.status)
    withdrawal.status = require_transition(current, target).value
    _audit(
        "return.status",
        "withdrawal",
        withdrawal.id,
        {"from": current.value, "to": target.value, "order": withdrawal.order_id},
        actor=actor,
        now=now,
    )


def staff_actor(staff_id: int | str) -> str:
    return f"staff:{staff_id}"


# --- Receiving a parcel (T5.7) --------------------------------------------------------------


def register_parcel(
    withdrawal: Withdrawal,
    *,
    received_on: date,
    refused_reason: str | None,
    staff_id: int | str,
    now: datetime,
) -> ReturnParcel:
    """Register an arriving return parcel; commits.

    T5.7: a registered or cash-on-delivery parcel is refused: the reason is
    recorded, the withdrawal goes to ``parcel_refused`` and the customer is
    told why. Otherwise the withdrawal goes to ``received``.
    """
    if refused_reason is not None and refused_reason not in REFUSED_REASONS:
        raise ValueError(f"unknown refusal reason {refused_reason!r}")
    if received_on > clock.local_date(now):
        raise ReturnsError(_("Mottagningsdagen kan inte ligga i framtiden."))
    withdrawal = _locked(withdrawal.id)
    if ReturnStatus(withdrawal.status) not in RECEIVABLE:
        db.session.rollback()
        raise ReturnsError(_("Returen är redan mottagen."))
    if not _goods_to_return(withdrawal):
        db.session.rollback()
        raise ReturnsError(_("Inget av det ångrade skickas tillbaka, så det finns inget paket."))
    if received_on < clock.local_date(withdrawal.received_at):
        db.session.rollback()
        raise ReturnsError(_("Mottagningsdagen kan inte ligga före ångrandet."))
    actor = staff_actor(staff_id)
    parcel = ReturnParcel(
        order_id=withdrawal.order_id,
        withdrawal_id=withdrawal.id,
        received_on=received_on,
        refused_reason=refused_reason,
        registered_by=str(staff_id)[:40],
        created_at=now,
    )
    db.session.add(parcel)
    db.session.flush()
    target = ReturnStatus.PARCEL_REFUSED if refused_reason else ReturnStatus.RECEIVED
    _move(withdrawal, target, actor=actor, now=now)
    _audit(
        "return.parcel_refused" if refused_reason else "return.parcel_received",
        "withdrawal",
        withdrawal.id,
        {"parcel": parcel.id, "received_on": received_on.isoformat(), "refused": refused_reason},
        actor=actor,
        now=now,
        rule_id="T5.7" if refused_reason else None,
    )
    if refused_reason:
        _tell_refused(withdrawal, refused_reason, now=now)
    db.session.commit()
    return parcel


def _tell_refused(withdrawal: Withdrawal, reason: str, *, now: datetime) -> None:
    order = withdrawal.order
    text = "\n\n".join(
        [
            _("Hej %(name)s!", name=withdrawal.name),
            _(
                "Vi har inte tagit emot returen av order %(number)s. %(reason)s",
                number=order.number,
                reason=refusal_text(reason),
            ),
            _(
                "Enligt våra köpvillkor får returer inte skickas rekommenderat, mot "
                "postförskott eller med avgift vid leverans. Skicka varorna igen som "
                "vanligt paket eller brev."
            ),
            _("Vänliga hälsningar"),
        ]
    )
    mail.queue_mail(
        to=withdrawal.email,
        subject=_("Din retur av order %(number)s togs inte emot", number=order.number),
        template="return_refused",
        text=text,
        now=now,
    )


# --- Inspecting (T5.5) ----------------------------------------------------------------------


@dataclass(frozen=True)
class LineResult:
    """What staff recorded for one withdrawn line."""

    condition: ReturnCondition
    deduction_ore: int = 0
    resellable: bool = True


def inspect(
    withdrawal: Withdrawal,
    results: Mapping[int, LineResult],
    *,
    staff_id: int | str,
    now: datetime,
) -> bool:
    """Record each withdrawn line's condition and the domain's credit (T5.5); commits.

    Resellable goods go back to stock (a ``restock`` movement). Returns False
    and changes nothing when the withdrawal is already inspected (a repeated
    submission). Raises :class:`ReturnsError` with the Swedish reason.
    """
    withdrawal = _locked(withdrawal.id)
    status = ReturnStatus(withdrawal.status)
    if status in (ReturnStatus.INSPECTED, ReturnStatus.REFUNDED):
        db.session.rollback()
        return False
    if status is not ReturnStatus.RECEIVED:
        db.session.rollback()
        raise ReturnsError(_("Returen måste tas emot innan den kan inspekteras."))
    parcel = next((p for p in reversed(parcels_of(withdrawal)) if p.refused_reason is None), None)
    assert parcel is not None  # received ⇒ an accepted parcel exists
    actor = staff_actor(staff_id)
    restock: dict[int, int] = {}
    recorded: dict[str, Any] = {}
    for wline in withdrawal.lines:
        line = wline.order_line
        result = results.get(line.id)
        if result is None:
            db.session.rollback()
            raise ReturnsError(_("Ange skicket för varje vara."))
        value = line.unit_price_ore * wline.quantity
        try:
            credit = credit_for_returned_item(value, result.condition, result.deduction_ore)
        except DomainError as error:
            db.session.rollback()
            raise ReturnsError(f"{line.title}: {error.message}") from None
        resellable = (
            result.resellable
            and result.condition is not ReturnCondition.DAMAGED_BY_PACKING
            and ProductKind(line.kind).is_shipped
            and line.product_id is not None
        )
        parcel.inspections.append(
            Inspection(
                order_line_id=line.id,
                quantity=wline.quantity,
                condition=result.condition.value,
                deduction_ore=result.deduction_ore,
                credit_ore=credit,
                resellable=resellable,
                inspected_by=str(staff_id)[:40],
                inspected_at=now,
            )
        )
        if resellable and line.product_id is not None:
            restock[line.product_id] = restock.get(line.product_id, 0) + wline.quantity
        recorded[str(line.id)] = {
            "condition": result.condition.value,
            "deduction_ore": result.deduction_ore,
            "credit_ore": credit,
            "resellable": resellable,
        }
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    stock.restock(restock, order_id=withdrawal.order_id, now=now, create_missing=True)
    _move(withdrawal, ReturnStatus.INSPECTED, actor=actor, now=now)
    _audit(
        "return.inspected",
        "withdrawal",
        withdrawal.id,
        {"lines": recorded},
        actor=actor,
        now=now,
        rule_id="T5.5",
    )
    db.session.commit()
    return True


# --- The credit note ------------------------------------------------------------------------


def credit_note_content(view: Desk, *, number: int, now: datetime) -> dict[str, Any]:
    """The frozen credit note: the credited lines and delivery fee as negative amounts,
    VAT per rate (T2.1), the total credited, and the document it credits."""
    order = view.order
    lines: list[dict[str, Any]] = []
    for dline in view.lines:
        credit = dline.credit_ore or 0
        lines.append(
            {
                "sku": dline.line.sku,
                "title": dline.line.title,
                "kind": dline.line.kind,
                "quantity": dline.quantity,
                "unit_price_ore": -dline.line.unit_price_ore,
                "condition": dline.inspection.condition if dline.inspection else None,
                "deduction_ore": dline.inspection.deduction_ore if dline.inspection else 0,
                "vat_rate_bp": dline.line.vat_rate_bp,
                "total_ore": -credit,
                "vat_ore": -vat_of_gross(credit, dline.line.vat_rate_bp),
            }
        )
    fees: list[dict[str, Any]] = []
    if view.delivery_refund_ore:
        paid_fee = next((fee for fee in order.fees if fee.kind == "delivery"), None)
        rate = paid_fee.vat_rate_bp if paid_fee else DEFAULT_POLICY.delivery.vat_rate_bp
        fees.append(
            {
                "kind": "delivery",
                "label": paid_fee.label if paid_fee else "Frakt",
                "amount_ore": -view.delivery_refund_ore,
                "vat_rate_bp": rate,
                "vat_ore": -vat_of_gross(view.delivery_refund_ore, rate),
            }
        )
    return credit_note_document(
        order, lines, fees, refs={"withdrawal_id": view.withdrawal.id}, number=number, now=now
    )


def credit_note_document(
    order: Order,
    lines: list[dict[str, Any]],
    fees: list[dict[str, Any]],
    *,
    refs: dict[str, Any],
    number: int,
    now: datetime,
) -> dict[str, Any]:
    """The frozen content of any credit note: the credited ``lines`` and ``fees`` (negative
    amounts), VAT per rate of what they credit (T2.1), the totals, the document it credits,
    and ``refs`` naming what caused it (the withdrawal, the complaint)."""
    summary = split_vat(
        [VatLine(-line["total_ore"], line["vat_rate_bp"]) for line in lines]
        + [VatLine(-fee["amount_ore"], fee["vat_rate_bp"]) for fee in fees]
    )
    original = receipts.record_for_order(order)
    return {
        "kind": "credit_note",
        "number": number,
        "issued_at": now.isoformat(),
        "issued_on": clock.local_date(now).isoformat(),
        "order_number": order.number,
        "ordered_on": clock.local_date(order.placed_at).isoformat(),
        "credits": (
            {"kind": original.kind, "number": original.number} if original is not None else None
        ),
        **refs,
        "seller": receipts.seller(),
        "buyer": receipts.buyer_of(order),
        "lines": lines,
        "fees": fees,
        "vat": [
            {
                "rate_bp": rate.rate_bp,
                "net_ore": -rate.net_ore,
                "vat_ore": -rate.vat_ore,
                "gross_ore": -rate.gross_ore,
            }
            for rate in summary.rates
        ],
        "total_ore": -summary.total_gross_ore,
        "total_vat_ore": -summary.total_vat_ore,
        "total_net_ore": -summary.total_net_ore,
        "payment_method": order.payment_method,
        "payment_method_label": receipts.PAYMENT_METHOD_LABELS.get(
            order.payment_method, order.payment_method
        ),
        "currency": "SEK",
    }


def _issue_credit_note(view: Desk, *, now: datetime) -> BookkeepingRecord:
    number = numbering.next_number(CREDIT_NOTE_SERIES)
    content = credit_note_content(view, number=number, now=now)
    invoice = invoicing.invoice_for_order(view.order)
    return receipts.store_record(
        kind="credit_note",
        number=number,
        order=view.order,
        content=content,
        pdf_bytes=pdf.render_credit_note(content),
        now=now,
        invoice_id=invoice.id if invoice is not None else None,
    )


def credit_note_pdf(record: BookkeepingRecord) -> bytes:
    """The credit note's PDF: as issued, or rendered from its frozen content for a note
    issued before PDFs were stored (the same content gives the same bytes)."""
    return record.pdf if record.pdf is not None else pdf.render_credit_note(record.content)


@dataclass(frozen=True)
class OrderRefund:
    """A refund as the order page shows it to its buyer, with its credit note's number."""

    refund: Refund
    credit_note_number: int | None

    @property
    def done(self) -> bool:
        return self.refund.status == "done"

    @property
    def invoice_credit(self) -> bool:
        """Credited on an unpaid invoice (a complaint's refund, T6): done without a payment."""
        return self.done and self.refund.payment_id is None


def refunds_of(order: Order) -> list[OrderRefund]:
    """The order's refunds, oldest first, each with its credit note's number (two queries)."""
    refunds = list(
        db.session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id))
    )
    note_ids = [r.credit_note_id for r in refunds if r.credit_note_id is not None]
    numbers: dict[int, int] = {}
    if note_ids:
        rows = db.session.execute(
            select(BookkeepingRecord.id, BookkeepingRecord.number).where(
                BookkeepingRecord.id.in_(note_ids)
            )
        )
        numbers = {int(record_id): int(number) for record_id, number in rows}
    return [
        OrderRefund(r, numbers.get(r.credit_note_id) if r.credit_note_id else None) for r in refunds
    ]


def credit_note_for(order: Order, number: int) -> BookkeepingRecord | None:
    """The credit note with ``number`` if it was issued for ``order``."""
    return db.session.scalar(
        select(BookkeepingRecord).where(
            BookkeepingRecord.kind == "credit_note",
            BookkeepingRecord.number == number,
            BookkeepingRecord.order_id == order.id,
        )
    )


# --- Approving and refunding (T5.8) ---------------------------------------------------------


def refund_key(withdrawal: Withdrawal) -> str:
    return f"refund-withdrawal-{withdrawal.id}"


def approve(
    withdrawal: Withdrawal, *, staff_id: int | str, now: datetime, send: bool = True
) -> tuple[Refund | None, bool]:
    """Approve the credit: one refund and one credit note, then send the refund; commits.

    Goods sent back must be received and inspected first (T5.5). When nothing
    physical comes back (downloads and codes still withdrawable under T5.4,
    or a credit of fees only), the credit is approved straight from the
    stated withdrawal, each line at its full price, with the deadline 14
    days from the notice (T5.8, from the domain).

    Returns the refund and whether this call created it. A repeated approval
    (double click, two staff at once) finds the first refund and creates
    nothing. A credit of 0 kr closes the return without a refund.
    """
    withdrawal_id = withdrawal.id
    withdrawal = _locked(withdrawal_id)
    existing = refund_for(withdrawal)
    if existing is not None:
        db.session.rollback()
        return existing, False
    status = ReturnStatus(withdrawal.status)
    without_return = not _goods_to_return(withdrawal)
    ready = ReturnStatus.STATED if without_return else ReturnStatus.INSPECTED
    if status is not ready:
        db.session.rollback()
        if status is ReturnStatus.REFUNDED:
            return None, False
        raise ReturnsError(_("Returen måste inspekteras innan krediteringen kan godkännas."))
    view = desk(withdrawal, clock.local_date(now))
    actor = staff_actor(staff_id)
    amount = view.total_credit_ore
    if amount <= 0:
        _move(withdrawal, ReturnStatus.REFUNDED, actor=actor, now=now)
        _audit(
            "return.closed_without_refund",
            "withdrawal",
            withdrawal.id,
            {"credit_ore": 0},
            actor=actor,
            now=now,
            rule_id="T5.5",
        )
        db.session.commit()
        return None, False
    credit_note = _issue_credit_note(view, now=now)
    refund = Refund(
        order_id=withdrawal.order_id,
        withdrawal_id=withdrawal.id,
        payment_id=view.payment.id if view.payment is not None else None,
        amount_ore=amount,
        idempotency_key=refund_key(withdrawal),
        status="pending",
        due_on=view.deadline,
        credit_note_id=credit_note.id,
        approved_by=str(staff_id)[:40],
        created_at=now,
    )
    db.session.add(refund)
    try:
        db.session.flush()
    except IntegrityError:
        # Approved in another request a moment ago (the unique key).
        db.session.rollback()
        again = refund_for(withdrawal)
        if again is None:
            raise
        return again, False
    _audit(
        "refund.approved",
        "refund",
        refund.id,
        {
            "withdrawal": withdrawal.id,
            "amount_ore": amount,
            "delivery_refund_ore": view.delivery_refund_ore,
            "credit_note": credit_note.number,
            "without_return": without_return,
        },
        actor=actor,
        now=now,
        rule_id="T5.8",
    )
    db.session.commit()
    if send:
        send_refund(refund, actor=actor, now=now)
    return refund, True


def send_refund(refund: Refund, *, actor: str, now: datetime) -> Refund:
    """Send ``refund`` through the order's original provider with its idempotency key.

    Done refunds are left alone. Success: ``done`` with the provider's
    reference, the payment's refunded amount and status, the withdrawal
    ``refunded`` (a complaint's refund has none: T6, audited under that rule),
    the customer e-mailed. Failure: ``failed`` with the error,
    never done; retrying sends the same key. Commits.
    """
    refund_id = refund.id
    rule = "T6" if refund.complaint_id else "T5.8"
    query = select(Refund).where(Refund.id == refund_id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    refund = db.session.scalars(query.execution_options(populate_existing=True)).one()
    if refund.status == "done":
        db.session.rollback()
        return refund
    refund.status = "sent"
    db.session.commit()
    order = db.session.get(Order, refund.order_id)
    assert order is not None
    payment = db.session.get(Payment, refund.payment_id) if refund.payment_id else None
    try:
        if payment is None or not payment.provider_reference:
            raise PaymentError(_("Det finns ingen betalning att återbetala till."))
        provider = payments.registry().provider(payment.provider)
        result = provider.refund(
            RefundRequest(
                payment.provider_reference,
                refund.amount_ore,
                refund.idempotency_key,
                reason="complaint" if refund.complaint_id else "withdrawal",
            )
        )
        if result.status is RefundStatus.FAILED:
            raise PaymentError(_("Betalningsleverantören avslog återbetalningen."))
    except PaymentError as error:
        db.session.rollback()
        failed = db.session.get(Refund, refund_id)
        assert failed is not None
        failed.status = "failed"
        failed.last_error = (
            f"{error.message} ({error.detail})" if error.detail else error.message
        )[:500]
        _audit(
            "refund.failed",
            "refund",
            refund_id,
            {"detail": (error.detail or error.message)[:200]},
            actor=actor,
            now=now,
            rule_id=rule,
        )
        db.session.commit()
        return failed
    assert payment is not None
    refund.status = "done"
    refund.provider_reference = result.refund_id[:255]
    refund.completed_at = now
    refund.last_error = None
    _record_on_payment(payment, refund.amount_ore, actor=actor, now=now)
    withdrawal = db.session.get(Withdrawal, refund.withdrawal_id) if refund.withdrawal_id else None
    if withdrawal is not None and can_transition(
        ReturnStatus(withdrawal.status), ReturnStatus.REFUNDED
    ):
        _move(withdrawal, ReturnStatus.REFUNDED, actor=actor, now=now)
    _audit(
        "refund.done",
        "refund",
        refund.id,
        {"amount_ore": refund.amount_ore, "provider": payment.provider},
        actor=actor,
        now=now,
        rule_id=rule,
    )
    _tell_refunded(order, refund, withdrawal, by_bank_transfer=result.manual, now=now)
    db.session.commit()
    return refund


def retry(refund: Refund, *, staff_id: int | str, now: datetime) -> Refund:
    """Staff's "Försök igen": send the same refund again, with the same key."""
    if refund.status == "done":
        return refund
    _audit(
        "refund.retry",
        "refund",
        refund.id,
        {"attempt_key": refund.idempotency_key},
        actor=staff_actor(staff_id),
        now=now,
    )
    db.session.commit()
    return send_refund(refund, actor=staff_actor(staff_id), now=now)


def _record_on_payment(payment: Payment, amount_ore: int, *, actor: str, now: datetime) -> None:
    """The payment's refunded amount and its transition (partly_refunded / refunded)."""
    if payment.status not in REFUNDABLE_PAYMENTS:
        return
    current = PaymentStatus(payment.status)
    payment.refunded_ore = min(payment.amount_ore, payment.refunded_ore + amount_ore)
    target = (
        PaymentStatus.REFUNDED
        if payment.refunded_ore >= payment.amount_ore
        else PaymentStatus.PARTLY_REFUNDED
    )
    payment.status = require_transition(current, target).value
    payment.updated_at = now
    _audit(
        "payment.status",
        "payment",
        payment.id,
        {"from": current.value, "to": target.value, "refunded_ore": payment.refunded_ore},
        actor=actor,
        now=now,
        rule_id="T5.8",
    )


def _tell_refunded(
    order: Order,
    refund: Refund,
    withdrawal: Withdrawal | None,
    *,
    by_bank_transfer: bool = False,
    now: datetime,
) -> None:
    """The refund mail (T5.8), with the credit note's PDF attached.

    ``by_bank_transfer``: the provider cannot pay back by itself (a paid invoice: staff
    transfer the money), so the mail says the money is on its way, not that it was paid.
    """
    note = (
        db.session.get(BookkeepingRecord, refund.credit_note_id) if refund.credit_note_id else None
    )
    attachments = (
        [
            mail.Attachment(
                f"kreditfaktura-{note.number}.pdf", "application/pdf", credit_note_pdf(note)
            )
        ]
        if note is not None
        else []
    )
    mail.queue_templated_mail(
        attachments=attachments,
        to=withdrawal.email if withdrawal is not None else order.email,
        subject=(
            _("Vi betalar tillbaka för order %(number)s", number=order.number)
            if by_bank_transfer
            else _("Vi har betalat tillbaka för order %(number)s", number=order.number)
        ),
        template="refund",
        context={
            "order": order,
            "refund": refund,
            "by_bank_transfer": by_bank_transfer,
            "name": withdrawal.name if withdrawal is not None else order.name,
            "credit_note": note.number if note is not None else None,
            "method": receipts.PAYMENT_METHOD_LABELS.get(
                order.payment_method, order.payment_method
            ),
        },
        now=now,
        language=order.language,
    )
