"""The register extract (registerutdrag): everything the shop holds about a customer (R4.1).

:func:`build_extract` gives one JSON-ready dict made of sections. Each
section is a small function of the customer, registered in
:data:`SECTIONS` with :func:`section`; to add one (complaints, course
bookings, data requests …) write one function::

    @section("complaints", lazy_gettext("Reklamationer"))
    def _complaints(customer: Customer) -> list[dict[str, Any]]:
        return [...]

A section returns plain JSON values (str, int, bool, None, lists, dicts);
dates and times are ISO 8601 strings, money is integer öre in keys ending in
``_ore``. The customer's page renders the same dict, so a new section shows
there without touching the template.

Only rows linked to the customer's own account are included (guest orders
placed with the same e-mail address are not: the account does not prove
who owns them). Staff answering a request made by mail (R4.1, R4.5) call
:func:`extract_json` with the verified customer and send the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext
from flask_babel.speaklater import LazyString
from sqlalchemy import and_, or_, select

from shop.extensions import db
from shop.models import (
    Address,
    AuditEntry,
    BookkeepingRecord,
    CartLine,
    Complaint,
    Consent,
    CourseBooking,
    CourseCancellation,
    CourseParticipant,
    CourseRefund,
    CreditCheck,
    Customer,
    DataRequest,
    DownloadGrant,
    Inspection,
    Invoice,
    InvoiceReminder,
    Order,
    OrderLine,
    Payment,
    Refund,
    ReturnParcel,
    SeatTransfer,
    Shipment,
    WaitingListEntry,
    Withdrawal,
)

#: Bumped when the shape of the file changes.
FORMAT = "registerutdrag/1"

SectionBuilder = Callable[[Customer], Any]


@dataclass(frozen=True)
class Section:
    """One part of the extract: its key in the file, its title on the page, its builder."""

    key: str
    title: LazyString
    build: SectionBuilder


#: The sections, in the order the file and the page show them.
SECTIONS: list[Section] = []


def section(key: str, title: LazyString) -> Callable[[SectionBuilder], SectionBuilder]:
    """Register ``build(customer)`` as the extract's section ``key``."""

    def register(build: SectionBuilder) -> SectionBuilder:
        if any(existing.key == key for existing in SECTIONS):
            raise ValueError(f"The register extract already has a section {key!r}.")
        SECTIONS.append(Section(key=key, title=title, build=build))
        return build

    return register


def build_extract(customer: Customer, *, now: datetime) -> dict[str, Any]:
    """Everything held about ``customer``, section by section (R4.1)."""
    return {
        "format": FORMAT,
        "controller": str(current_app.config.get("SHOP_NAME", "")),
        "generated_at": now.isoformat(),
        "customer": customer.pseudonym,
        "sections": {item.key: item.build(customer) for item in SECTIONS},
    }


def extract_json(customer: Customer, *, now: datetime) -> bytes:
    """The extract as a UTF-8 JSON file (what the customer downloads, and staff send)."""
    data = build_extract(customer, now=now)
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")


def extract_filename(customer: Customer, *, today: date) -> str:
    """``registerutdrag-K-7F3A9C-2026-11-24.json``: no name or e-mail in the file name."""
    return f"registerutdrag-{customer.pseudonym}-{today.isoformat()}.json"


def titles() -> dict[str, LazyString]:
    """Section key → title, for the readable page."""
    return {item.key: item.title for item in SECTIONS}


# --- Values ---------------------------------------------------------------------------------


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _order_ids(customer: Customer) -> list[int]:
    return list(db.session.scalars(select(Order.id).where(Order.customer_id == customer.id)))


# --- Sections -------------------------------------------------------------------------------


@section("account", lazy_gettext("Konto"))
def _account(customer: Customer) -> dict[str, Any]:
    return {
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "kind": customer.kind,
        "organisation_name": customer.organisation_name,
        "organisation_number": customer.organisation_number,
        "birth_date": _iso(customer.birth_date),
        "adult_confirmed_at": _iso(customer.adult_confirmed_at),
        "language": customer.language,
        "created_at": _iso(customer.created_at),
        "last_login_at": _iso(customer.last_login_at),
        "last_activity_on": _iso(customer.last_activity_on),
        "pseudonym": customer.pseudonym,
        # The password is stored only as a hash, which is of no use to anyone: not shown.
        "password_set": bool(customer.password_hash),
        "roles": sorted(role.value for role in customer.roles),
    }


