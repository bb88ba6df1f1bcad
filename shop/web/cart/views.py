"""The cart: show it, add a product, change a quantity, remove a line.

Guests' carts live in the signed session cookie as ``{product_id: quantity}``;
logged-in customers' carts in the database (the cart service decides which
rules apply; this module only picks the store and shows the outcome).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    has_request_context,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from shop import clock
from shop.extensions import db
from shop.services import cart as cart_service
from shop.web.account.redirects import safe_next_url
from shop.web.cart.forms import AddToCartForm, RemoveFromCartForm, UpdateCartForm, parse_int

bp = Blueprint("cart", __name__, url_prefix="/varukorg")
log = logging.getLogger(__name__)

#: Where a guest's cart lives in the session.
CART_SESSION_KEY = "cart"


def _lines() -> dict[int, int]:
    if current_user.is_authenticated:
        return cart_service.customer_lines(current_user.id)
    return cart_service.guest_lines(session.get(CART_SESSION_KEY))


def _render_cart(
    *,
    errors: dict[int, str] | None = None,
    entered: dict[int, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    summary = cart_service.summarise(_lines())
    html = render_template(
        "cart/show.html",
        summary=summary,
        line_errors=errors or {},
        entered=entered or {},
    )
    return html, status


@bp.get("/")
def show() -> tuple[str, int]:
    return _render_cart()


@bp.post("/lagg-till")
def add() -> Response:
    form = AddToCartForm()
    product_id = form.product_id_value
    if product_id is None:
        abort(404)
    back = safe_next_url(form.next.data) or url_for("cart.show")
    if not form.validate():
        for message in form.quantity.errors:
            flash(message, "error")
        return redirect(back)
    quantity = parse_int(form.quantity.data)
    assert quantity is not None  # validated above
    try:
        if current_user.is_authenticated:
            product = cart_service.customer_add(
                current_user.id, product_id, quantity, now=clock.now()
            )
        else:
            new_cart, product = cart_service.guest_add(
                session.get(CART_SESSION_KEY), product_id, quantity
            )
            session[CART_SESSION_KEY] = new_cart
    except cart_service.ProductNotAvailable:
        abort(404)
    except cart_service.CartError as error:
        flash(error.message, "error")
        return redirect(back)
    flash(_("%(title)s ligger nu i varukorgen.", title=product.title), "success")
    return redirect(back)


@bp.post("/andra")
def update() -> Response | tuple[str, int]:
    form = UpdateCartForm()
    product_id = form.product_id_value
    if product_id is None:
        abort(404)
    if not form.validate():
        return _render_cart(
            errors={product_id: " ".join(str(e) for e in form.quantity.errors)},
            entered={product_id: str(form.quantity.data or "")},
            status=400,
        )
    quantity = parse_int(form.quantity.data)
    assert quantity is not None  # validated above
    try:
        if current_user.is_authenticated:
            cart_service.customer_update(current_user.id, product_id, quantity, now=clock.now())
        else:
            session[CART_SESSION_KEY] = cart_service.guest_update(
                session.get(CART_SESSION_KEY), product_id, quantity
            )
    except cart_service.CartError as error:
        return _render_cart(
            errors={product_id: error.message},
            entered={product_id: str(form.quantity.data)},
            status=400,
        )
    flash(_("Varukorgen är uppdaterad."), "success")
    return redirect(url_for("cart.show"))


@bp.post("/ta-bort")
def remove() -> Response:
    form = RemoveFromCartForm()
    product_id = form.product_id_value
    if product_id is None or not form.validate():
        abort(404)
    if current_user.is_authenticated:
        cart_service.customer_remove(current_user.id, product_id)
    else:
        session[CART_SESSION_KEY] = cart_service.guest_remove(
            session.get(CART_SESSION_KEY), product_id
        )
    flash(_("Varan är borttagen ur varukorgen."), "success")
    return redirect(url_for("cart.show"))


@bp.app_context_processor
def inject_cart_count() -> dict[str, Any]:
    """``cart_count`` for the header: one query when logged in, a session read for guests."""
    if not has_request_context():
        return {"cart_count": 0}
    try:
        if current_user.is_authenticated:
            return {"cart_count": cart_service.customer_item_count(current_user.id)}
    except SQLAlchemyError:
        # An error page must still render when the database is down.
        log.exception("Could not count the cart")
        db.session.rollback()
        return {"cart_count": 0}
    return {"cart_count": cart_service.guest_item_count(session.get(CART_SESSION_KEY))}
