"""Staff: the invoice list and "Markera som betald" (finance role, T3.4).

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from shop import clock
from shop.extensions import db
from shop.models import Invoice
from shop.models.customer import Role
from shop.services import invoicing
from shop.web.auth import staff_required
from shop.web.staff.views import bp


class MarkPaidForm(FlaskForm):
    """ "Markera som betald": the CSRF token is the whole form."""


@bp.get("/fakturor")
@staff_required(Role.FINANCE)
def invoices() -> str:
    show_all = request.args.get("visa") == "alla"
    rows = invoicing.all_invoices() if show_all else invoicing.open_invoices()
    return render_template(
        "staff/invoices.html",
        invoices=rows,
        show_all=show_all,
        form=MarkPaidForm(),
        today=clock.today(),
    )


@bp.post("/fakturor/<int:invoice_id>/betald")
@staff_required(Role.FINANCE)
def invoice_mark_paid(invoice_id: int) -> Response:
    form = MarkPaidForm()
    if not form.validate_on_submit():
        abort(400)
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        abort(404)
    try:
        invoicing.mark_paid(invoice, registered_by=f"staff:{current_user.id}", now=clock.now())
    except invoicing.InvoicePaymentError as error:
        flash(error.message, "error")
    else:
        flash(_("Faktura %(number)s är markerad som betald.", number=invoice.number), "success")
    return redirect(url_for("staff.invoices"))