@section("addresses", lazy_gettext("Adresser"))
def _addresses(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Address).where(Address.customer_id == customer.id).order_by(Address.id)
    )
    return [
        {
            "kind": a.kind,
            "name": a.name,
            "street": a.street,
            "postcode": a.postcode,
            "city": a.city,
            "country": a.country,
        }
        for a in rows
    ]


def _line(line: OrderLine) -> dict[str, Any]:
    grants = db.session.scalars(
        select(DownloadGrant).where(DownloadGrant.order_line_id == line.id)
    ).all()
    return {
        "sku": line.sku,
        "title": line.title,
        "kind": line.kind,
        "quantity": line.quantity,
        "unit_price_ore": line.unit_price_ore,
        "total_ore": line.total_ore,
        "vat_rate_bp": line.vat_rate_bp,
        "vat_ore": line.vat_ore,
        "downloads": [
            {
                "created_at": _iso(g.created_at),
                "expires_at": _iso(g.expires_at),
                "downloads_used": g.downloads_used,
                "downloads_allowed": g.downloads_allowed,
                "first_download_at": _iso(g.first_download_at),
                "last_download_at": _iso(g.last_download_at),
            }
            for g in grants
        ],
    }


def _payments(order: Order) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)
    )
    return [
        {
            "provider": p.provider,
            "method": p.method,
            "provider_reference": p.provider_reference,
            "amount_ore": p.amount_ore,
            "refunded_ore": p.refunded_ore,
            "status": p.status,
            "created_at": _iso(p.created_at),
            "captured_at": _iso(p.captured_at),
        }
        for p in rows
    ]


def _invoices(order: Order) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id)
    ).all()
    invoices = []
    for invoice in rows:
        reminder = db.session.scalar(
            select(InvoiceReminder).where(InvoiceReminder.invoice_id == invoice.id)
        )
        invoices.append(
            {
                "number": invoice.number,
                "ocr": invoice.ocr,
                "issued_on": _iso(invoice.issued_on),
                "due_on": _iso(invoice.due_on),
                "total_ore": invoice.total_ore,
                "paid_ore": invoice.paid_ore,
                "status": invoice.status,
                "paid_on": _iso(invoice.paid_on),
                "reminder": None
                if reminder is None
                else {
                    "sent_on": _iso(reminder.sent_on),
                    "fee_ore": reminder.fee_ore,
                    "new_due_on": _iso(reminder.new_due_on),
                },
                "payments": [
                    {"amount_ore": p.amount_ore, "paid_on": _iso(p.paid_on)}
                    for p in invoice.payments
                ],
            }
        )
    return invoices


def _shipments(order: Order) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id)
    )
    return [
        {
            "carrier": s.carrier,
            "tracking_number": s.tracking_number,
            "dispatched_on": _iso(s.dispatched_on),
            "delivered_on": _iso(s.delivered_on),
            "returned_kind": s.returned_kind,
            "returned_on": _iso(s.returned_on),
            "lines": [
                {"title": item.order_line.title, "quantity": item.quantity} for item in s.lines
            ],
        }
        for s in rows
    ]


def _documents(order: Order) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(BookkeepingRecord)
        .where(BookkeepingRecord.order_id == order.id)
        .order_by(BookkeepingRecord.id)
    )
    return [
        {
            "kind": r.kind,
            "number": r.number,
            "issued_at": _iso(r.issued_at),
            "fiscal_year": r.fiscal_year,
            "content": r.content,
        }
        for r in rows
    ]


