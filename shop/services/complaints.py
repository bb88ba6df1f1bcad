"""Complaints, reklamation (T6): the buyer reports a faulty item, staff decide.

The window comes from the domain (:func:`shop.domain.complaints.complaint_window`)
with the item's delivery date: the latest recorded ``delivered_on`` of the
parcels that carried the line (T4.2), the order day for downloads and codes.
When no delivery is recorded yet for a dispatched item, the report day is used
(the reading most favourable to the buyer) and staff see that the date is
missing.

- T6.1: within 2 months of receipt, the normal desk.
- T6.2: a consumer's later complaint is always taken and flagged for staff
  review (statutory window or out of time); an organisation has the 2 months
  only, so its late complaint is refused with the last day (the domain's
  :func:`~shop.domain.complaints.require_complaint_in_time`).
- One open complaint per order line: a second report while one is open is
  refused.
- T6.3: on agreement staff record the return freight label they sent.

Staff decide repair, replacement, refund or rejection with a reason the
customer sees (order page and e-mail). A refund decision pays the money back
through the returns desk's machinery (:mod:`shop.services.returns`): in the
deciding transaction, with the complaint row locked, one credit note (a frozen
bookkeeping record naming the line and the amount, VAT by the line's rate) and
one :class:`~shop.models.Refund` with the unique key ``refund-complaint-<id>``;
after the commit :func:`shop.services.returns.send_refund` sends it once
through the order's original provider (a failure leaves it to retry, with the
error, and the same key). An invoice order whose invoice is not paid gets no
money: the amount is credited on the invoice (it is owed no more) and the
credit note goes with the decision e-mail. The amount may not exceed what the line cost minus
what was already paid back for it (withdrawals and earlier complaints). The
terms name no deadline for a complaint's refund, so it is due on the decision
day. Every step is audited with the order as subject and the complaint id in
the details, so it shows in the order's history; the description, the reason
and the photos never go into the log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import case, func, select

from shop import clock
from shop.domain.buyers import BuyerKind
from shop.domain.catalog import ProductKind
from shop.domain.complaints import ComplaintWindow, complaint_window, statutory_complaint_last_day
from shop.domain.errors import InvalidFacts
from shop.domain.lifecycle import InvoiceStatus, OrderStatus
from shop.domain.money import format_sek
from shop.domain.vat import vat_of_gross
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    Complaint,
    ComplaintPhoto,
    Invoice,
    Order,
    OrderLine,
    Refund,
    Shipment,
)
from shop.models.aftersale import Withdrawal
from shop.services import invoicing, mail, numbering, pdf, receipts, returns, stock
from shop.services import photos as photo_files

MAIL_TEMPLATE = "complaint_decision"
MAX_DESCRIPTION = 4000
MAX_REASON = 2000
MAX_LABEL = 100
#: Orders that were never bought (or were undone before delivery): nothing to complain about.
NOT_COMPLAINABLE = (OrderStatus.PENDING_PAYMENT.value, OrderStatus.CANCELLED.value)
#: The file types a photo may have, recognised by their first bytes.
PHOTO_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class Outcome(StrEnum):
    """What staff decide (T6)."""

    REPAIR = "repair"
    REPLACEMENT = "replacement"
    REFUND = "refund"
    REJECTION = "rejection"


OUTCOME_LABELS: dict[str, LazyString] = {
    Outcome.REPAIR.value: _l("Reparation"),
    Outcome.REPLACEMENT.value: _l("Ersättningsvara"),
    Outcome.REFUND.value: _l("Återbetalning"),
    Outcome.REJECTION.value: _l("Avslag"),
}
WINDOW_LABELS: dict[str, LazyString] = {
    ComplaintWindow.NORMAL.value: _l("I tid (inom 2 månader)"),
    ComplaintWindow.STATUTORY.value: _l("Granskas: efter 2 månader, inom konsumentköplagen"),
    ComplaintWindow.OUT_OF_TIME.value: _l("Granskas: för sent enligt konsumentköplagen"),
}
STATUS_LABELS: dict[str, LazyString] = {
    "open": _l("Öppen"),
    "decided": _l("Avgjord"),
}


class ComplaintError(Exception):
    """A complaint refused; ``message`` is shown in Swedish (or English), ``field`` says where."""

    def __init__(self, message: str, field: str | None = None, *, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class Upload:
    """A photo as the browser sent it: its name and its bytes (read with a size cap)."""

    filename: str
    data: bytes


# --- Photos -------------------------------------------------------------------------------


def upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def check_photos(uploads: list[Upload]) -> list[tuple[Upload, str]]:
    """Each photo, without its metadata, with its content type; :class:`ComplaintError`
    (field ``photos``) otherwise.

    The type is read from the content, never trusted from the name, and the
    file's structure must hold together (:mod:`shop.services.photos`); each
    photo has a size limit and a complaint a few photos at most (configuration).
    """
    uploads = [upload for upload in uploads if upload.filename or upload.data]
    most = int(current_app.config["COMPLAINT_PHOTOS_MAX"])
    limit = int(current_app.config["COMPLAINT_PHOTO_MAX_BYTES"])
    if len(uploads) > most:
        raise ComplaintError(_("Du kan skicka högst %(most)d bilder.", most=most), "photos")
    checked: list[tuple[Upload, str]] = []
    for upload in uploads:
        name = Path(upload.filename or "").name or _("bilden")
        if len(upload.data) > limit:
            raise ComplaintError(
                _(
                    "%(name)s är för stor. En bild får vara högst %(size)s.",
                    name=name,
                    size=size_text(limit),
                ),
                "photos",
            )
        content_type = photo_files.sniff(upload.data)
        cleaned = photo_files.without_metadata(upload.data, content_type) if content_type else None
        if content_type is None or cleaned is None:
            raise ComplaintError(
                _(
                    "%(name)s är ingen bild vi kan ta emot. Skicka foton i formatet "
                    "JPEG, PNG eller WebP.",
                    name=name,
                ),
                "photos",
            )
        checked.append((Upload(upload.filename, cleaned), content_type))
    return checked


def size_text(size: int) -> str:
    """``5 MB``, ``1,5 MB`` or ``200 kB`` (the limit, in the customer's words)."""
    if size < 1024 * 1024:
        return f"{size // 1024} kB"
    whole, rest = divmod(size * 10 // (1024 * 1024), 10)
    return f"{whole},{rest} MB" if rest else f"{whole} MB"


def _store_photo(complaint: Complaint, upload: Upload, content_type: str, now: datetime) -> Path:
    directory = upload_dir() / "complaints"
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{PHOTO_EXTENSIONS[content_type]}"
    path = directory / name
    path.write_bytes(upload.data)
    complaint.photos.append(
        ComplaintPhoto(
            stored_path=f"complaints/{name}",
            content_type=content_type,
            size_bytes=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
            created_at=now,
        )
    )
    return path


def photo_path(photo: ComplaintPhoto) -> Path | None:
    """The stored file, only when it lies inside ``UPLOAD_DIR`` and exists."""
    root = upload_dir().resolve()
    path = (root / photo.stored_path).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


#: A file younger than this may belong to a report whose transaction has not committed yet.
UNREFERENCED_GRACE = timedelta(hours=1)


def remove_unreferenced_photos(*, now: datetime) -> list[str]:
    """Delete photo files no complaint names any more (after erasure or a sweep, R2.1, R4.3).

    Rows go in the anonymising transaction; the files go after it committed, so a rolled
    back or killed batch never leaves a row without its file. A file written in the last
    hour is left alone: its report may still be committing. Returns the names removed.
    """
    folder = upload_dir() / "complaints"
    if not folder.is_dir():
        return []
    known = set(db.session.scalars(select(ComplaintPhoto.stored_path)))
    cutoff = (now - UNREFERENCED_GRACE).timestamp()
    removed = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or f"complaints/{path.name}" in known:
            continue
        if path.stat().st_mtime > cutoff:
            continue
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def photo_of(complaint: Complaint, photo_id: int) -> ComplaintPhoto | None:
    return next((photo for photo in complaint.photos if photo.id == photo_id), None)


# --- The window (T6.1, T6.2) --------------------------------------------------------------


def received_on(line: OrderLine, today: date) -> date | None:
    """T4.2: when the buyer received the line: the latest recorded delivery of a parcel
    carrying it (by ``today``); the order day for downloads and codes; None if unknown."""
    order = line.order
    if not ProductKind(line.kind).is_shipped:
        return clock.local_date(order.confirmed_at or order.placed_at)
    delivered = db.session.scalar(
        select(func.max(Shipment.delivered_on)).where(
            Shipment.order_id == order.id,
            Shipment.returned_kind.is_(None),
            Shipment.delivered_on <= today,
            Shipment.lines.any(order_line_id=line.id),
        )
    )
    return delivered


def _dispatched(line: OrderLine) -> bool:
    return (
        db.session.scalar(
            select(func.count(Shipment.id)).where(
                Shipment.order_id == line.order_id,
                Shipment.dispatched_on.is_not(None),
                Shipment.returned_kind.is_(None),
                Shipment.lines.any(order_line_id=line.id),
            )
        )
        or 0
    ) > 0


def can_report(line: OrderLine) -> bool:
    """The buyer has (or may have) the item: bought, and shipped unless digital."""
    order = line.order
    if order.status in NOT_COMPLAINABLE or order.anonymised_at is not None:
        return False
    return not ProductKind(line.kind).is_shipped or _dispatched(line)


def open_complaint_for(line: OrderLine) -> Complaint | None:
    return db.session.scalar(
        select(Complaint).where(Complaint.order_line_id == line.id, Complaint.status == "open")
    )


def complaints_of(order: Order) -> list[Complaint]:
    return list(
        db.session.scalars(
            select(Complaint).where(Complaint.order_id == order.id).order_by(Complaint.id)
        )
    )


def line_of(order: Order, line_id: int) -> OrderLine | None:
    return next((line for line in order.lines if line.id == line_id), None)


def complaint_of_order(order: Order, complaint_id: int) -> Complaint | None:
    """The complaint only when it belongs to ``order`` (a customer's or guest's own)."""
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None or complaint.order_id != order.id:
        return None
    return complaint


# --- Reporting ----------------------------------------------------------------------------


def _audit(
    complaint: Complaint,
    action: str,
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
            subject_type="order",
            subject_id=str(complaint.order_id),
            details={"complaint": complaint.id, **details},
            rule_id=rule_id,
        )
    )


def report(
    line: OrderLine,
    *,
    description: str,
    discovered_on: date | None,
    photos: list[Upload],
    actor: str,
    now: datetime,
) -> Complaint:
    """Take the buyer's complaint about ``line``; commits.

    Refused with :class:`ComplaintError` (a Swedish message and the form field):
    no description; a bad photo (type by content, size, count); a line not
    bought or not yet sent; an open complaint on the same line; a discovery
    date outside receipt..today; an organisation's complaint after the 2
    months (T6.1). A consumer's late complaint is taken and flagged (T6.2).
    """
    text = (description or "").strip()
    if not text:
        raise ComplaintError(_("Beskriv felet på varan."), "description")
    if len(text) > MAX_DESCRIPTION:
        raise ComplaintError(
            _("Beskrivningen får vara högst %(max)d tecken.", max=MAX_DESCRIPTION), "description"
        )
    checked = check_photos(photos)
    today = clock.local_date(now)
    if discovered_on is not None and discovered_on > today:
        raise ComplaintError(
            _("Dagen då du upptäckte felet kan inte ligga i framtiden."), "discovered_on"
        )
    order = stock.lock_row(Order, line.order_id)
    if order.status in NOT_COMPLAINABLE or order.anonymised_at is not None:
        db.session.rollback()
        raise ComplaintError(_("Ordern är inte betald och går inte att reklamera."))
    if not can_report(line):
        db.session.rollback()
        raise ComplaintError(_("Varan går inte att reklamera ännu: den har inte skickats."))
    if open_complaint_for(line) is not None:
        db.session.rollback()
        raise ComplaintError(
            _(
                "Du har redan en öppen reklamation för %(title)s. Vi hör av oss om den; "
                "du kan inte anmäla samma vara igen förrän den är avgjord.",
                title=line.title,
            )
        )
    buyer = BuyerKind(order.buyer_kind)
    received = received_on(line, today)
    basis = received if received is not None else today
    if discovered_on is not None and discovered_on < basis:
        db.session.rollback()
        raise ComplaintError(
            _(
                "Dagen då du upptäckte felet kan inte ligga före leveransen (%(day)s).",
                day=format_date(basis, "d MMMM y"),
            ),
            "discovered_on",
        )
    try:
        decision = complaint_window(buyer, basis, today, discovered_on)
    except InvalidFacts as error:
        db.session.rollback()
        raise ComplaintError(_(error.message), "discovered_on") from None
    if decision.window is ComplaintWindow.OUT_OF_TIME and not decision.needs_review:
        # T6.1: an organisation has the terms' 2 months only.
        db.session.rollback()
        raise ComplaintError(
            _(
                "Reklamationen har kommit in för sent: sista dag var %(day)s "
                "(2 månader från leveransen, enligt köpvillkoren).",
                day=format_date(decision.normal_last_day, "d MMMM y"),
            ),
            rule=decision.rule,
        )
    statutory_last = (
        statutory_complaint_last_day(basis, discovered_on or today)
        if buyer is BuyerKind.CONSUMER
        else None
    )
    complaint = Complaint(
        order_id=order.id,
        order_line_id=line.id,
        description=text,
        discovered_on=discovered_on,
        reported_at=now,
        reported_on=today,
        received_on=received,
        window_kind=decision.window.value,
        window_rule=decision.rule,
        needs_review=decision.needs_review,
        normal_last_day=decision.normal_last_day,
        statutory_last_day=statutory_last,
        status="open",
        reported_by=actor[:40],
    )
    db.session.add(complaint)
    db.session.flush()
    written: list[Path] = []
    try:
        for upload, content_type in checked:
            written.append(_store_photo(complaint, upload, content_type, now))
        db.session.flush()
        _audit(
            complaint,
            "complaint.reported",
            {
                "line": line.id,
                "window": decision.window.value,
                "received_on": received.isoformat() if received else None,
                "photos": len(checked),
            },
            actor=actor,
            now=now,
            rule_id=decision.rule,
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return complaint


# --- Staff: the list, the page, the decision ----------------------------------------------


@dataclass(frozen=True)
class ComplaintFilter:
    status: str = ""
    window: str = ""
    q: str = ""


def staff_list(filters: ComplaintFilter, *, limit: int = 200) -> list[Complaint]:
    """Complaints, open first, then the oldest report first; filtered by status, window
    and order number."""
    criteria: list[Any] = []
    if filters.status in ("open", "decided"):
        criteria.append(Complaint.status == filters.status)
    if filters.window in {w.value for w in ComplaintWindow}:
        criteria.append(Complaint.window_kind == filters.window)
    if filters.q.strip():
        criteria.append(Order.number == filters.q.strip())
    open_first = case((Complaint.status == "open", 0), else_=1)
    return list(
        db.session.scalars(
            select(Complaint)
            .join(Order, Order.id == Complaint.order_id)
            .where(*criteria)
            .order_by(open_first, Complaint.reported_at, Complaint.id)
            .limit(limit)
        )
    )


def open_count() -> int:
    """The dashboard tile: complaints not yet decided (one query)."""
    return int(
        db.session.scalar(select(func.count(Complaint.id)).where(Complaint.status == "open")) or 0
    )


def get(complaint_id: int) -> Complaint | None:
    return db.session.get(Complaint, complaint_id)


def staff_actor(staff_id: int | str) -> str:
    return f"staff:{staff_id}"


def decide(
    complaint: Complaint,
    outcome: Outcome | str,
    *,
    reason: str,
    refund_ore: int | None = None,
    staff_id: int | str,
    now: datetime,
) -> Complaint:
    """Staff's decision with the reason the customer sees; e-mails the customer; commits.

    A refund's amount is more than 0 and at most what the line cost minus what
    was already paid back for it (:func:`refundable_ore`). Deciding it issues
    the credit note and the refund in the same transaction and then sends the
    refund once (:func:`shop.services.returns.send_refund`); a provider failure
    leaves the refund ``failed`` with the error, to retry (:func:`retry_refund`).
    A decided complaint is not decided again (the row is locked), so a double
    submission or two staff at once pay once.
    """
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise ComplaintError(_("Välj ett beslut."), "outcome") from None
    text = (reason or "").strip()
    if not text:
        raise ComplaintError(_("Skriv ett motiv som kunden kan läsa."), "reason")
    if len(text) > MAX_REASON:
        raise ComplaintError(
            _("Motiveringen får vara högst %(max)d tecken.", max=MAX_REASON), "reason"
        )
    if outcome is Outcome.REFUND:
        line_total = complaint.order_line.total_ore
        if refund_ore is None or refund_ore <= 0:
            raise ComplaintError(_("Ange beloppet som ska betalas tillbaka."), "refund")
        if refund_ore > line_total:
            raise ComplaintError(
                _(
                    "Beloppet kan inte vara större än varans pris (%(total)s).",
                    total=format_sek(line_total),
                ),
                "refund",
            )
    else:
        refund_ore = None
    complaint = stock.lock_row(Complaint, complaint.id)
    if not complaint.is_open:
        db.session.rollback()
        raise ComplaintError(_("Reklamationen är redan avgjord."))
    invoice = None
    if refund_ore is not None:
        problem = _refund_problem(complaint, refund_ore, today=clock.local_date(now))
        if problem is None:
            invoice = _unpaid_invoice(complaint.order)
            problem = _invoice_problem(invoice, refund_ore) if invoice is not None else None
        if problem is not None:
            db.session.rollback()
            raise ComplaintError(problem, "refund")
    complaint.status = "decided"
    complaint.outcome = outcome.value
    complaint.reason = text
    complaint.refund_ore = refund_ore
    complaint.decided_by = str(staff_id)[:40]
    complaint.decided_at = now
    _audit(
        complaint,
        "complaint.decided",
        {
            "before": "open",
            "after": "decided",
            "outcome": outcome.value,
            "refund_ore": refund_ore,
            "window": complaint.window_kind,
        },
        actor=staff_actor(staff_id),
        now=now,
        rule_id=complaint.window_rule,
    )
    refund = (
        _approve_refund(complaint, refund_ore, invoice=invoice, staff_id=staff_id, now=now)
        if refund_ore is not None
        else None
    )
    _tell_decided(complaint, refund=refund, invoice=invoice, now=now)
    db.session.commit()
    if refund is not None and refund.status != "done":
        returns.send_refund(refund, actor=staff_actor(staff_id), now=now)
    return complaint


# --- The refund of a complaint (T6, paid exactly once like T5.8's) ------------------------


def refund_key(complaint: Complaint) -> str:
    return f"refund-complaint-{complaint.id}"


def refund_of(complaint: Complaint) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.complaint_id == complaint.id))


