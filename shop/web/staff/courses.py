"""Staff: course bookings — accept (T9.1), enter a written cancellation (T9.3).

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from shop import clock
from shop.domain.courses import shop_cancellation_last_day
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Course, CourseBooking, CourseRefund, Customer, SeatTransfer
from shop.models.customer import Role
from shop.services import course_admin, course_invoicing, courses
from shop.services.course_admin import CourseAdminError, CourseData
from shop.services.courses import BookingError
from shop.web.account.forms import parse_date
from shop.web.account.redirects import safe_next_url
from shop.web.auth import staff_required
from shop.web.courses.forms import (
    ActionForm,
    CancelCourseForm,
    CourseForm,
    DeclineForm,
    StaffCancelForm,
)
from shop.web.staff.invoices import parse_amount
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
    return _booking_page(
        booking, form=form, chosen=chosen, quotes=quotes, error=error, status=status
    )


def _booking_page(
    booking: CourseBooking,
    *,
    form: StaffCancelForm | None = None,
    chosen: list[int] | None = None,
    quotes: list[courses.SeatQuote] | None = None,
    error: str | None = None,
    decline_form: DeclineForm | None = None,
    decline_error: str | None = None,
    status: int = 200,
) -> Any:
    if form is None:
        form = StaffCancelForm(formdata=None)
        form.received_on.data = clock.today().isoformat()
    return (
        render_template(
            "staff/course_booking.html",
            booking=booking,
            form=form,
            accept_form=ActionForm(),
            decline_form=decline_form or DeclineForm(formdata=None),
            decline_error=decline_error,
            decline_reason=courses.decline_reason(booking),
            chosen=chosen or [],
            quotes=quotes or [],
            error=error,
            first_day=courses.first_day(booking.course),
            cancellations=courses.cancellations_of(booking),
            refunds=course_invoicing.refunds_of(booking),
        ),
        status,
    )


@bp.post("/kurser/bokning/<int:booking_id>/avboj")
@staff_required(Role.STAFF)
def course_booking_decline(booking_id: int) -> Any:
    """Decline a pending booking with a reason the booker sees; seats go to the waiting list."""
    booking = _booking(booking_id)
    form = DeclineForm()
    if not form.validate_on_submit():
        if booking.status != "pending" and not form.csrf_token.errors:
            flash(_("Bokningen var redan behandlad."), "info")
            return redirect(url_for("staff.course_booking", booking_id=booking.id))
        return _booking_page(booking, decline_form=form, status=400)
    try:
        done = courses.decline(
            booking, reason=form.reason.data or "", staff_id=current_user.id, now=clock.now()
        )
    except BookingError as problem:
        return _booking_page(
            booking, decline_form=form, decline_error=_(problem.message), status=400
        )
    if done:
        flash(_("Bokningen är avböjd och bokaren har fått besked."), "success")
    else:
        flash(_("Bokningen var redan behandlad."), "info")
    return redirect(url_for("staff.course_booking", booking_id=booking.id))


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


# --- Create and edit courses ---------------------------------------------------------------------


def _course_form(course: Course | None) -> CourseForm:
    form = (
        CourseForm(obj=course) if course is not None and request.method == "GET" else CourseForm()
    )
    form.teacher_id.choices = [SelectChoice(0, _("Ingen inloggning"))] + [
        SelectChoice(teacher.id, f"{teacher.name} ({teacher.email})")
        for teacher in course_admin.teachers()
    ]
    if course is not None and request.method == "GET":
        form.teacher_id.data = course.teacher_id or 0
        form.fee.data = format_sek(course.fee_ore).removesuffix("kr").strip()
        form.sessions.data = course_admin.sessions_text(course)
        form.min_age.data = "" if course.min_age is None else str(course.min_age)
        form.max_age.data = "" if course.max_age is None else str(course.max_age)
        form.seats.data = str(course.seats)
    return form


def _whole(form: CourseForm, name: str, *, low: int, high: int, message: str) -> int | None:
    field = getattr(form, name)
    raw = (field.data or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        field.errors.append(message)
        return None
    return int(raw)


def _course_data(form: CourseForm, course: Course | None) -> CourseData | None:
    """The form as :class:`CourseData`, or None with the errors on the fields."""
    valid = form.validate_on_submit()
    age = _("Ange en ålder mellan 0 och 120.")
    min_age = _whole(form, "min_age", low=0, high=120, message=age)
    max_age = _whole(form, "max_age", low=0, high=120, message=age)
    seats = _whole(form, "seats", low=1, high=1000, message=_("Ange mellan 1 och 1000 platser."))
    fee_ore = parse_amount(form.fee.data or "")
    if fee_ore is None and not form.fee.errors:
        form.fee.errors.append(_("Ange kursavgiften i kronor, till exempel 1 200,00."))
    sessions, session_errors = course_admin.parse_sessions(form.sessions.data or "")
    if not form.sessions.errors:
        form.sessions.errors.extend(session_errors)
    title = (form.title.data or "").strip()
    slug = (form.slug.data or "").strip().lower()
    if not slug:
        slug = course.slug if course is not None else course_admin.unique_slug(title)
    teacher_id = form.teacher_id.data or None
    teacher_name = (form.teacher_name.data or "").strip()
    if not teacher_name and teacher_id is not None:
        teacher = db.session.get(Customer, teacher_id)
        teacher_name = teacher.name if teacher is not None else ""
    has_errors = any(field.errors for field in form)
    if not valid or has_errors or seats is None or fee_ore is None:
        return None
    return CourseData(
        title=title,
        slug=slug,
        description=form.description.data or "",
        teacher_id=teacher_id,
        teacher_name=teacher_name,
        place=(form.place.data or "").strip(),
        online=bool(form.online.data),
        instrument=(form.instrument.data or "").strip(),
        min_age=min_age,
        max_age=max_age,
        seats=seats,
        fee_ore=fee_ore,
        vat_rate_bp=form.vat_rate_bp.data,
        auto_accept=bool(form.auto_accept.data),
        sessions=sessions,
    )


def _course_form_page(
    form: CourseForm, course: Course | None, *, error: str | None = None, status: int = 200
) -> Any:
    return (
        render_template(
            "staff/course_form.html",
            form=form,
            course=course,
            locked=course is not None and course_admin.has_bookings(course),
            seats_taken=courses.seats_taken(course.id) if course is not None else 0,
            error=error,
        ),
        status,
    )


def _place_error(form: CourseForm, problem: CourseAdminError) -> str | None:
    """Put the service's message on its field; the rest is shown above the form."""
    field = getattr(form, problem.field, None) if problem.field else None
    if field is None:
        return _(problem.message)
    field.errors = [*field.errors, _(problem.message)]
    return None


