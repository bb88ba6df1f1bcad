"""Order pages: a customer's own order, and a guest's order through a signed link.

Anyone else gets 404 (never 403: the page does not tell whether an order
with that number exists). "Mina ordrar" (``account.orders``) lives on the
account blueprint and lists the orders linking here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from shop import clock
from shop.models import Order
from shop.services import checkout as checkout_service
from shop.services import orders as order_service

bp = Blueprint("orders", __name__)

PAYMENT_LABELS = {
    "card": "Kort",
    "swish": "Swish",
    "klarna": "Klarna",
    "invoice": "Faktura",
    "sandbox": "Testbetalning",
}


def _payment_state(order: Order) -> str:
    """The provider's word on an unpaid order (the page never assumes it)."""
    if order.status != "pending_payment":
        return "paid" if order.status != "cancelled" else "cancelled"
    from shop.services import payments

    state = payments.refresh_state(order, now=clock.now())
    return str(getattr(state, "value", state))


def render_order(order: Order, *, guest_token: str | None = None) -> str:
    from flask_babel import gettext as _

    return render_template(
        "orders/detail.html",
        order=order,
        vat=checkout_service.order_vat(order),
        payment_state=_payment_state(order),
        payment_labels={key: _(value) for key, value in PAYMENT_LABELS.items()},
        endpoints=current_app.view_functions,
        receipt_args={"t": guest_token} if guest_token else {},
        payment_args={"t": guest_token} if guest_token else {},
        guest_token=guest_token,
    )


@bp.get("/konto/ordrar/<number>")
@login_required
def detail(number: str) -> str:
    order = order_service.order_for_customer(current_user, number)  # type: ignore[arg-type]
    if order is None:
        abort(404)
    return render_order(order)


@bp.get("/order/<token>")
def guest_detail(token: str) -> Any:
    order = order_service.order_from_guest_token(token)
    if order is None:
        abort(404)
    return render_order(order, guest_token=token)
