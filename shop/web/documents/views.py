"""Receipt page and PDFs, invoice PDF, code reveal and downloads.

Who may see an order's documents: the customer who placed it, a guest with
the order's signed link (``?t=<token>``, see
:func:`shop.services.orders.guest_order_token`) and staff with the finance
role. Everyone else gets 404, so order numbers reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop import clock
from shop.extensions import db
from shop.models import BookkeepingRecord, Order, OrderLine
from shop.models.customer import Role
from shop.services import downloads, orders, receipts, returns
from shop.web.documents.forms import RevealCodeForm
from shop.web.pages.views import safe_next

bp = Blueprint("documents", __name__)
downloads_bp = Blueprint("downloads", __name__)


@dataclass(frozen=True)
class Viewer:
    """Who is looking at an order: its buyer (customer or guest link) or finance staff."""

    order: Order
    is_buyer: bool
    token: str | None


def _viewer(order: Order | None, token: str | None) -> Viewer:
    if order is None:
        abort(404)
    if token:
        guest = orders.order_from_guest_token(token)
        if guest is not None and guest.id == order.id:
            return Viewer(order, True, token)
    if current_user.is_authenticated:
        if order.customer_id is not None and order.customer_id == current_user.id:
            return Viewer(order, True, None)
        if current_user.has_role(Role.FINANCE):
            return Viewer(order, False, None)
    abort(404)


def _viewer_for_number(number: str) -> Viewer:
    token = request.args.get("t") or None
    return _viewer(orders.order_by_number(number), token)


def _record(order: Order, kind: str | None = None) -> BookkeepingRecord:
    record = receipts.record_for_order(order, kind)
    if record is None:
        abort(404)
    return record


def _pdf_response(record: BookkeepingRecord, filename: str) -> Response:
    data = receipts.download_pdf(record)
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-SHA256"] = record.pdf_sha256 or ""
    return response


@bp.app_template_global("digital_items")
def digital_items_global(order: Order) -> list[downloads.DigitalItem]:
    """For templates/documents/_digital.html: the order's download and code lines."""
    return downloads.digital_items(order, now=clock.now())


@bp.get("/kvitto/<number>")
def receipt(number: str) -> str:
    """The receipt (or, for an invoice order, the invoice) as a page."""
    viewer = _viewer_for_number(number)
    record = _record(viewer.order)
    return render_template(
        "documents/receipt.html",
        order=viewer.order,
        doc=record.content,
        dates=receipts.document_dates(record.content),
        record=record,
        guest_token=viewer.token,
        is_buyer=viewer.is_buyer,
    )


@bp.get("/kvitto/<number>/pdf")
def receipt_pdf(number: str) -> Response:
    viewer = _viewer_for_number(number)
    record = _record(viewer.order, "receipt")
    return _pdf_response(record, f"kvitto-{record.number}.pdf")


@bp.get("/faktura/<number>/pdf")
def invoice_pdf(number: str) -> Response:
    viewer = _viewer_for_number(number)
    record = _record(viewer.order, "invoice")
    return _pdf_response(record, f"faktura-{record.number}.pdf")


@bp.app_template_global("order_refunds")
def order_refunds_global(order: Order) -> list[returns.OrderRefund]:
    """For templates/orders/_refunds.html: the order's refunds and credit notes (T5.8)."""
    return returns.refunds_of(order)


@bp.get("/kreditfaktura/<number>/<int:credit_number>/pdf")
def credit_note_pdf(number: str, credit_number: int) -> Response:
    """A credit note of the order (T5.5–T5.8), for its buyer and finance staff."""
    viewer = _viewer_for_number(number)
    record = returns.credit_note_for(viewer.order, credit_number)
    if record is None:
        abort(404)
    response = Response(returns.credit_note_pdf(record), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="kreditfaktura-{record.number}.pdf"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/kod/<int:line_id>/visa")
def reveal_code(line_id: int) -> BaseResponse:
    """ "Visa kod": show the bought code on the order page and record when (T5.4)."""
    form = RevealCodeForm()
    if not form.validate_on_submit():
        abort(400)
    line = db.session.get(OrderLine, line_id)
    if line is None or line.kind != "software_code":
        abort(404)
    viewer = _viewer(line.order, form.t.data or None)
    if not viewer.is_buyer:
        abort(404)
    try:
        downloads.reveal_codes(line, now=clock.now())
    except downloads.DownloadRefused as refused:
        flash(refused.message, "error")
    fallback = url_for("documents.receipt", number=viewer.order.number, t=viewer.token)
    target = form.next.data or ""
    return redirect(safe_next(target) if target else fallback)


def _refused(message: str) -> tuple[str, int]:
    return render_template("documents/download_refused.html", message=message), 410


def _send(started: downloads.StartedDownload) -> Response:
    data = downloads.stamped_file(started)
    response = Response(data, mimetype=started.file.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{started.file.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@downloads_bp.get("/nedladdning/<token>")
def download(token: str) -> Response | tuple[str, int]:
    """A personal download link from the confirmation mail (T8.1)."""
    try:
        started = downloads.start_download_by_token(token, now=clock.now())
    except downloads.UnknownDownload:
        abort(404)
    except downloads.DownloadRefused as refused:
        return _refused(refused.message)
    return _send(started)


@downloads_bp.get("/nedladdning/rad/<int:line_id>")
def download_line(line_id: int) -> Response | tuple[str, int]:
    """The same download from the order page, for its buyer (counts the same limit)."""
    line = db.session.get(OrderLine, line_id)
    if line is None or line.kind != "download":
        abort(404)
    viewer = _viewer(line.order, request.args.get("t") or None)
    if not viewer.is_buyer:
        abort(404)
    try:
        started = downloads.start_download_for_line(line, now=clock.now())
    except downloads.UnknownDownload:
        abort(404)
    except downloads.DownloadRefused as refused:
        return _refused(refused.message)
    return _send(started)