@section("orders", lazy_gettext("Ordrar"))
def _orders(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Order).where(Order.customer_id == customer.id).order_by(Order.placed_at, Order.id)
    )
    return [
        {
            "number": o.number,
            "placed_at": _iso(o.placed_at),
            "status": o.status,
            "buyer_kind": o.buyer_kind,
            "email": o.email,
            "name": o.name,
            "phone": o.phone,
            "organisation_name": o.organisation_name,
            "organisation_number": o.organisation_number,
            "delivery_address": None
            if o.delivery_street is None
            else {
                "name": o.delivery_name,
                "street": o.delivery_street,
                "postcode": o.delivery_postcode,
                "city": o.delivery_city,
            },
            "billing_address": {
                "name": o.billing_name,
                "street": o.billing_street,
                "postcode": o.billing_postcode,
                "city": o.billing_city,
            },
            "country": o.country,
            "language": o.language,
            "payment_method": o.payment_method,
            "delivery_method": o.delivery_method,
            "terms_version": o.terms_version,
            "total_ore": o.total_ore,
            "vat_ore": o.vat_ore,
            "confirmed_at": _iso(o.confirmed_at),
            "cancelled_at": _iso(o.cancelled_at),
            "lines": [_line(line) for line in o.lines],
            "fees": [
                {"kind": f.kind, "label": f.label, "amount_ore": f.amount_ore} for f in o.fees
            ],
            "payments": _payments(o),
            "invoices": _invoices(o),
            "shipments": _shipments(o),
            "documents": _documents(o),
        }
        for o in rows
    ]


@section("withdrawals", lazy_gettext("Ångrade köp"))
def _withdrawals(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Withdrawal)
        .join(Order, Order.id == Withdrawal.order_id)
        .where(Order.customer_id == customer.id)
        .order_by(Withdrawal.received_at, Withdrawal.id)
    )
    return [
        {
            "order": w.order.number,
            "received_at": _iso(w.received_at),
            "channel": w.channel,
            "name": w.name,
            "email": w.email,
            "status": w.status,
            "refund_due_on": _iso(w.refund_due_on),
            "acknowledged_at": _iso(w.acknowledged_at),
            "lines": [
                {"title": item.order_line.title, "quantity": item.quantity} for item in w.lines
            ],
        }
        for w in rows
    ]


@section("returns", lazy_gettext("Returer"))
def _returns(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(ReturnParcel, Order.number)
        .join(Order, Order.id == ReturnParcel.order_id)
        .where(Order.customer_id == customer.id)
        .order_by(ReturnParcel.received_on, ReturnParcel.id)
    )
    parcels = []
    for parcel, number in rows:
        inspections: list[Inspection] = list(parcel.inspections)
        parcels.append(
            {
                "order": number,
                "received_on": _iso(parcel.received_on),
                "refused_reason": parcel.refused_reason,
                "inspections": [
                    {
                        "title": i.order_line.title,
                        "quantity": i.quantity,
                        "condition": i.condition,
                        "deduction_ore": i.deduction_ore,
                        "credit_ore": i.credit_ore,
                        "inspected_at": _iso(i.inspected_at),
                    }
                    for i in inspections
                ],
            }
        )
    return parcels


@section("refunds", lazy_gettext("Återbetalningar"))
def _refunds(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Refund, Order.number)
        .join(Order, Order.id == Refund.order_id)
        .where(Order.customer_id == customer.id)
        .order_by(Refund.created_at, Refund.id)
    )
    return [
        {
            "order": number,
            "amount_ore": r.amount_ore,
            "status": r.status,
            "due_on": _iso(r.due_on),
            "created_at": _iso(r.created_at),
            "completed_at": _iso(r.completed_at),
        }
        for r, number in rows
    ]


@section("complaints", lazy_gettext("Reklamationer"))
def _complaints(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Complaint)
        .join(Order, Order.id == Complaint.order_id)
        .where(Order.customer_id == customer.id)
        .order_by(Complaint.reported_at, Complaint.id)
    )
    return [
        {
            "order": c.order.number,
            "item": c.order_line.title,
            "description": c.description,
            "discovered_on": _iso(c.discovered_on),
            "reported_at": _iso(c.reported_at),
            "status": c.status,
            "outcome": c.outcome,
            "reason": c.reason,
            "refund_ore": c.refund_ore,
            "return_label_reference": c.return_label_reference,
            "decided_at": _iso(c.decided_at),
            "photos": [
                {"content_type": p.content_type, "size_bytes": p.size_bytes, "sha256": p.sha256}
                for p in c.photos
            ],
        }
        for c in rows
    ]


