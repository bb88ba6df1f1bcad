"""Staff: the order list (search, filters, pages), the order page and the packing slip.

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask_babel import gettext as _
from wtforms import SelectChoice

from shop.domain.policy import DEFAULT_POLICY
from shop.models import Order
from shop.models.customer import Role
from shop.services import complaints, orders, payments, receipts, shipping, staff_admin
from shop.web.auth import staff_required
from shop.web.staff.forms import ActionForm, DeliveryForm, OrderFilterForm
from shop.web.staff.views import bp

STATUS_LABELS = {
    "pending_payment": "Väntar på betalning",
    "confirmed": "Bekräftad",
    "partly_shipped": "Delvis skickad",
    "shipped": "Skickad",
    "delivered": "Levererad",
    "returned_to_sender": "Returnerad till oss",
    "partly_withdrawn": "Delvis ångrad",
    "withdrawn": "Ångrad",
    "cancelled": "Avbruten",
    "completed": "Avslutad",
}
PAYMENT_METHODS = ("card", "klarna", "invoice", "sandbox")


def status_label(status: str) -> str:
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def _order_or_404(number: str) -> Order:
    order = orders.order_by_number(number)
    if order is None:
        abort(404)
    return order


@bp.get("/ordrar")
@staff_required(Role.STAFF)
def orders_list() -> str:
    form = OrderFilterForm(request.args)
    form.status.choices = [SelectChoice("", _("Alla"))] + [
        SelectChoice(s, status_label(s)) for s in STATUS_LABELS
    ]
    form.betalsatt.choices = [SelectChoice("", _("Alla"))] + [
        SelectChoice(m, payments.method_label(m)) for m in PAYMENT_METHODS
    ]
    valid = form.validate()
    filters = staff_admin.OrderFilter(
        q=form.q.data or "",
        status=form.status.data if form.status.data in STATUS_LABELS else "",
        payment_method=form.betalsatt.data if form.betalsatt.data in PAYMENT_METHODS else "",
        date_from=form.fran.data if valid else None,
        date_to=form.till.data if valid else None,
    )
    page = request.args.get("sida", 1, type=int) or 1
    result = staff_admin.search_orders(filters, page=page)
    args = {k: v for k, v in request.args.items() if k != "sida" and v}
    return render_template(
        "staff/orders.html",
        form=form,
        result=result,
        args=args,
        status_label=status_label,
        method_label=payments.method_label,
    )


def render_order_page(order: Order, *, delivery_forms: dict[int, Any] | None = None) -> str:
    overview = staff_admin.order_overview(order)
    forms = {s.id: DeliveryForm(prefix=f"s{s.id}") for s in overview.shipments}
    forms.update(delivery_forms or {})
    return render_template(
        "staff/order.html",
        o=overview,
        order=order,
        delivery_forms=forms,
        action_form=ActionForm(),
        complaints=complaints.complaints_of(order),
        complaint_windows=complaints.WINDOW_LABELS,
        complaint_outcomes=complaints.OUTCOME_LABELS,
        carriers=shipping.CARRIERS,
        status_label=status_label,
        method_label=payments.method_label,
    )


@bp.get("/ordrar/<number>")
@staff_required(Role.STAFF)
def order_page(number: str) -> str:
    return render_order_page(_order_or_404(number))


@bp.get("/ordrar/<number>/foljesedel")
@staff_required(Role.STAFF)
def packing_slip(number: str) -> str:
    order = _order_or_404(number)
    return render_template(
        "staff/packing_slip.html",
        order=order,
        lines=shipping.shipped_lines(order),
        seller=receipts.seller(),
        policy=DEFAULT_POLICY,
        is_consumer=order.buyer_kind == "consumer",
    )
