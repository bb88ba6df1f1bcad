"""Staff: the pick list, creating shipments, dispatch, Klarna capture retry, delivery (T4.2).

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from shop import clock
from shop.extensions import db
from shop.models import Order, Shipment
from shop.models.customer import Role
from shop.services import orders, shipping
from shop.web.auth import staff_required
from shop.web.staff.forms import ActionForm, DeliveryForm, shipment_form
from shop.web.staff.orders import render_order_page
from shop.web.staff.views import bp


@bp.get("/plock")
@staff_required(Role.STAFF)
def pick_list() -> str:
    return render_template("staff/pick_list.html", picks=shipping.pick_list())


def _order_or_404(number: str) -> Order:
    order = orders.order_by_number(number)
    if order is None:
        abort(404)
    return order


def _shipment_or_404(shipment_id: int) -> Shipment:
    shipment = db.session.get(Shipment, shipment_id)
    if shipment is None:
        abort(404)
    return shipment


def _back(shipment: Shipment) -> Response:
    order = db.session.get(Order, shipment.order_id)
    assert order is not None
    return redirect(url_for("staff.order_page", number=order.number))


@bp.route("/ordrar/<number>/forsandelse", methods=["GET", "POST"])
@staff_required(Role.STAFF)
def new_shipment(number: str) -> str | Response:
    order = _order_or_404(number)
    remaining = shipping.unshipped(order)
    lines = [(line, remaining[line.id]) for line in order.lines if line.id in remaining]
    form = shipment_form(lines)
    error = None
    if order.status not in shipping.SHIPPABLE_STATUSES or not lines:
        error = _("Det finns inget att skicka på den här ordern.")
    elif form.validate_on_submit():
        try:
            shipment = shipping.create_shipment(
                order,
                form.quantities(),
                carrier=form.carrier.data or "",
                tracking_number=form.tracking_number.data or "",
                staff_id=current_user.id,
                now=clock.now(),
            )
        except shipping.ShippingError as refused:
            error = refused.message
        else:
            flash(_("Försändelse %(id)d är skapad.", id=shipment.id), "success")
            return redirect(url_for("staff.order_page", number=order.number))
    return render_template("staff/new_shipment.html", order=order, form=form, error=error)


@bp.post("/forsandelser/<int:shipment_id>/skicka")
@staff_required(Role.STAFF)
def dispatch_shipment(shipment_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    shipment = _shipment_or_404(shipment_id)
    try:
        result = shipping.mark_dispatched(
            shipment, staff_id=current_user.id, today=clock.today(), now=clock.now()
        )
    except shipping.ShippingError as refused:
        flash(refused.message, "error")
        return _back(shipment)
    if not result.dispatched:
        flash(_("Försändelsen är redan markerad som skickad."), "info")
    else:
        flash(_("Försändelse %(id)d är markerad som skickad.", id=shipment_id), "success")
    if result.capture is not None and not result.capture.done:
        flash(
            _("Dragningen hos Klarna misslyckades: %(error)s", error=result.capture.error or ""),
            "error",
        )
    return _back(shipment)


@bp.post("/forsandelser/<int:shipment_id>/dragning")
@staff_required(Role.STAFF)
def retry_capture(shipment_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    shipment = _shipment_or_404(shipment_id)
    try:
        state = shipping.retry_capture(shipment, staff_id=current_user.id, now=clock.now())
    except shipping.ShippingError as refused:
        flash(refused.message, "error")
        return _back(shipment)
    if state.done:
        flash(_("Dragningen är gjord."), "success")
    else:
        flash(_("Dragningen hos Klarna misslyckades: %(error)s", error=state.error or ""), "error")
    return _back(shipment)


@bp.post("/forsandelser/<int:shipment_id>/leverans")
@staff_required(Role.STAFF)
def record_delivery(shipment_id: int) -> str | Response:
    shipment = _shipment_or_404(shipment_id)
    order = db.session.get(Order, shipment.order_id)
    assert order is not None
    form = DeliveryForm(prefix=f"s{shipment.id}")
    if form.validate_on_submit():
        assert form.delivered_on.data is not None
        try:
            shipping.record_delivery(
                shipment,
                form.delivered_on.data,
                staff_id=current_user.id,
                today=clock.today(),
                now=clock.now(),
            )
        except shipping.ShippingError as refused:
            form.delivered_on.errors = [refused.message]
        else:
            flash(_("Leveransdatumet är sparat."), "success")
            return _back(shipment)
    elif form.csrf_token.errors:
        abort(400)
    return render_order_page(order, delivery_forms={shipment.id: form})