def _course_invoice(invoice: Invoice | None) -> dict[str, Any] | None:
    if invoice is None:
        return None
    return {
        "number": invoice.number,
        "ocr": invoice.ocr,
        "issued_on": _iso(invoice.issued_on),
        "due_on": _iso(invoice.due_on),
        "total_ore": invoice.total_ore,
        "paid_ore": invoice.paid_ore,
        "status": invoice.status,
        "paid_on": _iso(invoice.paid_on),
    }


def _booking_ids(customer: Customer) -> list[int]:
    return list(
        db.session.scalars(select(CourseBooking.id).where(CourseBooking.customer_id == customer.id))
    )


@section("course_bookings", lazy_gettext("Kursbokningar"))
def _course_bookings(customer: Customer) -> list[dict[str, Any]]:
    """T9, R2.5: the booker's bookings with their participants (names, birth dates)."""
    rows = db.session.scalars(
        select(CourseBooking)
        .where(CourseBooking.customer_id == customer.id)
        .order_by(CourseBooking.created_at, CourseBooking.id)
    ).all()
    bookings = []
    for b in rows:
        participants: list[CourseParticipant] = list(b.participants)
        cancellations = db.session.scalars(
            select(CourseCancellation)
            .where(CourseCancellation.booking_id == b.id)
            .order_by(CourseCancellation.id)
        )
        transfers = db.session.scalars(
            select(SeatTransfer).where(SeatTransfer.booking_id == b.id).order_by(SeatTransfer.id)
        )
        refunds = db.session.scalars(
            select(CourseRefund).where(CourseRefund.booking_id == b.id).order_by(CourseRefund.id)
        )
        bookings.append(
            {
                "booking": f"K{b.id}",
                "course": b.course.title,
                "starts_at": _iso(b.course.starts_at),
                "ends_at": _iso(b.course.ends_at),
                "sessions": [
                    {"starts_at": _iso(s.starts_at), "ends_at": _iso(s.ends_at)}
                    for s in b.course.sessions
                ],
                "place": b.course.place,
                "online": b.course.online,
                "status": b.status,
                "buyer_kind": b.buyer_kind,
                "organisation_name": b.organisation_name,
                "organisation_number": b.organisation_number,
                "fee_ore": b.fee_ore,
                "vat_rate_bp": b.vat_rate_bp,
                "booked_on": _iso(b.booked_on),
                "confirmed_at": _iso(b.confirmed_at),
                "cancelled_at": _iso(b.cancelled_at),
                "participants": [
                    {
                        "name": p.name,
                        "birth_date": _iso(p.birth_date),
                        "status": p.status,
                        "created_at": _iso(p.created_at),
                    }
                    for p in participants
                ],
                "cancellations": [
                    {
                        "participant": c.participant_id,
                        "received_on": _iso(c.received_on),
                        "channel": c.channel,
                        "days_before_start": c.days_before_start,
                        "fee_ore": c.fee_ore,
                        "kept_ore": c.kept_ore,
                        "credited_ore": c.credited_ore,
                    }
                    for c in cancellations
                ],
                "transfers": [
                    {
                        "participant": t.participant_id,
                        "name": t.name,
                        "birth_date": _iso(t.birth_date),
                        "same_organisation": t.same_organisation,
                        "status": t.status,
                        "requested_at": _iso(t.requested_at),
                        "decided_at": _iso(t.decided_at),
                    }
                    for t in transfers
                ],
                "refunds": [
                    {
                        "amount_ore": r.amount_ore,
                        "reason": r.reason,
                        "status": r.status,
                        "created_at": _iso(r.created_at),
                        "completed_at": _iso(r.completed_at),
                    }
                    for r in refunds
                ],
                "invoice": _course_invoice(b.invoice),
            }
        )
    return bookings


