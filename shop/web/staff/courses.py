"""Staff: course bookings — accept (T9.1), enter a written cancellation (T9.3).

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop import clock
from shop.domain.courses import shop_cancellation_last_day
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Course, CourseBooking, CourseRefund, SeatTransfer
from shop.models.customer import Role
from shop.services import course_invoicing, courses
from shop.services.courses import BookingError
from shop.web.account.forms import parse_date
from shop.web.account.redirects import safe_next_url
from shop.web.auth import staff_required
from shop.web.courses.forms import ActionForm, CancelCourseForm, StaffCancelForm
from shop.web.staff.views import bp


@bp.get("/kurser")
@staff_required(Role.STAFF)
def courses_desk() -> str:
    today = clock.today()
    return render_template(
        "staff/courses.html",
        rows=courses.upcoming_courses(today),
        pending=courses.pending_bookings(),
        transfers=courses.pending_transfers(),
        refunds=course_invoicing.pending_refunds(),
        form=ActionForm(),
    )


@bp.get("/kurser/<int:course_id>")
@staff_required(Role.STAFF)
def course_page(course_id: int) -> str:
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404)
    return render_template(
        "staff/course.html",
        course=course,
        first_day=courses.first_day(course),
        seats_left=courses.seats_free(course),
        bookings=courses.bookings_of_course(course),
        form=ActionForm(),
        cancel_form=CancelCourseForm(),
        last_cancel_day=shop_cancellation_last_day(courses.first_day(course) or clock.today()),
    )


@bp.post("/kurser/<int:course_id>/stall-in")
@staff_required(Role.STAFF)
def course_cancel(course_id: int) -> Any:
    """T9.5: cancel the course; every booker is told and every fee paid refunded."""
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404)
    form = CancelCourseForm()
    error: str | None = None
    if form.validate_on_submit():
        try:
            done = courses.cancel_course(
                course,
                reason=form.reason.data or "",
                override_reason=form.override_reason.data,
                staff_id=current_user.id,
                now=clock.now(),
            )
        except BookingError as problem:
            error = _(problem.message)
        else:
            if done is None:
                flash(_("Kursen var redan inställd."), "info")
            else:
                flash(
                    _(
                        "Kursen är inställd. %(count)s bokare har fått besked; "
                        "%(amount)s ska betalas tillbaka.",
                        count=done.bookings,
                        amount=format_sek(done.refunded_ore),
                    ),
                    "success",
                )
            return redirect(url_for("staff.course_page", course_id=course.id))
    return (
        render_template(
            "staff/course.html",
            course=course,
            first_day=courses.first_day(course),
            seats_left=courses.seats_free(course),
            bookings=courses.bookings_of_course(course),
            form=ActionForm(),
            cancel_form=form,
            cancel_error=error,
            last_cancel_day=shop_cancellation_last_day(courses.first_day(course) or clock.today()),
        ),
        400,
    )


def _booking(booking_id: int) -> CourseBooking:
    booking = db.session.get(CourseBooking, booking_id)
    if booking is None:
        abort(404)
    return booking


@bp.post("/kurser/bokning/<int:booking_id>/godkann")
@staff_required(Role.STAFF)
def course_booking_accept(booking_id: int) -> Any:
    booking = _booking(booking_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if courses.accept(booking, staff_id=current_user.id, now=clock.now()):
        flash(_("Bokningen är godkänd och bekräftelsen skickad."), "success")
    else:
        flash(_("Bokningen var redan behandlad."), "info")
    return redirect(safe_next_url(request.form.get("back")) or url_for("staff.courses_desk"))


@bp.route("/kurser/bokning/<int:booking_id>", methods=["GET", "POST"])
@staff_required(Role.STAFF)
def course_booking(booking_id: int) -> Any:
    """A booking with its participants; a cancellation received by letter or e-mail (T9.3)."""
    booking = _booking(booking_id)
    form = StaffCancelForm()
    today = clock.today()
    if request.method == "GET":
        form.received_on.data = today.isoformat()
    chosen = [int(raw) for raw in request.form.getlist("participant") if raw.isdigit()]
    quotes: list[courses.SeatQuote] = []
    error: str | None = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            received_on = parse_date(form.received_on.data)
            assert received_on is not None
            if not chosen:
                error = _("Välj minst en deltagare att avboka.")
            elif received_on > today:
                error = _("Mottagningsdagen kan inte ligga i framtiden.")
            else:
                try:
                    quotes = courses.quote(booking, chosen, received_on)
                    if form.confirm.data == "1":
                        rows = courses.cancel_seats(
                            booking,
                            chosen,
                            received_on=received_on,
                            channel=form.channel.data or "email",
                            actor=courses.staff_actor(current_user.id),
                            now=clock.now(),
                        )
                        flash(
                            _("Avbokningen är registrerad.")
                            if rows
                            else _("Platserna var redan avbokade."),
                            "success" if rows else "info",
                        )
                        return redirect(url_for("staff.course_booking", booking_id=booking.id))
                    status = 200
                except BookingError as problem:
                    error = _(problem.message)
    return (
        render_template(
            "staff/course_booking.html",
            booking=booking,
            form=form,
            accept_form=ActionForm(),
            chosen=chosen,
            quotes=quotes,
            error=error,
            first_day=courses.first_day(booking.course),
            cancellations=courses.cancellations_of(booking),
            refunds=course_invoicing.refunds_of(booking),
        ),
        status,
    )


@bp.post("/kurser/overlatelse/<int:transfer_id>/<decision>")
@staff_required(Role.STAFF)
def course_transfer_decide(transfer_id: int, decision: str) -> Any:
    """T9.4: approve (the shop's agreement) or refuse a seat transfer; no fee."""
    transfer = db.session.get(SeatTransfer, transfer_id)
    if transfer is None or decision not in ("godkann", "neka"):
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    approve = decision == "godkann"
    if courses.decide_transfer(
        transfer, approve=approve, staff_id=current_user.id, now=clock.now()
    ):
        flash(_("Överlåtelsen är godkänd.") if approve else _("Överlåtelsen är nekad."), "success")
    else:
        flash(_("Överlåtelsen var redan behandlad."), "info")
    return redirect(url_for("staff.courses_desk"))


@bp.post("/kurser/aterbetalning/<int:refund_id>/utbetald")
@staff_required(Role.FINANCE)
def course_refund_paid(refund_id: int) -> Any:
    """Finance marks a course refund as paid out (bank transfer); the booker is told."""
    refund = db.session.get(CourseRefund, refund_id)
    if refund is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    if course_invoicing.mark_refund_paid(refund, staff_id=current_user.id, now=clock.now()):
        flash(_("Återbetalningen är markerad som utbetald."), "success")
    else:
        flash(_("Återbetalningen var redan utbetald."), "info")
    return redirect(url_for("staff.courses_desk"))
