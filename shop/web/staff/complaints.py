"""Staff: complaints (reklamation, T6): the list, a complaint's page, the decision, T6.3's label.

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
The window (T6.1, T6.2) was decided by the domain when the complaint came in;
this page shows it with the dates it rests on. Decisions and labels go
through :mod:`shop.services.complaints`, which audits them.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from shop import clock
from shop.models import Complaint
from shop.models.customer import Role
from shop.services import audit, complaints
from shop.web.auth import staff_required
from shop.web.complaints.views import send_photo
from shop.web.staff.returns import ActionForm, InputProblem, parse_kronor
from shop.web.staff.views import bp


class ComplaintFilterForm(FlaskForm):
    """The list's filters (GET, no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()], validate_choice=False)
    fonster = SelectField(_l("Tidsfrist"), validators=[Optional()], validate_choice=False)
    q = StringField(_l("Ordernummer"), validators=[Optional(), Length(max=20)])


class DecisionForm(FlaskForm):
    outcome = RadioField(
        _l("Beslut"),
        choices=[SelectChoice(value, label) for value, label in complaints.OUTCOME_LABELS.items()],
        validators=[InputRequired(message=_l("Välj ett beslut."))],
    )
    reason = TextAreaField(
        _l("Motivering (kunden ser den)"),
        validators=[
            InputRequired(message=_l("Skriv ett motiv som kunden kan läsa.")),
            Length(max=complaints.MAX_REASON),
        ],
        render_kw={"rows": 4},
    )
    refund = StringField(_l("Belopp att betala tillbaka (kr, vid återbetalning)"))


class LabelForm(FlaskForm):
    reference = StringField(
        _l("Returfraktsedel (referens)"),
        validators=[
            InputRequired(message=_l("Ange returfraktsedelns referens.")),
            Length(max=complaints.MAX_LABEL),
        ],
    )


def _complaint_or_404(complaint_id: int) -> Complaint:
    complaint = complaints.get(complaint_id)
    if complaint is None:
        abort(404)
    return complaint


def _render(
    complaint: Complaint,
    *,
    decision_form: DecisionForm | None = None,
    label_form: LabelForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    if label_form is None:
        label_form = LabelForm(formdata=None, reference=complaint.return_label_reference or "")
    refund = complaints.refund_of(complaint)
    page = render_template(
        "staff/complaint.html",
        complaint=complaint,
        order=complaint.order,
        line=complaint.order_line,
        decision_form=decision_form or DecisionForm(formdata=None),
        label_form=label_form,
        action_form=ActionForm(),
        refund=refund,
        credit_note=(complaints.credit_note_of(refund) if refund is not None else None),
        error=error,
        history=[
            entry
            for entry in audit.entries_for("order", complaint.order_id)
            if entry.details.get("complaint") == complaint.id
        ],
        windows=complaints.WINDOW_LABELS,
        outcomes=complaints.OUTCOME_LABELS,
        statuses=complaints.STATUS_LABELS,
        shipped=complaint.order_line.kind in ("physical", "software_boxed"),
    )
    return page, status


@bp.get("/reklamationer")
@staff_required(Role.STAFF)
def complaints_list() -> str:
    form = ComplaintFilterForm(request.args)
    form.status.choices = [SelectChoice("", _("Alla"))] + [
        SelectChoice(value, label) for value, label in complaints.STATUS_LABELS.items()
    ]
    form.fonster.choices = [SelectChoice("", _("Alla"))] + [
        SelectChoice(value, label) for value, label in complaints.WINDOW_LABELS.items()
    ]
    form.validate()
    rows = complaints.staff_list(
        complaints.ComplaintFilter(
            status=form.status.data or "", window=form.fonster.data or "", q=form.q.data or ""
        )
    )
    return render_template(
        "staff/complaints.html",
        form=form,
        rows=rows,
        windows=complaints.WINDOW_LABELS,
        outcomes=complaints.OUTCOME_LABELS,
        statuses=complaints.STATUS_LABELS,
    )


@bp.get("/reklamationer/<int:complaint_id>")
@staff_required(Role.STAFF)
def complaint_page(complaint_id: int) -> Any:
    return _render(_complaint_or_404(complaint_id))


@bp.post("/reklamationer/<int:complaint_id>/beslut")
@staff_required(Role.STAFF)
def complaint_decide(complaint_id: int) -> Any:
    complaint = _complaint_or_404(complaint_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render(complaint, decision_form=form, status=400)
    refund_ore: int | None = None
    if form.outcome.data == complaints.Outcome.REFUND.value:
        try:
            refund_ore = parse_kronor(form.refund.data or "") or None
        except InputProblem:
            form.refund.errors = [_("Ange beloppet i kronor, till exempel 149,50.")]
            return _render(complaint, decision_form=form, status=400)
    try:
        complaints.decide(
            complaint,
            form.outcome.data or "",
            reason=form.reason.data or "",
            refund_ore=refund_ore,
            staff_id=current_user.id,
            now=clock.now(),
        )
    except complaints.ComplaintError as problem:
        field = getattr(form, problem.field, None) if problem.field else None
        if field is not None:
            field.errors = [*field.errors, problem.message]
            return _render(complaint, decision_form=form, status=400)
        return _render(complaint, decision_form=form, error=problem.message, status=400)
    flash(_("Beslutet är sparat och kunden har fått det per e-post."), "success")
    refund = complaints.refund_of(complaint)
    if refund is not None and refund.status != "done":
        flash(_("Återbetalningen misslyckades. Försök igen."), "error")
    return redirect(url_for("staff.complaint_page", complaint_id=complaint_id))


@bp.post("/reklamationer/<int:complaint_id>/forsok-igen")
@staff_required(Role.STAFF)
def complaint_refund_retry(complaint_id: int) -> Any:
    """The complaint's refund sent again with the same idempotency key (T6, as T5.8)."""
    complaint = _complaint_or_404(complaint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    refund = complaints.retry_refund(complaint, staff_id=current_user.id, now=clock.now())
    if refund is None:
        abort(404)
    if refund.status == "done":
        flash(_("Återbetalningen är genomförd."), "success")
    else:
        flash(_("Återbetalningen misslyckades. Försök igen."), "error")
    return redirect(url_for("staff.complaint_page", complaint_id=complaint_id))


@bp.post("/reklamationer/<int:complaint_id>/returfraktsedel")
@staff_required(Role.STAFF)
def complaint_label(complaint_id: int) -> Any:
    complaint = _complaint_or_404(complaint_id)
    form = LabelForm()
    if not form.validate_on_submit():
        return _render(complaint, label_form=form, status=400)
    try:
        changed = complaints.record_return_label(
            complaint, form.reference.data or "", staff_id=current_user.id, now=clock.now()
        )
    except complaints.ComplaintError as problem:
        form.reference.errors = [*form.reference.errors, problem.message]
        return _render(complaint, label_form=form, status=400)
    flash(
        _("Returfraktsedeln är sparad.") if changed else _("Returfraktsedeln var redan sparad."),
        "success",
    )
    return redirect(url_for("staff.complaint_page", complaint_id=complaint_id))


@bp.get("/reklamationer/<int:complaint_id>/bilder/<int:photo_id>")
@staff_required(Role.STAFF)
def complaint_photo(complaint_id: int, photo_id: int) -> Response:
    return send_photo(complaints.get(complaint_id), photo_id)
