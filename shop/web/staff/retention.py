"""Staff: the retention sweeper's runs, holds and upcoming erasures (S6), the data-request
queue (R4.1, R4.3) and, for admins, the retention policy in force (R2).

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, EmailField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from shop import clock
from shop.extensions import db
from shop.models import DataRequest, LegalHold
from shop.models.customer import Role
from shop.services import data_requests, retention
from shop.services.customers import find_by_email
from shop.web.auth import staff_required
from shop.web.staff.views import bp


class HoldForm(FlaskForm):
    email = EmailField(
        _l("Kundens e-postadress"),
        validators=[InputRequired(message=_l("Ange kundens e-postadress."))],
    )
    reason = TextAreaField(
        _l("Skäl (inga känsliga uppgifter)"),
        validators=[
            InputRequired(message=_l("Ange skälet till spärren.")),
            Length(max=300, message=_l("Skälet får vara högst 300 tecken.")),
        ],
    )


class DataRequestForm(FlaskForm):
    email = EmailField(
        _l("Kontots e-postadress"),
        validators=[InputRequired(message=_l("Ange kontots e-postadress."))],
    )
    kind = SelectField(
        _l("Begäran"),
        choices=[
            SelectChoice("erasure", _l("Radering")),
            SelectChoice("access", _l("Registerutdrag")),
        ],
    )
    received_on = DateField(
        _l("Mottagen"),
        format="%Y-%m-%d",
        validators=[InputRequired(message=_l("Ange mottagningsdag (ÅÅÅÅ-MM-DD)."))],
        render_kw={"type": "date"},
    )


class ActionForm(FlaskForm):
    """A button that changes something: the CSRF token is the whole form."""


def _actor() -> str:
    return f"staff:{current_user.id}"


def _retention_page(hold_form: HoldForm | None = None, status: int = 200) -> Any:
    today = clock.today()
    page = render_template(
        "staff/retention.html",
        runs=retention.last_runs(),
        held=retention.held_records(),
        upcoming=retention.upcoming_erasures(today),
        holds=data_requests.active_holds(),
        hold_form=hold_form or HoldForm(),
        action_form=ActionForm(),
    )
    return page, status


@bp.get("/gallring")
@staff_required(Role.STAFF)
def retention_overview() -> Any:
    return _retention_page()


@bp.post("/gallring/sparr")
@staff_required(Role.STAFF)
def retention_hold() -> Any:
    """R3.5: a hold with a reason on a customer."""
    form = HoldForm()
    if not form.validate_on_submit():
        return _retention_page(form, 400)
    customer = find_by_email(form.email.data or "")
    if customer is None or customer.anonymised_at is not None:
        form.email.errors = [_("Det finns inget konto med den e-postadressen.")]
        return _retention_page(form, 400)
    data_requests.place_hold(customer, form.reason.data or "", actor=_actor(), now=clock.now())
    flash(_("Spärren är lagd: kundens uppgifter rensas inte förrän den hävs."), "success")
    return redirect(url_for("staff.retention_overview"))


@bp.post("/gallring/sparr/<int:hold_id>/hav")
@staff_required(Role.STAFF)
def retention_release(hold_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    hold = db.session.get(LegalHold, hold_id)
    if hold is None:
        abort(404)
    try:
        data_requests.release_hold(hold, actor=_actor(), now=clock.now())
    except data_requests.DataRequestProblem as problem:
        flash(problem.message, "error")
    else:
        flash(_("Spärren är hävd."), "success")
    return redirect(url_for("staff.retention_overview"))


@bp.get("/gallring/regler")
@staff_required(Role.ADMIN)
def retention_policy() -> str:
    """R2: the retention periods in force (app configuration), for admins."""
    return render_template("staff/retention_policy.html", settings=retention.settings_table())


def _queue_page(form: DataRequestForm | None = None, status: int = 200, outcome: Any = None) -> Any:
    if form is None:
        form = DataRequestForm()
        form.received_on.data = clock.today()
    page = render_template(
        "staff/data_requests.html",
        requests=data_requests.queue(),
        today=clock.today(),
        form=form,
        action_form=ActionForm(),
        outcome=outcome,
    )
    return page, status


@bp.get("/dataforfragningar")
@staff_required(Role.STAFF)
def data_request_queue() -> Any:
    return _queue_page()


@bp.post("/dataforfragningar")
@staff_required(Role.STAFF)
def data_request_new() -> Any:
    """R4.1, R4.3, R4.5: a request by mail whose identity staff have verified."""
    form = DataRequestForm()
    if not form.validate_on_submit() or form.received_on.data is None:
        return _queue_page(form, 400)
    if form.received_on.data > clock.today():
        form.received_on.errors = [_("Mottagningsdagen kan inte ligga i framtiden.")]
        return _queue_page(form, 400)
    customer = find_by_email(form.email.data or "")
    if customer is None or customer.anonymised_at is not None:
        form.email.errors = [_("Det finns inget konto med den e-postadressen.")]
        return _queue_page(form, 400)
    if form.kind.data == "access":
        data_requests.record_access_request(
            customer, verified_by=_actor(), received_on=form.received_on.data, now=clock.now()
        )
        flash(_("Begäran om registerutdrag är registrerad."), "success")
        return redirect(url_for("staff.data_request_queue"))
    try:
        outcome = data_requests.request_erasure(
            customer,
            channel="staff",
            verified_by=_actor(),
            received_on=form.received_on.data,
            today=clock.today(),
            now=clock.now(),
        )
    except data_requests.DataRequestProblem as problem:
        form.email.errors = [problem.message]
        return _queue_page(form, 400)
    return _queue_page(outcome=outcome)


@bp.get("/dataforfragningar/<int:request_id>/registerutdrag.json")
@staff_required(Role.STAFF)
def data_request_extract(request_id: int) -> Response:
    """R4.1, R4.5: the register extract to send for a verified access request."""
    request = db.session.get(DataRequest, request_id)
    if request is None:
        abort(404)
    try:
        data, filename = data_requests.extract_for_request(request, actor=_actor(), now=clock.now())
    except data_requests.DataRequestProblem as problem:
        flash(problem.message, "error")
        return redirect(url_for("staff.data_request_queue"))
    response = Response(data, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/dataforfragningar/<int:request_id>/besvarad")
@staff_required(Role.STAFF)
def data_request_answered(request_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    request = db.session.get(DataRequest, request_id)
    if request is None:
        abort(404)
    try:
        data_requests.close_access_request(
            request, actor=_actor(), today=clock.today(), now=clock.now()
        )
    except data_requests.DataRequestProblem as problem:
        flash(problem.message, "error")
    else:
        flash(_("Begäran är markerad som besvarad."), "success")
    return redirect(url_for("staff.data_request_queue"))
