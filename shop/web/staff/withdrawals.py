"""Staff: enter a withdrawal received by letter or e-mail, with its received date (T5.9).

Route on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
The domain decides on the received date: a letter received within the
period counts even if it is entered later. The acknowledgement mail is
queued and the order's status change audited with the staff member as actor.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop import clock
from shop.domain.errors import WithdrawalRefused
from shop.models.customer import Role
from shop.services import orders as order_service
from shop.services import withdrawals
from shop.web.auth import staff_required
from shop.web.staff.views import bp
from shop.web.withdrawal.forms import QuantityError, StaffEntryForm, chosen_quantities


@bp.route("/angra/<number>", methods=["GET", "POST"])
@staff_required(Role.STAFF)
def withdrawal_entry(number: str) -> Any:
    order = order_service.order_by_number(number)
    if order is None:
        abort(404)
    today = clock.today()
    form = StaffEntryForm()
    if request.method == "GET":
        form.name.data = order.name
        form.email.data = order.email
        form.received_on.data = today
        form.channel.data = "form"
        form.submission_key.data = secrets.token_urlsafe(32)
    chosen: dict[int, int] = {}
    error: str | None = None
    if request.method == "POST":
        try:
            chosen = chosen_quantities(request.form)
        except QuantityError as problem:
            error = str(problem)
    if form.validate_on_submit() and error is None:
        received_on = form.received_on.data
        assert received_on is not None
        now = clock.now()
        if received_on > today:
            form.received_on.errors = [_("Mottagningsdagen kan inte ligga i framtiden.")]
        elif received_on < clock.local_date(order.placed_at):
            form.received_on.errors = [_("Mottagningsdagen kan inte ligga före beställningen.")]
        else:
            try:
                withdrawal, _created = withdrawals.submit_withdrawal(
                    order,
                    name=form.name.data or "",
                    email=form.email.data or "",
                    quantities=chosen,
                    submission_key=form.submission_key.data or "",
                    channel=form.channel.data or "form",
                    received_at=withdrawals.received_at_for(received_on, now=now),
                    actor=f"staff:{current_user.id}",
                    entered_by=str(current_user.id),
                    now=now,
                )
            except WithdrawalRefused as refusal:
                error = refusal.message
            except withdrawals.WithdrawalInputError as problem:
                error = problem.message
            else:
                flash(
                    _(
                        "Ångrandet är registrerat och en bekräftelse skickad till %(email)s.",
                        email=withdrawal.email,
                    ),
                    "success",
                )
                return redirect(url_for("staff.withdrawal_entry", number=order.number))
    shown_on = form.received_on.data
    if shown_on is None or not clock.local_date(order.placed_at) <= shown_on <= today:
        shown_on = today
    view = withdrawals.overview(order, shown_on)
    return render_template(
        "staff/withdrawal_entry.html",
        order=order,
        form=form,
        view=view,
        chosen=chosen,
        error=error,
        history=withdrawals.withdrawals_of(order),
        received_text=withdrawals.received_text,
    )