def _refund_problem(complaint: Complaint, amount_ore: int, *, today: date) -> str | None:
    """Why ``amount_ore`` cannot be paid back for the complaint's line (T6), or None."""
    left = refundable_ore(complaint.order_line, today=today)
    if amount_ore <= left:
        return None
    return _(
        "Beloppet är större än det som återstår av varans pris efter tidigare "
        "återbetalningar (%(left)s).",
        left=format_sek(left),
    )


def _invoice_problem(invoice: Invoice, amount_ore: int) -> str | None:
    """Why ``amount_ore`` cannot be credited on the unpaid ``invoice``, or None."""
    left = invoicing.amount_owed(invoice) - invoice.paid_ore
    if amount_ore <= left:
        return None
    return _(
        "Fakturan är inte betald: beloppet krediteras på faktura %(number)s, men "
        "kan inte vara större än det som återstår att betala på den (%(left)s).",
        number=invoice.number,
        left=format_sek(max(0, left)),
    )


def _unpaid_invoice(order: Order) -> Invoice | None:
    """The invoice of an invoice order while it is not paid, locked: a refund credits it
    instead of paying money back (no money came in, T3.4). None otherwise."""
    if order.payment_method != "invoice":
        return None
    invoice = invoicing.invoice_for_order(order)
    if invoice is None or invoice.status == InvoiceStatus.PAID.value:
        return None
    return invoicing.lock(invoice)


