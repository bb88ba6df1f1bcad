"""Admin: staff accounts and their roles (admin role only); every change is audited.

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from shop import clock
from shop.extensions import db
from shop.models import Customer
from shop.models.customer import Role
from shop.services import audit, staff_admin
from shop.web.auth import staff_required
from shop.web.staff.forms import ActionForm, RolesForm, StaffCreateForm
from shop.web.staff.views import bp


@bp.get("/personal")
@staff_required(Role.ADMIN)
def staff_list() -> str:
    return render_template("staff/staff_list.html", people=staff_admin.staff_members())


@bp.route("/personal/ny", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def staff_new() -> str | Response:
    form = StaffCreateForm()
    if form.validate_on_submit():
        try:
            person = staff_admin.create_staff(
                email=form.email.data or "",
                name=form.name.data or "",
                password=form.password.data or "",
                roles=form.roles.data or [],
                actor_id=current_user.id,
                now=clock.now(),
            )
        except staff_admin.StaffAdminError as refused:
            getattr(form, refused.field or "email").errors = [refused.message]
        else:
            flash(_("Kontot för %(name)s är skapat.", name=person.name), "success")
            return redirect(url_for("staff.staff_list"))
    return render_template("staff/staff_new.html", form=form)


def _person_or_404(person_id: int) -> Customer:
    person = db.session.get(Customer, person_id)
    if person is None or not person.role_grants:
        abort(404)
    return person


def _render_person(person: Customer, roles_form: RolesForm, error: str | None = None) -> str:
    return render_template(
        "staff/staff_edit.html",
        person=person,
        form=roles_form,
        action_form=ActionForm(),
        history=audit.entries_for("customer", person.id),
        error=error,
    )


@bp.route("/personal/<int:person_id>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def staff_edit(person_id: int) -> str | Response:
    person = _person_or_404(person_id)
    form = RolesForm()
    if not form.is_submitted():
        form.roles.data = sorted(role.value for role in person.roles)
    elif form.validate():
        try:
            changed = staff_admin.set_roles(
                person, form.roles.data or [], actor_id=current_user.id, now=clock.now()
            )
        except staff_admin.StaffAdminError as refused:
            form.roles.errors = [refused.message]
        else:
            if changed and person.id == current_user.id:
                # Their sessions ended (new session version); this one goes on.
                remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
                login_user(person, remember=remembered in request.cookies)
            if changed:
                flash(_("Rollerna för %(name)s är ändrade.", name=person.name), "success")
            else:
                flash(_("Rollerna är oförändrade."), "info")
            return redirect(url_for("staff.staff_edit", person_id=person.id))
    elif form.csrf_token.errors:
        abort(400)
    return _render_person(person, form)


def _set_disabled(person_id: int, disabled: bool) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    person = _person_or_404(person_id)
    try:
        changed = staff_admin.set_login_disabled(
            person, disabled, actor_id=current_user.id, now=clock.now()
        )
    except staff_admin.StaffAdminError as refused:
        flash(refused.message, "error")
    else:
        if changed and disabled:
            flash(_("Inloggningen för %(name)s är spärrad.", name=person.name), "success")
        elif changed:
            flash(_("Inloggningen för %(name)s är öppnad igen.", name=person.name), "success")
    return redirect(url_for("staff.staff_edit", person_id=person_id))


@bp.post("/personal/<int:person_id>/sparra")
@staff_required(Role.ADMIN)
def staff_disable(person_id: int) -> Response:
    return _set_disabled(person_id, True)


@bp.post("/personal/<int:person_id>/oppna")
@staff_required(Role.ADMIN)
def staff_enable(person_id: int) -> Response:
    return _set_disabled(person_id, False)