@section("course_waiting_list", lazy_gettext("Väntelistor för kurser"))
def _course_waiting_list(customer: Customer) -> list[dict[str, Any]]:
    """T9.6: the booker's places in full courses' waiting lists."""
    rows = db.session.scalars(
        select(WaitingListEntry)
        .where(WaitingListEntry.customer_id == customer.id)
        .order_by(WaitingListEntry.created_at, WaitingListEntry.id)
    )
    return [
        {
            "course": w.course.title,
            "seats": w.seats,
            "status": w.status,
            "created_at": _iso(w.created_at),
            "offered_at": _iso(w.offered_at),
            "offer_expires_at": _iso(w.offer_expires_at),
        }
        for w in rows
    ]


@section("credit_checks", lazy_gettext("Kreditprövningar"))
def _credit_checks(customer: Customer) -> list[dict[str, Any]]:
    orders = _order_ids(customer)
    rows = db.session.scalars(
        select(CreditCheck)
        .where(
            or_(CreditCheck.customer_id == customer.id, CreditCheck.order_id.in_(orders))
            if orders
            else CreditCheck.customer_id == customer.id
        )
        .order_by(CreditCheck.checked_at, CreditCheck.id)
    )
    return [
        {
            "organisation_number": c.organisation_number,
            "amount_ore": c.amount_ore,
            "approved": c.approved,
            "reason": c.reason,
            "checked_at": _iso(c.checked_at),
        }
        for c in rows
    ]


@section("consents", lazy_gettext("Samtycken"))
def _consents(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.at, Consent.id)
    )
    return [
        {
            "purpose": c.purpose,
            "action": c.action,
            "at": _iso(c.at),
            "source": c.source,
            "wording_version": c.wording_version,
            "email": c.email,
        }
        for c in rows
    ]


@section("data_requests", lazy_gettext("Dataförfrågningar"))
def _data_requests(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(DataRequest)
        .where(DataRequest.customer_id == customer.id)
        .order_by(DataRequest.received_on, DataRequest.id)
    )
    return [
        {
            "kind": r.kind,
            "channel": r.channel,
            "received_on": _iso(r.received_on),
            "due_on": _iso(r.due_on),
            "status": r.status,
            "closed_on": _iso(r.closed_on),
        }
        for r in rows
    ]


@section("cart", lazy_gettext("Varukorg"))
def _cart(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(CartLine).where(CartLine.customer_id == customer.id).order_by(CartLine.id)
    )
    return [
        {
            "product": line.product.title,
            "quantity": line.quantity,
            "updated_at": _iso(line.updated_at),
        }
        for line in rows
    ]


def _audit_subjects(customer: Customer) -> list[Any]:
    """The audit log's subjects that are this customer's: the account, orders and their parts,
    course bookings."""
    orders = _order_ids(customer)
    subjects: dict[str, list[int]] = {
        "customer": [customer.id],
        "order": orders,
        "course_booking": _booking_ids(customer),
    }
    if orders:
        for subject_type, model in (
            ("payment", Payment),
            ("invoice", Invoice),
            ("withdrawal", Withdrawal),
            ("refund", Refund),
        ):
            subjects[subject_type] = list(
                db.session.scalars(select(model.id).where(model.order_id.in_(orders)))
            )
    return [
        and_(AuditEntry.subject_type == kind, AuditEntry.subject_id.in_([str(i) for i in ids]))
        for kind, ids in subjects.items()
        if ids
    ]


@section("audit", lazy_gettext("Händelser i loggen"))
def _audit(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(AuditEntry)
        .where(
            or_(*_audit_subjects(customer), AuditEntry.actor == f"customer:{customer.pseudonym}")
        )
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return [
        {
            "at": _iso(e.at),
            "actor": e.actor if not e.actor.startswith("staff:") else "staff",
            "action": e.action,
            "subject": f"{e.subject_type} {e.subject_id}",
            "rule": e.rule_id,
            "details": e.details,
        }
        for e in rows
    ]