def credit_note_of(refund: Refund) -> BookkeepingRecord | None:
    return (
        db.session.get(BookkeepingRecord, refund.credit_note_id) if refund.credit_note_id else None
    )


def refundable_ore(line: OrderLine, *, today: date) -> int:
    """What may still be paid back for ``line``: its total minus the credits of the order's
    withdrawal refunds for the line and the refunds of earlier complaints about it."""
    order_refunds = list(db.session.scalars(select(Refund).where(Refund.order_id == line.order_id)))
    credited = 0
    for refund in order_refunds:
        if refund.complaint_id is not None:
            complaint = db.session.get(Complaint, refund.complaint_id)
            if complaint is not None and complaint.order_line_id == line.id:
                credited += refund.amount_ore
        elif refund.withdrawal_id is not None:
            withdrawal = db.session.get(Withdrawal, refund.withdrawal_id)
            assert withdrawal is not None
            credited += sum(
                dline.credit_ore or 0
                for dline in returns.desk(withdrawal, today).lines
                if dline.line.id == line.id
            )
    return max(0, line.total_ore - credited)


def credit_note_content(
    complaint: Complaint, amount_ore: int, *, number: int, now: datetime
) -> dict[str, Any]:
    """The frozen credit note of a complaint's refund: the complaint's line and the amount
    as negative amounts, VAT of the amount at the line's rate (T2.1), and the document it
    credits. The same shape as a withdrawal's (:func:`shop.services.returns.credit_note_content`).
    """
    order = complaint.order
    line = complaint.order_line
    credited = [
        {
            "sku": line.sku,
            "title": line.title,
            "kind": line.kind,
            "quantity": line.quantity,
            "unit_price_ore": -line.unit_price_ore,
            "condition": None,
            "deduction_ore": 0,
            "vat_rate_bp": line.vat_rate_bp,
            "total_ore": -amount_ore,
            "vat_ore": -vat_of_gross(amount_ore, line.vat_rate_bp),
        }
    ]
    return returns.credit_note_document(
        order,
        credited,
        [],
        refs={"withdrawal_id": None, "complaint_id": complaint.id},
        number=number,
        now=now,
    )


