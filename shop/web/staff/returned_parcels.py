"""Staff: a parcel that came back, unclaimed (T7.1) or undeliverable (T7.2).

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, StringField
from wtforms.validators import InputRequired, Length

from shop import clock
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Order, Shipment
from shop.models.customer import Role
from shop.services import returned_parcels, shipping
from shop.services.returned_parcels import ReturnedKind
from shop.web.auth import staff_required
from shop.web.staff.views import bp

#: URL segment → kind.
KINDS: dict[str, ReturnedKind] = {
    "outlost": ReturnedKind.UNCLAIMED,
    "felaktig-adress": ReturnedKind.UNDELIVERABLE,
}
SLUGS = {kind: slug for slug, kind in KINDS.items()}
_KRONOR = re.compile(r"^(\d{1,7})(?:[,.](\d{1,2}))?$")


def parse_kronor(raw: str) -> int | None:
    """ "1 234,50", "49.5" or "49 kr" → öre; None when it is not an amount."""
    text = raw.strip().removesuffix("kr").strip()
    text = text.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    match = _KRONOR.match(text)
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


class ReturnedParcelForm(FlaskForm):
    returned_on = DateField(
        _l("Kom tillbaka den"),
        format="%Y-%m-%d",
        validators=[InputRequired(message=_l("Ange dagen paketet kom tillbaka (ÅÅÅÅ-MM-DD)."))],
        render_kw={"type": "date"},
    )
    freight = StringField(
        _l("Faktisk frakt (kr)"),
        validators=[
            InputRequired(message=_l("Ange fraktkostnaden i kronor, till exempel 79,00.")),
            Length(max=20),
        ],
    )
    return_freight = StringField(_l("Faktisk returfrakt (kr)"), validators=[Length(max=20)])


def _shipment_or_404(shipment_id: int) -> Shipment:
    shipment = db.session.get(Shipment, shipment_id)
    if shipment is None:
        abort(404)
    return shipment


def _amounts(form: ReturnedParcelForm, kind: ReturnedKind) -> tuple[int, int] | None:
    """The freight and return freight in öre, or None with the errors set on the form."""
    freight = parse_kronor(form.freight.data or "")
    if freight is None:
        form.freight.errors = [_("Ange fraktkostnaden i kronor, till exempel 79,00.")]
    if kind is not ReturnedKind.UNCLAIMED:
        return (freight, 0) if freight is not None else None
    back = parse_kronor(form.return_freight.data or "")
    if back is None:
        form.return_freight.errors = [_("Ange returfrakten i kronor, till exempel 79,00.")]
    if freight is None or back is None:
        return None
    return freight, back


@bp.route("/forsandelser/<int:shipment_id>/retur/<slug>", methods=["GET", "POST"])
@staff_required(Role.STAFF)
def returned_parcel(shipment_id: int, slug: str) -> str | Response:
    kind = KINDS.get(slug)
    if kind is None:
        abort(404)
    shipment = _shipment_or_404(shipment_id)
    order = db.session.get(Order, shipment.order_id)
    assert order is not None
    order_url = url_for("staff.order_page", number=order.number)
    form = ReturnedParcelForm()
    if shipment.returned_kind is not None:
        flash(_("Försändelsen är redan markerad som tillbakakommen."), "info")
        return redirect(order_url)
    error = None
    if form.validate_on_submit():
        amounts = _amounts(form, kind)
        if amounts is not None:
            assert form.returned_on.data is not None
            try:
                result = returned_parcels.mark_returned(
                    shipment,
                    kind,
                    form.returned_on.data,
                    freight_ore=amounts[0],
                    return_freight_ore=amounts[1],
                    staff_id=current_user.id,
                    today=clock.today(),
                    now=clock.now(),
                )
            except shipping.ShippingError as refused:
                error = refused.message
            else:
                if result.marked:
                    charged = sum(fee.amount_ore for fee in result.fees)
                    flash(
                        _(
                            "Försändelsen är markerad som tillbakakommen. Debiterat: %(amount)s.",
                            amount=format_sek(charged),
                        ),
                        "success",
                    )
                else:
                    flash(_("Försändelsen är redan markerad som tillbakakommen."), "info")
                return redirect(order_url)
    elif form.csrf_token.errors:
        abort(400)
    elif not form.is_submitted():
        form.returned_on.data = form.returned_on.data or clock.today()
        if not returned_parcels.can_be_marked(shipment):
            error = (
                _("Försändelsen är inte skickad än.")
                if shipment.dispatched_on is None
                else _("Försändelsen är redan levererad och kan inte markeras som tillbakakommen.")
            )
    if kind is ReturnedKind.UNCLAIMED:
        form.freight.label.text = _("Faktisk frakt till kunden (kr)")
    return render_template(
        "staff/returned_parcel.html",
        order=order,
        shipment=shipment,
        kind=kind.value,
        heading=returned_parcels.KIND_LABELS[kind],
        form=form,
        error=error,
        carriers=shipping.CARRIERS,
    )
