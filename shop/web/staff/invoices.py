"""Staff: the invoice desk (finance role): "Markera som betald", follow-up (T3.4–T3.6).

``/staff/fakturor`` shows unpaid invoices; ``?visa=alla`` every invoice,
``?visa=forfallna`` the overdue list with "Skicka påminnelse",
``?visa=inkasso`` the collection list with "Markera för inkasso".
``/staff/fakturor/betalning`` registers a payment by OCR reference.
Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

import re

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from shop import clock
from shop.domain.errors import DomainError
from shop.domain.lifecycle import InvoiceStatus
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Invoice
from shop.models.customer import Role
from shop.services import invoicing
from shop.web.auth import staff_required
from shop.web.staff.views import bp

_AMOUNT = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")


class MarkPaidForm(FlaskForm):
    """A button that changes an invoice: the CSRF token is the whole form."""


class PaymentForm(FlaskForm):
    """Register money received by OCR reference (T3.4)."""

    ocr = StringField(
        _l("OCR-nummer"),
        validators=[DataRequired(message=_l("Ange OCR-numret.")), Length(max=40)],
    )
    amount = StringField(
        _l("Belopp (kr)"),
        validators=[DataRequired(message=_l("Ange beloppet.")), Length(max=30)],
    )
    paid_on = DateField(
        _l("Betaldatum"),
        validators=[InputRequired(message=_l("Ange betaldatum."))],
    )


def parse_amount(raw: str) -> int | None:
    """ "1 234,50" or "1234.5" or "1234 kr" → öre; None when not an amount."""
    text = raw.strip().removesuffix("kr").strip()
    text = text.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    match = _AMOUNT.match(text)
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _staff_actor() -> str:
    return f"staff:{current_user.id}"


@bp.get("/fakturor")
@staff_required(Role.FINANCE)
def invoices() -> str:
    view = request.args.get("visa", "")
    today = clock.today()
    if view == "forfallna":
        return render_template(
            "staff/invoices_overdue.html",
            rows=invoicing.overdue_invoices(today),
            form=MarkPaidForm(),
            today=today,
        )
    if view == "inkasso":
        return render_template(
            "staff/invoices_collection.html",
            rows=invoicing.collection_invoices(today),
            form=MarkPaidForm(),
            today=today,
        )
    show_all = view == "alla"
    rows = invoicing.all_invoices() if show_all else invoicing.open_invoices()
    return render_template(
        "staff/invoices.html",
        invoices=rows,
        show_all=show_all,
        form=MarkPaidForm(),
        today=today,
    )


def _invoice_or_404(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


@bp.post("/fakturor/<int:invoice_id>/betald")
@staff_required(Role.FINANCE)
def invoice_mark_paid(invoice_id: int) -> Response:
    form = MarkPaidForm()
    if not form.validate_on_submit():
        abort(400)
    invoice = _invoice_or_404(invoice_id)
    try:
        invoicing.mark_paid(invoice, registered_by=_staff_actor(), now=clock.now())
    except invoicing.InvoicePaymentError as error:
        flash(error.message, "error")
    else:
        flash(_("Faktura %(number)s är markerad som betald.", number=invoice.number), "success")
    return redirect(url_for("staff.invoices"))


@bp.post("/fakturor/<int:invoice_id>/paminnelse")
@staff_required(Role.FINANCE)
def invoice_send_reminder(invoice_id: int) -> Response:
    """T3.5: "Skicka påminnelse" (once; a second click changes nothing)."""
    form = MarkPaidForm()
    if not form.validate_on_submit():
        abort(400)
    invoice = _invoice_or_404(invoice_id)
    number = invoice.number
    try:
        invoicing.send_reminder(invoice, sent_by=_staff_actor(), now=clock.now())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("En påminnelse för faktura %(number)s är skickad.", number=number), "success")
    return redirect(url_for("staff.invoices", visa="forfallna"))


@bp.get("/fakturor/<int:invoice_id>/paminnelse.pdf")
@staff_required(Role.FINANCE)
def invoice_reminder_pdf(invoice_id: int) -> Response:
    """The stored PDF of the invoice's reminder (T3.5)."""
    reminder = invoicing.reminder_of(_invoice_or_404(invoice_id))
    if reminder is None or reminder.pdf is None:
        abort(404)
    response = make_response(reminder.pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="paminnelse-{reminder.invoice.number}.pdf"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/fakturor/<int:invoice_id>/inkasso")
@staff_required(Role.FINANCE)
def invoice_mark_collection(invoice_id: int) -> Response:
    """T3.6: "Markera för inkasso" (nothing is sent to a collection agency)."""
    form = MarkPaidForm()
    if not form.validate_on_submit():
        abort(400)
    invoice = _invoice_or_404(invoice_id)
    number = invoice.number
    try:
        invoicing.mark_for_collection(invoice, marked_by=_staff_actor(), now=clock.now())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Faktura %(number)s är markerad för inkasso.", number=number), "success")
    return redirect(url_for("staff.invoices", visa="inkasso"))


@bp.route("/fakturor/betalning", methods=["GET", "POST"])
@staff_required(Role.FINANCE)
def invoice_payment() -> str | Response:
    """Register a payment (full or partial) by OCR reference (T3.4, T3.5)."""
    form = PaymentForm()
    if request.method == "GET" and form.paid_on.data is None:
        form.paid_on.data = clock.today()
    if form.validate_on_submit():
        amount_ore = parse_amount(form.amount.data or "")
        assert form.paid_on.data is not None
        if amount_ore is None or amount_ore <= 0:
            form.amount.errors.append(_("Ange beloppet i kronor, till exempel 1 234,50."))
        elif form.paid_on.data > clock.today():
            form.paid_on.errors.append(_("Betaldatumet kan inte ligga i framtiden."))
        else:
            try:
                payment = invoicing.register_payment_by_ocr(
                    form.ocr.data or "",
                    amount_ore=amount_ore,
                    paid_on=form.paid_on.data,
                    registered_by=_staff_actor(),
                    now=clock.now(),
                )
            except (DomainError, invoicing.UnknownOcrReference) as error:
                form.ocr.errors.append(error.message)
            except invoicing.InvoicePaymentError as error:
                form.amount.errors.append(error.message)
            else:
                invoice = payment.invoice
                if invoice.status == InvoiceStatus.PAID.value:
                    flash(_("Faktura %(number)s är nu betald.", number=invoice.number), "success")
                else:
                    flash(
                        _(
                            "Delbetalningen är registrerad. Kvar att betala på faktura "
                            "%(number)s: %(remaining)s.",
                            number=invoice.number,
                            remaining=format_sek(invoicing.amount_owed(invoice) - invoice.paid_ore),
                        ),
                        "success",
                    )
                return redirect(url_for("staff.invoice_payment"))
    return render_template("staff/invoices_payment.html", form=form)