def _issue_credit_note(
    complaint: Complaint, amount_ore: int, *, invoice: Invoice | None, now: datetime
) -> BookkeepingRecord:
    number = numbering.next_number(returns.CREDIT_NOTE_SERIES)
    content = credit_note_content(complaint, amount_ore, number=number, now=now)
    if invoice is not None:
        # Credited on the unpaid invoice: the PDF says so instead of "paid back".
        content["credited_invoice"] = invoice.number
    else:
        invoice = invoicing.invoice_for_order(complaint.order)
    return receipts.store_record(
        kind="credit_note",
        number=number,
        order=complaint.order,
        content=content,
        pdf_bytes=pdf.render_credit_note(content),
        now=now,
        invoice_id=invoice.id if invoice is not None else None,
    )


def _approve_refund(
    complaint: Complaint,
    amount_ore: int,
    *,
    invoice: Invoice | None,
    staff_id: int | str,
    now: datetime,
) -> Refund:
    """The credit note and the refund of a refund decision, in the deciding transaction.

    The terms (T6, seeds' REKLAMATION) name no deadline for paying back a complaint,
    so the refund is due on the decision day. With an unpaid ``invoice`` (locked) the
    amount is credited on the invoice: the refund is done at once, with no payment and
    no provider call.
    """
    actor = staff_actor(staff_id)
    payment = None if invoice is not None else returns.payment_of(complaint.order)
    credit_note = _issue_credit_note(complaint, amount_ore, invoice=invoice, now=now)
    refund = Refund(
        order_id=complaint.order_id,
        complaint_id=complaint.id,
        payment_id=payment.id if payment is not None else None,
        amount_ore=amount_ore,
        idempotency_key=refund_key(complaint),
        status="pending",
        due_on=clock.local_date(now),
        credit_note_id=credit_note.id,
        approved_by=str(staff_id)[:40],
        created_at=now,
    )
    db.session.add(refund)
    db.session.flush()
    _audit(
        complaint,
        "refund.approved",
        {
            "refund": refund.id,
            "line": complaint.order_line_id,
            "amount_ore": amount_ore,
            "credit_note": credit_note.number,
        },
        actor=actor,
        now=now,
        rule_id="T6",
    )
    if invoice is not None:
        invoicing.credit_unpaid(invoice, amount_ore, actor=actor, now=now)
        refund.status = "done"
        refund.completed_at = now
        _audit(
            complaint,
            "refund.invoice_credited",
            {"refund": refund.id, "amount_ore": amount_ore, "invoice": invoice.number},
            actor=actor,
            now=now,
            rule_id="T6",
        )
    return refund


