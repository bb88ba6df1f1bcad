"""Confirming a paid (or invoice-authorised) order, exactly once.

:func:`confirm_order` is called by the payments integration when a payment
is captured or authorised (and at once for invoice orders). In the caller's
transaction it moves the order to ``confirmed``, delivers digital lines
(a personal download link per download line, codes from the pool per code
line), issues the receipt or the invoice, and queues the order confirmation
mail: text and HTML with the receipt or invoice summary (VAT per rate, T2.1),
the terms version, the withdrawal information (T5) and the EU model
withdrawal form, with the invoice PDF (and the form as PDF) attached. A
receipt's PDF is not rendered here: the mail refers to the receipt, whose
content is frozen in this transaction, and the outbox worker renders the PDF
when it sends the mail (:func:`shop.services.receipts.record_pdf`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext
from sqlalchemy import select

from shop import clock
from shop.domain.buyers import BuyerKind
from shop.domain.catalog import ProductKind
from shop.domain.lifecycle import OrderStatus
from shop.domain.policy import DEFAULT_POLICY
from shop.domain.withdrawal import WithdrawalOrder, last_day_to_withdraw
from shop.extensions import db
from shop.models import BookkeepingRecord, Order
from shop.services import downloads, invoicing, mail, orders, pdf, receipts

CONFIRMATION_TEMPLATE = "order_confirmation"
WITHDRAWAL_FORM_TEMPLATE = "documents/_withdrawal_form.html"


def absolute_url(endpoint: str, **values: Any) -> str:
    """An absolute link to ``endpoint`` on ``SHOP_BASE_URL`` (works outside requests)."""
    base = urlsplit(str(current_app.config["SHOP_BASE_URL"]))
    adapter = current_app.url_map.bind(
        base.netloc, url_scheme=base.scheme or "https", script_name=base.path or "/"
    )
    return adapter.build(endpoint, values, force_external=True)


def withdrawal_form(seller: dict[str, Any]) -> dict[str, Any]:
    """The EU model withdrawal form's wording, from the one template the terms page uses."""
    module = current_app.jinja_env.get_template(WITHDRAWAL_FORM_TEMPLATE).module
    form: Any = module
    return {
        "heading": str(form.title),
        "hint": str(form.hint),
        "recipient": str(form.recipient(seller)).strip(),
        "paragraphs": [str(paragraph) for paragraph in form.fields],
        "footnote": str(form.footnote),
        "author": str(seller["name"]),
    }


@dataclass(frozen=True)
class DeliveredDownload:
    title: str
    url: str
    expires_at: datetime
    limit: int


@dataclass(frozen=True)
class DeliveredCodes:
    title: str
    codes: list[str]


def _locked(order: Order) -> Order:
    query = select(Order).where(Order.id == order.id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).one()


def confirm_order(order: Order, *, now: datetime) -> None:
    """Confirm a paid order once: deliver, issue the document, queue the mail.

    A no-op unless the order is ``pending_payment`` (so a second event, a
    replay or a refresh changes nothing). The order row is locked on
    PostgreSQL, so two payment events at once confirm it once. Does not commit.
    """
    order = _locked(order)
    if order.status != OrderStatus.PENDING_PAYMENT.value:
        return
    orders.record_transition(order, OrderStatus.CONFIRMED, actor="system", now=now)
    if order.confirmed_at is None:
        order.confirmed_at = now
    is_organisation = order.buyer_kind == BuyerKind.ORGANISATION.value

    delivered: list[DeliveredDownload] = []
    code_lines: list[DeliveredCodes] = []
    for line in order.lines:
        kind = ProductKind(line.kind)
        if kind is ProductKind.DOWNLOAD:
            grant, token = downloads.grant_for_line(line, now=now)
            delivered.append(
                DeliveredDownload(
                    title=line.title,
                    url=absolute_url("downloads.download", token=token),
                    expires_at=grant.expires_at,
                    limit=grant.downloads_allowed,
                )
            )
        elif kind is ProductKind.SOFTWARE_CODE:
            codes = downloads.assign_codes(line, now=now)
            if is_organisation and codes:
                # No right of withdrawal (T5.1): the codes go in the mail, shown now.
                for code in codes:
                    code.revealed_at = code.revealed_at or now
                code_lines.append(DeliveredCodes(line.title, [code.code for code in codes]))
            else:
                code_lines.append(DeliveredCodes(line.title, []))

    attachments: list[mail.Attachment] = []
    if order.payment_method == "invoice":
        invoice = invoicing.issue_invoice(order, now=now)
        record = invoicing.invoice_record(invoice)
        assert record is not None
        assert record.pdf is not None
        attachments.append(
            mail.Attachment(f"faktura-{invoice.number}.pdf", "application/pdf", record.pdf)
        )
    else:
        record = receipts.issue_receipt(order, now=now)
        # The content is frozen now; the worker renders the PDF when it sends the mail.
        attachments.append(
            mail.Attachment(f"kvitto-{record.number}.pdf", "application/pdf", record_id=record.id)
        )
    queue_confirmation(
        order,
        record=record,
        files=delivered,
        codes=code_lines,
        attachments=attachments,
        now=now,
    )


def queue_confirmation(
    order: Order,
    *,
    record: BookkeepingRecord,
    files: list[DeliveredDownload],
    codes: list[DeliveredCodes],
    attachments: list[mail.Attachment],
    now: datetime,
) -> mail.OutboxMessage:
    """Queue the order confirmation mail (text + HTML, attachments). Does not commit."""
    seller = receipts.seller()
    ordered_on = clock.local_date(order.placed_at)
    is_consumer = order.buyer_kind == BuyerKind.CONSUMER.value
    kinds = {ProductKind(line.kind) for line in order.lines}
    form = withdrawal_form(seller)
    digital_last_day: date | None = None
    if is_consumer and any(kind.is_digital for kind in kinds):
        digital_last_day = last_day_to_withdraw(
            WithdrawalOrder(buyer_kind=BuyerKind.CONSUMER, ordered_on=ordered_on)
        )
    if is_consumer:
        attachments = [
            *attachments,
            mail.Attachment(
                "standardformular-angerratt.pdf",
                "application/pdf",
                pdf.withdrawal_form_pdf(form),
            ),
        ]
    token = orders.guest_order_token(order)
    context = {
        "order": order,
        "doc": record.content,
        "dates": receipts.document_dates(record.content),
        "seller": seller,
        "policy": DEFAULT_POLICY,
        "is_consumer": is_consumer,
        "has_shipped": any(kind.is_shipped for kind in kinds),
        "digital_last_day": digital_last_day,
        "downloads": files,
        "codes": codes,
        "form": form,
        "order_link": absolute_url("documents.receipt", number=order.number, t=token),
        "pdf_link": absolute_url(
            "documents.invoice_pdf" if record.kind == "invoice" else "documents.receipt_pdf",
            number=order.number,
            t=token,
        ),
    }
    return mail.queue_templated_mail(
        to=order.email,
        subject=lazy_gettext("Orderbekräftelse för order %(number)s", number=order.number),
        template=CONFIRMATION_TEMPLATE,
        context=context,
        attachments=attachments,
        now=now,
        language=order.language,
    )