@bp.route("/kurser/ny", methods=["GET", "POST"])
@staff_required(Role.STAFF)
def course_new() -> Any:
    """A new course with its sessions (T9)."""
    form = _course_form(None)
    if request.method == "GET":
        return _course_form_page(form, None)
    data = _course_data(form, None)
    if data is None:
        return _course_form_page(form, None, status=400)
    try:
        course = course_admin.create_course(data, staff_id=current_user.id, now=clock.now())
    except CourseAdminError as problem:
        return _course_form_page(form, None, error=_place_error(form, problem), status=400)
    flash(_("Kursen är skapad."), "success")
    return redirect(url_for("staff.course_page", course_id=course.id))


@bp.route("/kurser/<int:course_id>/andra", methods=["GET", "POST"])
@staff_required(Role.STAFF)
def course_edit(course_id: int) -> Any:
    """Change a course; fee, VAT and sessions are locked once it has bookings (T9.1)."""
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404)
    if course.cancelled_at is not None:
        flash(_("En inställd kurs kan inte ändras."), "error")
        return redirect(url_for("staff.course_page", course_id=course.id))
    form = _course_form(course)
    if request.method == "GET":
        return _course_form_page(form, course)
    data = _course_data(form, course)
    if data is None:
        return _course_form_page(form, course, status=400)
    try:
        changes = course_admin.update_course(
            course, data, staff_id=current_user.id, now=clock.now()
        )
    except CourseAdminError as problem:
        course = db.session.get(Course, course_id)
        return _course_form_page(form, course, error=_place_error(form, problem), status=400)
    flash(_("Kursen är ändrad.") if changes else _("Inget ändrades."), "success")
    return redirect(url_for("staff.course_page", course_id=course_id))