def retry_refund(complaint: Complaint, *, staff_id: int | str, now: datetime) -> Refund | None:
    """Staff's "Försök igen" for a complaint's refund: the same refund, the same key."""
    refund = refund_of(complaint)
    if refund is None:
        return None
    return returns.retry(refund, staff_id=staff_id, now=now)


def record_return_label(
    complaint: Complaint, reference: str, *, staff_id: int | str, now: datetime
) -> bool:
    """T6.3: the return freight label sent to the buyer on agreement; audited before/after.

    Only for items that travel as parcels, not for a rejected complaint.
    Returns False when the reference is unchanged. Commits.
    """
    text = (reference or "").strip()
    if not text:
        raise ComplaintError(_("Ange returfraktsedelns referens."), "reference")
    if len(text) > MAX_LABEL:
        raise ComplaintError(
            _("Referensen får vara högst %(max)d tecken.", max=MAX_LABEL), "reference"
        )
    if not ProductKind(complaint.order_line.kind).is_shipped:
        raise ComplaintError(
            _("Returfraktsedel skickas bara för varor som kommit med post (T6.3)."), "reference"
        )
    complaint = stock.lock_row(Complaint, complaint.id)
    if complaint.outcome == Outcome.REJECTION.value:
        db.session.rollback()
        raise ComplaintError(_("Reklamationen är avslagen: ingen returfraktsedel."), "reference")
    before = complaint.return_label_reference
    if before == text:
        db.session.rollback()
        return False
    complaint.return_label_reference = text
    _audit(
        complaint,
        "complaint.return_label",
        {"before": before, "after": text},
        actor=staff_actor(staff_id),
        now=now,
        rule_id="T6.3",
    )
    db.session.commit()
    return True


def _tell_decided(
    complaint: Complaint, *, refund: Refund | None, invoice: Invoice | None, now: datetime
) -> None:
    order = complaint.order
    note = credit_note_of(refund) if refund is not None and invoice is not None else None
    mail.queue_templated_mail(
        attachments=(
            [
                mail.Attachment(
                    f"kreditfaktura-{note.number}.pdf",
                    "application/pdf",
                    returns.credit_note_pdf(note),
                )
            ]
            if note is not None
            else []
        ),
        to=order.email,
        subject=_l("Beslut om din reklamation, order %(number)s", number=order.number),
        template=MAIL_TEMPLATE,
        context={
            "order": order,
            "complaint": complaint,
            "line": complaint.order_line,
            "outcome_label": OUTCOME_LABELS[complaint.outcome or ""],
            "refund": refund,
            "credited_invoice": invoice.number if invoice is not None else None,
            "credit_note": note.number if note is not None else None,
        },
        now=now,
        language=order.language,
    )
