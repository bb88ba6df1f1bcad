"""Staff: the returns desk (T5.5–T5.8): receive a parcel, inspect, approve the refund.

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
The rules come from the domain through :mod:`shop.services.returns`; this
module reads the form, the clock and the staff member and passes them down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import InputRequired

from shop import clock
from shop.domain.withdrawal import ReturnCondition
from shop.models.aftersale import Withdrawal
from shop.models.customer import Role
from shop.services import returns
from shop.web.auth import staff_required
from shop.web.staff.views import bp

OUTCOME_CHOICES = [
    SelectChoice("accepted", _l("Tas emot")),
    SelectChoice("registered", _l("Vägras: skickat rekommenderat")),
    SelectChoice("cash_on_delivery", _l("Vägras: postförskott eller avgift vid leverans")),
]
CONDITION_LABELS = {
    ReturnCondition.UNUSED.value: _l("Oanvänd"),
    ReturnCondition.HANDLED.value: _l("Hanterad (värdeminskning)"),
    ReturnCondition.DAMAGED_BY_PACKING.value: _l("Skadad av dålig förpackning"),
}
_AMOUNT = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")


class ReceiveForm(FlaskForm):
    received_on = DateField(
        _l("Mottagen"),
        format="%Y-%m-%d",
        validators=[InputRequired(message=_l("Ange mottagningsdag (ÅÅÅÅ-MM-DD)."))],
        render_kw={"type": "date"},
    )
    outcome = SelectField(_l("Paketet"), choices=OUTCOME_CHOICES)


class ActionForm(FlaskForm):
    """A button that changes something: the CSRF token is the whole form."""


class InputProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_kronor(raw: str) -> int:
    """ "12,50" or "12" (kr) → öre; raises :class:`InputProblem` in Swedish."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "").removesuffix("kr")
    if not text:
        return 0
    match = _AMOUNT.match(text)
    if match is None:
        raise InputProblem(_("Ange avdraget i kronor, till exempel 49,50."))
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def inspection_results(
    withdrawal: Withdrawal, form: Mapping[str, str]
) -> tuple[dict[int, returns.LineResult], dict[int, str]]:
    """Each withdrawn line's condition, deduction and resellability; errors per line."""
    results: dict[int, returns.LineResult] = {}
    errors: dict[int, str] = {}
    for wline in withdrawal.lines:
        line_id = wline.order_line_id
        raw = form.get(f"condition-{line_id}", "")
        try:
            condition = ReturnCondition(raw)
        except ValueError:
            errors[line_id] = _("Välj skick för varan.")
            continue
        try:
            deduction = (
                parse_kronor(form.get(f"deduction-{line_id}", ""))
                if condition is ReturnCondition.HANDLED
                else 0
            )
        except InputProblem as problem:
            errors[line_id] = problem.message
            continue
        if deduction > wline.order_line.unit_price_ore * wline.quantity:
            errors[line_id] = _("Värdeminskningen kan inte vara större än varans värde.")
            continue
        results[line_id] = returns.LineResult(
            condition=condition,
            deduction_ore=deduction,
            resellable=form.get(f"resellable-{line_id}") == "1",
        )
    return results, errors


def _withdrawal_or_404(withdrawal_id: int) -> Withdrawal:
    withdrawal = returns.get_withdrawal(withdrawal_id)
    if withdrawal is None:
        abort(404)
    return withdrawal


def _back(withdrawal: Withdrawal) -> Response:
    return redirect(url_for("staff.return_desk", withdrawal_id=withdrawal.id))


