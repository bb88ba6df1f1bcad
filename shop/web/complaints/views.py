"""Complaints on the order page (T6): "Reklamera vara" per item, from the account or a guest link.

The form lives next to the order page: ``/konto/ordrar/<number>/reklamera/<line>``
for a logged-in customer, ``/order/<token>/reklamera/<line>`` for a guest's
signed link. Photos of a complaint are served only to its order's owner (or
the guest link's holder) and to staff (:mod:`shop.web.staff.complaints`).
Anyone else's order, line, complaint or photo gives 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from shop import clock
from shop.domain.complaints import ComplaintWindow
from shop.extensions import db
from shop.models import Complaint, ComplaintPhoto, Customer, Order, OrderLine
from shop.services import complaints
from shop.services import orders as order_service
from shop.web.complaints.forms import ComplaintForm

bp = Blueprint("complaints", __name__)


@dataclass(frozen=True)
class Target:
    """Where one order's complaint pages live: the account or a guest link."""

    order: Order
    token: str | None = None

    @property
    def order_url(self) -> str:
        if self.token:
            return url_for("orders.guest_detail", token=self.token)
        return url_for("orders.detail", number=self.order.number)

    def report_url(self, line: OrderLine) -> str:
        if self.token:
            return url_for("complaints.guest_report", token=self.token, line_id=line.id)
        return url_for("complaints.report", number=self.order.number, line_id=line.id)

    def photo_url(self, photo: ComplaintPhoto) -> str:
        if self.token:
            return url_for(
                "complaints.guest_photo",
                token=self.token,
                complaint_id=photo.complaint_id,
                photo_id=photo.id,
            )
        return url_for(
            "complaints.photo",
            number=self.order.number,
            complaint_id=photo.complaint_id,
            photo_id=photo.id,
        )

    @property
    def actor(self) -> str:
        if current_user.is_authenticated and current_user.id == self.order.customer_id:
            return order_service.customer_actor(current_user)  # type: ignore[arg-type]
        owner = db.session.get(Customer, self.order.customer_id) if self.order.customer_id else None
        return order_service.customer_actor(owner) if owner else "customer:guest"


def _own_order(number: str) -> Target:
    order = order_service.order_for_customer(current_user, number)  # type: ignore[arg-type]
    if order is None:
        abort(404)
    return Target(order)


def _guest_order(token: str) -> Target:
    order = order_service.order_from_guest_token(token)
    if order is None:
        abort(404)
    return Target(order, token)


# --- On the order page --------------------------------------------------------------------


@bp.app_template_global("complaint_section")
def complaint_section(order: Order, guest_token: str | None = None) -> dict[str, Any] | None:
    """The order page's complaints: a "Reklamera vara" link per item that can be reported,
    and each complaint with its status and staff's decision."""
    if order.status in complaints.NOT_COMPLAINABLE or order.anonymised_at is not None:
        return None
    target = Target(order, guest_token)
    reported = complaints.complaints_of(order)
    open_lines = {c.order_line_id for c in reported if c.is_open}
    links = [
        (line, target.report_url(line))
        for line in order.lines
        if line.id not in open_lines and complaints.can_report(line)
    ]
    if not links and not reported:
        return None
    return {
        "links": links,
        "complaints": reported,
        "photo_url": target.photo_url,
        "outcomes": complaints.OUTCOME_LABELS,
    }


# --- The form -----------------------------------------------------------------------------


def _uploads(files: list[FileStorage]) -> list[complaints.Upload]:
    """The posted photos, each read up to one byte over the limit (the service says why)."""
    cap = int(current_app.config["COMPLAINT_PHOTO_MAX_BYTES"]) + 1
    return [
        complaints.Upload(file.filename or "", file.stream.read(cap))
        for file in files
        if file is not None and (file.filename or "")
    ]


def _report(target: Target, line_id: int) -> Any:
    line = complaints.line_of(target.order, line_id)
    if line is None:
        abort(404)
    form = ComplaintForm()
    error: str | None = None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                complaint = complaints.report(
                    line,
                    description=form.description.data or "",
                    discovered_on=form.discovered_on.data,
                    photos=_uploads(request.files.getlist(form.photos.name)),
                    actor=target.actor,
                    now=clock.now(),
                )
            except complaints.ComplaintError as problem:
                field = getattr(form, problem.field, None) if problem.field else None
                if field is not None:
                    field.errors = [*field.errors, problem.message]
                else:
                    error = problem.message
            else:
                if complaint.window_kind == ComplaintWindow.NORMAL.value:
                    flash(_("Tack! Vi har tagit emot din reklamation och hör av oss."), "success")
                else:
                    flash(
                        _(
                            "Tack! Vi har tagit emot din reklamation. Den har kommit in efter "
                            "2 månader, så vår personal går igenom den och hör av sig."
                        ),
                        "success",
                    )
                return redirect(target.order_url)
        if form.errors and error is None:
            error = _("Rätta uppgifterna nedan. Bilder behöver väljas igen.")
        return _form_page(form, line, target, error), 400
    return _form_page(form, line, target, None)


def _form_page(form: ComplaintForm, line: OrderLine, target: Target, error: str | None) -> str:
    return render_template(
        "complaints/report.html",
        form=form,
        line=line,
        target=target,
        error=error,
        photo_size_limit=complaints.size_text(int(current_app.config["COMPLAINT_PHOTO_MAX_BYTES"])),
    )


@bp.route("/konto/ordrar/<number>/reklamera/<int:line_id>", methods=["GET", "POST"])
@login_required
def report(number: str, line_id: int) -> Any:
    return _report(_own_order(number), line_id)


@bp.route("/order/<token>/reklamera/<int:line_id>", methods=["GET", "POST"])
def guest_report(token: str, line_id: int) -> Any:
    return _report(_guest_order(token), line_id)


# --- Photos -------------------------------------------------------------------------------


def send_photo(complaint: Complaint | None, photo_id: int) -> Response:
    """The photo file, private and never sniffed by the browser; 404 when missing."""
    if complaint is None:
        abort(404)
    photo = complaints.photo_of(complaint, photo_id)
    path = complaints.photo_path(photo) if photo is not None else None
    if photo is None or path is None:
        abort(404)
    response = Response(path.read_bytes(), mimetype=photo.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (
        f'inline; filename="reklamation-{complaint.id}-{photo.id}.'
        f'{complaints.PHOTO_EXTENSIONS[photo.content_type]}"'
    )
    return response


@bp.get("/konto/ordrar/<number>/reklamationer/<int:complaint_id>/bilder/<int:photo_id>")
@login_required
def photo(number: str, complaint_id: int, photo_id: int) -> Response:
    target = _own_order(number)
    return send_photo(complaints.complaint_of_order(target.order, complaint_id), photo_id)


@bp.get("/order/<token>/reklamationer/<int:complaint_id>/bilder/<int:photo_id>")
def guest_photo(token: str, complaint_id: int, photo_id: int) -> Response:
    target = _guest_order(token)
    return send_photo(complaints.complaint_of_order(target.order, complaint_id), photo_id)
