"""Receipts (kvitton) for paid orders, frozen as issued (T2.1, R2.3).

A receipt is a :class:`~shop.models.BookkeepingRecord` whose ``content`` is
the whole document as data: seller, buyer, lines, fees, VAT per rate,
totals, payment method and order number. The page and the PDF are rendered
from that content, never from live rows, and the record never changes
(see :mod:`shop.services.bookkeeping`).

The content is frozen when the receipt is issued, in the payment's
transaction; its PDF is rendered from that content later, outside the
payment request, the first time it is needed (the outbox worker attaching it
to the order confirmation, or the buyer downloading it), and stored once
(:func:`record_pdf`). Rendering the same content always gives the same bytes.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from shop import clock
from shop.domain.vat import VatLine, split_vat
from shop.extensions import db
from shop.models import BookkeepingRecord, Order
from shop.services import bookkeeping, numbering, pdf

RECEIPT_SERIES = "receipt"

#: How each payment method is named on receipts and invoices (glossary words).
PAYMENT_METHOD_LABELS = {
    "card": "Kort",
    "swish": "Swish",
    "klarna": "Klarna",
    "invoice": "Faktura",
    "sandbox": "Testbetalning",
}


def seller() -> dict[str, Any]:
    """The seller as configured (``SELLER``), with the F-skatt approval."""
    data = dict(current_app.config["SELLER"])
    data["f_skatt"] = True
    return data


def buyer_of(order: Order) -> dict[str, Any]:
    """The buyer as printed on the document: billing name and address, organisation."""
    return {
        "kind": order.buyer_kind,
        "name": order.billing_name or order.name,
        "email": order.email,
        "organisation_name": order.organisation_name,
        "organisation_number": order.organisation_number,
        "street": order.billing_street,
        "postcode": order.billing_postcode,
        "city": order.billing_city,
        "country": order.country,
    }


def order_document_content(
    order: Order, *, kind: str, number: int, now: datetime
) -> dict[str, Any]:
    """The frozen content of a receipt or invoice for ``order`` (T2.1: VAT per rate)."""
    lines: list[dict[str, Any]] = [
        {
            "sku": line.sku,
            "title": line.title,
            "kind": line.kind,
            "quantity": line.quantity,
            "unit_price_ore": line.unit_price_ore,
            "vat_rate_bp": line.vat_rate_bp,
            "total_ore": line.total_ore,
            "vat_ore": line.vat_ore,
        }
        for line in order.lines
    ]
    fees: list[dict[str, Any]] = [
        {
            "kind": fee.kind,
            "label": fee.label,
            "amount_ore": fee.amount_ore,
            "vat_rate_bp": fee.vat_rate_bp,
            "vat_ore": fee.vat_ore,
        }
        for fee in order.fees
    ]
    summary = split_vat(
        [VatLine(line["total_ore"], line["vat_rate_bp"]) for line in lines]
        + [VatLine(fee["amount_ore"], fee["vat_rate_bp"]) for fee in fees]
    )
    return {
        "kind": kind,
        "number": number,
        "issued_at": now.isoformat(),
        "issued_on": clock.local_date(now).isoformat(),
        "order_number": order.number,
        "ordered_on": clock.local_date(order.placed_at).isoformat(),
        "seller": seller(),
        "buyer": buyer_of(order),
        "lines": lines,
        "fees": fees,
        "vat": [
            {
                "rate_bp": rate.rate_bp,
                "net_ore": rate.net_ore,
                "vat_ore": rate.vat_ore,
                "gross_ore": rate.gross_ore,
            }
            for rate in summary.rates
        ],
        "total_ore": summary.total_gross_ore,
        "total_vat_ore": summary.total_vat_ore,
        "total_net_ore": summary.total_net_ore,
        "payment_method": order.payment_method,
        "payment_method_label": PAYMENT_METHOD_LABELS.get(
            order.payment_method, order.payment_method
        ),
        "terms_version": order.terms_version,
        "currency": "SEK",
    }


def store_record(
    *,
    kind: str,
    number: int,
    order: Order,
    content: dict[str, Any],
    pdf_bytes: bytes | None,
    now: datetime,
    invoice_id: int | None = None,
) -> BookkeepingRecord:
    """Add the issued document with its PDF and the PDF's SHA-256 (does not commit).

    ``pdf_bytes`` None: the PDF is rendered from ``content`` when first needed
    (:func:`record_pdf`).
    """
    record = BookkeepingRecord(
        kind=kind,
        number=number,
        order_id=order.id,
        invoice_id=invoice_id,
        issued_at=now,
        fiscal_year=clock.local_date(now).year,
        content=content,
        pdf=pdf_bytes,
        pdf_sha256=hashlib.sha256(pdf_bytes).hexdigest() if pdf_bytes is not None else None,
    )
    db.session.add(record)
    db.session.flush()
    return record


def record_for_order(order: Order, kind: str | None = None) -> BookkeepingRecord | None:
    """The receipt or invoice issued for ``order`` (the first one), if any."""
    query = select(BookkeepingRecord).where(BookkeepingRecord.order_id == order.id)
    if kind is not None:
        query = query.where(BookkeepingRecord.kind == kind)
    else:
        query = query.where(BookkeepingRecord.kind.in_(("receipt", "invoice")))
    return db.session.scalars(query.order_by(BookkeepingRecord.id).limit(1)).first()


def issue_receipt(order: Order, *, now: datetime) -> BookkeepingRecord:
    """Issue the receipt of a paid order once (T2.1); later calls return the same one.

    Draws the next number of the gap-free receipt series and freezes the
    content in the caller's transaction; the PDF is rendered later, from that
    content, by :func:`record_pdf`. Does not commit.
    """
    existing = record_for_order(order, "receipt")
    if existing is not None:
        return existing
    number = numbering.next_number(RECEIPT_SERIES)
    content = order_document_content(order, kind="receipt", number=number, now=now)
    return store_record(
        kind="receipt",
        number=number,
        order=order,
        content=content,
        pdf_bytes=None,
        now=now,
    )


def record_pdf(record: BookkeepingRecord) -> bytes:
    """The PDF of an issued receipt, invoice or credit note, as stored.

    A receipt issued without its PDF gets it now: rendered from the frozen
    content and stored once (:func:`shop.services.bookkeeping.store_pdf_once`;
    when two processes render it at once, both return the one stored first).
    Stores in the caller's transaction; the caller commits.
    """
    if record.pdf is not None:
        return record.pdf
    if record.kind != "receipt":
        raise ValueError(f"{record.kind} {record.number} was issued without its PDF")
    return bookkeeping.store_pdf_once(record, pdf.render_receipt(record.content))


def document_dates(content: dict[str, Any]) -> dict[str, date]:
    """The document's dates (stored as ISO strings) as dates, for templates."""
    return {
        key: date.fromisoformat(content[key])
        for key in ("issued_on", "ordered_on", "due_on")
        if content.get(key)
    }


def download_pdf(record: BookkeepingRecord) -> bytes:
    """The record's PDF for a download; rendered and stored (committed) the first time."""
    if record.pdf is not None:
        return record.pdf
    data = record_pdf(record)
    db.session.commit()
    return data