def _render(
    withdrawal: Withdrawal,
    *,
    receive_form: ReceiveForm | None = None,
    error: str | None = None,
    line_errors: Mapping[int, str] | None = None,
    posted: Mapping[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    today = clock.today()
    if receive_form is None:
        receive_form = ReceiveForm(formdata=None)
        receive_form.received_on.data = today
    page = render_template(
        "staff/returns_desk.html",
        view=returns.desk(withdrawal, today),
        receive_form=receive_form,
        action_form=ActionForm(),
        error=error,
        line_errors=line_errors or {},
        posted=posted or {},
        conditions=CONDITION_LABELS,
        refusal_text=returns.refusal_text,
    )
    return page, status


@bp.get("/returer")
@staff_required(Role.STAFF)
def returns_list() -> str:
    today = clock.today()
    views = [returns.desk(w, today) for w in returns.open_returns()]
    return render_template("staff/returns.html", views=views)


@bp.get("/returer/<int:withdrawal_id>")
@staff_required(Role.STAFF)
def return_desk(withdrawal_id: int) -> Any:
    return _render(_withdrawal_or_404(withdrawal_id))


@bp.post("/returer/<int:withdrawal_id>/mottag")
@staff_required(Role.STAFF)
def return_receive(withdrawal_id: int) -> Any:
    withdrawal = _withdrawal_or_404(withdrawal_id)
    form = ReceiveForm()
    if not form.validate_on_submit():
        return _render(withdrawal, receive_form=form, status=400)
    received_on = form.received_on.data
    assert received_on is not None
    refused = None if form.outcome.data == "accepted" else form.outcome.data
    try:
        returns.register_parcel(
            withdrawal,
            received_on=received_on,
            refused_reason=refused,
            staff_id=current_user.id,
            now=clock.now(),
        )
    except returns.ReturnsError as problem:
        form.received_on.errors = [problem.message]
        return _render(withdrawal, receive_form=form, status=400)
    if refused:
        flash(_("Paketet är vägrat och kunden har fått veta varför."), "success")
    else:
        flash(_("Returen är mottagen."), "success")
    return _back(withdrawal)


@bp.post("/returer/<int:withdrawal_id>/inspektera")
@staff_required(Role.STAFF)
def return_inspect(withdrawal_id: int) -> Any:
    withdrawal = _withdrawal_or_404(withdrawal_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    posted = request.form.to_dict()
    results, errors = inspection_results(withdrawal, posted)
    if errors:
        return _render(
            withdrawal,
            error=_("Rätta uppgifterna nedan."),
            line_errors=errors,
            posted=posted,
            status=400,
        )
    try:
        done = returns.inspect(withdrawal, results, staff_id=current_user.id, now=clock.now())
    except returns.ReturnsError as problem:
        return _render(withdrawal, error=problem.message, posted=posted, status=400)
    flash(
        _("Inspektionen är sparad.") if done else _("Returen var redan inspekterad."),
        "success",
    )
    return _back(withdrawal)


@bp.post("/returer/<int:withdrawal_id>/godkann")
@staff_required(Role.STAFF)
def return_approve(withdrawal_id: int) -> Any:
    withdrawal = _withdrawal_or_404(withdrawal_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        refund, created = returns.approve(withdrawal, staff_id=current_user.id, now=clock.now())
    except returns.ReturnsError as problem:
        return _render(withdrawal, error=problem.message, status=400)
    if refund is None:
        flash(_("Returen är avslutad utan återbetalning."), "success")
    elif not created:
        flash(_("Återbetalningen var redan godkänd."), "success")
    elif refund.status == "done":
        flash(_("Återbetalningen är genomförd."), "success")
    else:
        flash(_("Återbetalningen misslyckades. Försök igen."), "error")
    return _back(withdrawal)


@bp.post("/returer/<int:withdrawal_id>/forsok-igen")
@staff_required(Role.STAFF)
def return_retry(withdrawal_id: int) -> Any:
    withdrawal = _withdrawal_or_404(withdrawal_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    refund = returns.refund_for(withdrawal)
    if refund is None:
        abort(404)
    refund = returns.retry(refund, staff_id=current_user.id, now=clock.now())
    if refund.status == "done":
        flash(_("Återbetalningen är genomförd."), "success")
    else:
        flash(_("Återbetalningen misslyckades. Försök igen."), "error")
    return _back(withdrawal)
