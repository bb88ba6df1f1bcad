"""Course pages (category Kurser), booking, and the booker's course bookings (T9).

The booker must be logged in (an account is created on the way: the login
page links to "Skapa konto" and comes back here). Another booker's booking
answers 404.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from shop import clock
from shop.domain.buyers import BuyerKind
from shop.models import CourseBooking
from shop.models.customer import Role
from shop.services import course_invoicing, courses
from shop.services.courses import BookingError, BookingRequest, CourseFilters, ParticipantData
from shop.web.account.forms import parse_date
from shop.web.auth import staff_required
from shop.web.courses.forms import (
    MAX_SEATS,
    ActionForm,
    BookingForm,
    CancelForm,
    ParticipantNameForm,
    TransferForm,
)

bp = Blueprint("courses", __name__, url_prefix="/kurser")


def _filters() -> CourseFilters:
    age_raw = request.args.get("alder", "").strip()
    month = request.args.get("manad", "").strip()
    return CourseFilters(
        instrument=request.args.get("instrument", "").strip() or None,
        age=int(age_raw) if age_raw.isdigit() and len(age_raw) <= 3 else None,
        place=request.args.get("plats", "").strip() or None,
        month=month if len(month) == 7 and month[4] == "-" else None,
    )


@bp.get("/")
def listing() -> str:
    today = clock.today()
    filters = _filters()
    return render_template(
        "courses/list.html",
        rows=courses.upcoming_courses(today, filters),
        filters=filters,
        choices=courses.filter_choices(today),
    )


@bp.get("/<slug>")
def detail(slug: str) -> str:
    course = courses.course_by_slug(slug)
    if course is None:
        abort(404)
    today = clock.today()
    start = courses.first_day(course)
    return render_template(
        "courses/detail.html",
        course=course,
        first_day=start,
        last_day=courses.last_day(course),
        seats_left=courses.seats_free(course),
        bookable=start is not None and start > today and course.cancelled_at is None,
        waiting_form=ActionForm(),
        waiting=(
            courses.waiting_entry_of(course, current_user)
            if current_user.is_authenticated
            else None
        ),
    )


def _seat_count() -> int:
    raw = request.args.get("platser", "1")
    return min(max(int(raw), 1), MAX_SEATS) if raw.isdigit() and len(raw) <= 2 else 1


@bp.route("/<slug>/boka", methods=["GET", "POST"])
@login_required
def book(slug: str) -> Any:
    course = courses.course_by_slug(slug)
    if course is None:
        abort(404)
    form = BookingForm()
    if request.method == "GET":
        for _index in range(_seat_count() - 1):
            form.participants.append_entry()
        form.booking_key.data = secrets.token_urlsafe(32)
        if current_user.is_organisation:
            form.buyer_kind.data = "organisation"
            form.organisation_name.data = current_user.organisation_name
            form.organisation_number.data = current_user.organisation_number
    error: str | None = None
    full = False
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            participants = tuple(
                ParticipantData(
                    entry.form.name.data or "",
                    parse_date(entry.form.birth_date.data),  # type: ignore[arg-type]
                )
                for entry in form.participants
            )
            organisation = form.buyer_kind.data == "organisation"
            try:
                booking = courses.book(
                    course,
                    current_user,
                    BookingRequest(
                        participants=participants,
                        buyer_kind=BuyerKind.ORGANISATION if organisation else BuyerKind.CONSUMER,
                        organisation_name=form.organisation_name.data if organisation else None,
                        organisation_number=(
                            form.organisation_number.data if organisation else None
                        ),
                    ),
                    booking_key=form.booking_key.data or secrets.token_urlsafe(32),
                    now=clock.now(),
                )
            except BookingError as problem:
                error = _(problem.message)
                full = problem.rule == "T9.6"
            else:
                if booking.status == "confirmed":
                    flash(
                        _("Tack! Din bokning är bekräftad. Bekräftelsen har skickats per e-post.")
                    )
                else:
                    flash(
                        _(
                            "Tack! Vi har tagit emot din bokning. Den blir bindande när vi har "
                            "bekräftat den per e-post."
                        )
                    )
                return redirect(url_for("courses.booking_page", booking_id=booking.id))
    return (
        render_template(
            "courses/book.html",
            course=course,
            form=form,
            error=error,
            full=full,
            waiting_form=ActionForm(),
            seats_wanted=len(form.participants),
            seats_left=courses.seats_free(course),
            first_day=courses.first_day(course),
        ),
        status,
    )


@bp.post("/<slug>/vantelista")
@login_required
def join_waiting_list(slug: str) -> Any:
    """T9.6: a full course offers a place in line; a freed seat is offered by e-mail."""
    course = courses.course_by_slug(slug)
    if course is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    raw = request.form.get("seats", "1")
    seats = min(max(int(raw), 1), MAX_SEATS) if raw.isdigit() and len(raw) <= 2 else 1
    try:
        courses.join_waiting_list(course, current_user, seats, now=clock.now())
    except BookingError as problem:
        flash(_(problem.message), "error")
    else:
        flash(
            _("Du står på väntelistan. Blir en plats ledig får du ett e-postmeddelande."),
            "success",
        )
    return redirect(url_for("courses.detail", slug=course.slug))


# --- Mina kursbokningar ------------------------------------------------------------------------


def _own_booking(booking_id: int) -> CourseBooking:
    booking = courses.booking_of(current_user, booking_id)
    if booking is None:
        abort(404)
    return booking


@bp.get("/mina")
@login_required
def my_bookings() -> str:
    return render_template(
        "courses/my_bookings.html", bookings=courses.bookings_of(current_user, clock.today())
    )


@bp.get("/bokning/<int:booking_id>")
@login_required
def booking_page(booking_id: int) -> str:
    return _booking_page(_own_booking(booking_id))


def _booking_page(booking: CourseBooking, *, rename_error: str | None = None) -> str:
    first_day = courses.first_day(booking.course)
    return render_template(
        "courses/booking.html",
        booking=booking,
        first_day=first_day,
        cancellations=courses.cancellations_of(booking),
        form=CancelForm(),
        may_cancel=bool(booking.active_participants) and booking.status in courses.HOLDING,
        transfers=courses.transfers_of(booking),
        documents=course_invoicing.documents_of(booking),
        invoice=booking.invoice,
        refunds=course_invoicing.refunds_of(booking),
        may_rename=first_day is not None and first_day > clock.today(),
        rename_form=ActionForm(),
        rename_error=rename_error,
        decline_reason=courses.decline_reason(booking),
        may_transfer=booking.buyer_kind == "organisation"
        and booking.status in ("confirmed", "partly_cancelled")
        and bool(booking.active_participants),
    )


@bp.route("/bokning/<int:booking_id>/overlat", methods=["GET", "POST"])
@login_required
def transfer(booking_id: int) -> Any:
    """T9.4: an organisation asks to transfer a seat; staff approve."""
    booking = _own_booking(booking_id)
    form = TransferForm()
    form.participant.choices = [SelectChoice(p.id, p.name) for p in booking.active_participants]
    error: str | None = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                courses.request_transfer(
                    booking,
                    int(form.participant.data or 0),
                    name=form.name.data or "",
                    birth_date=parse_date(form.birth_date.data),  # type: ignore[arg-type]
                    same_organisation=bool(form.same_organisation.data),
                    now=clock.now(),
                )
            except BookingError as problem:
                error = _(problem.message)
            else:
                flash(
                    _("Tack! Vi har tagit emot din begäran om överlåtelse och hör av oss."),
                    "success",
                )
                return redirect(url_for("courses.booking_page", booking_id=booking.id))
    return (
        render_template("courses/transfer.html", booking=booking, form=form, error=error),
        status,
    )


def _chosen_ids() -> list[int]:
    return [int(raw) for raw in request.form.getlist("participant") if raw.isdigit()]


@bp.post("/bokning/<int:booking_id>/avboka")
@login_required
def cancel(booking_id: int) -> Any:
    """T9.3: the first post shows the fee kept and the credit; the confirmed post cancels."""
    booking = _own_booking(booking_id)
    form = CancelForm()
    today = clock.today()
    chosen = _chosen_ids()
    if not form.validate_on_submit():
        abort(400)
    if not chosen:
        flash(_("Välj minst en deltagare att avboka."), "error")
        return redirect(url_for("courses.booking_page", booking_id=booking.id))
    try:
        quotes = courses.quote(booking, chosen, today)
    except BookingError as problem:
        flash(_(problem.message), "error")
        return redirect(url_for("courses.booking_page", booking_id=booking.id))
    if form.confirm.data != "1":
        return render_template(
            "courses/cancel_confirm.html",
            booking=booking,
            quotes=quotes,
            form=form,
            chosen=chosen,
            today=today,
            action=url_for("courses.cancel", booking_id=booking.id),
        )
    rows = courses.cancel_seats(
        booking,
        chosen,
        received_on=today,
        channel="account",
        actor=courses.customer_actor(current_user),
        now=clock.now(),
    )
    if rows:
        flash(_("Avbokningen är registrerad. Du får en bekräftelse per e-post."), "success")
    else:
        flash(_("Platserna var redan avbokade."), "info")
    return redirect(url_for("courses.booking_page", booking_id=booking.id))


# --- Teachers (Lärare): attendance lists of their own courses -----------------------------------


@bp.get("/larare")
@staff_required(Role.TEACHER)
def teacher_courses() -> str:
    return render_template(
        "courses/teacher_courses.html", courses=courses.teacher_courses(current_user)
    )


@bp.get("/larare/<int:course_id>")
@staff_required(Role.TEACHER)
def attendance(course_id: int) -> str:
    """The printable attendance list: participant names and the booker's phone only."""
    course = courses.teacher_course(current_user, course_id)
    if course is None:
        abort(404)
    return render_template(
        "courses/attendance.html",
        course=course,
        rows=courses.attendance_list(course),
        first_day=courses.first_day(course),
    )


@bp.get("/bokning/<int:booking_id>/dokument/<int:record_id>.pdf")
@login_required
def document_pdf(booking_id: int, record_id: int) -> Response:
    """The booking's invoice as issued (its frozen PDF)."""
    booking = _own_booking(booking_id)
    record = next(
        (r for r in course_invoicing.documents_of(booking) if r.id == record_id and r.pdf),
        None,
    )
    if record is None:
        abort(404)
    response = make_response(record.pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{record.kind}-{record.number}.pdf"'
    )
    return response


@bp.post("/bokning/<int:booking_id>/deltagare/<int:participant_id>")
@login_required
def rename(booking_id: int, participant_id: int) -> Any:
    """The booker corrects a participant's name until the start."""
    booking = _own_booking(booking_id)
    form = ParticipantNameForm()
    if not form.validate_on_submit():
        return _booking_page(booking, rename_error=_("Ange namnet på varje deltagare.")), 400
    try:
        courses.rename_participant(
            booking,
            participant_id,
            form.name.data or "",
            actor=courses.customer_actor(current_user),
            now=clock.now(),
        )
    except BookingError as problem:
        flash(_(problem.message), "error")
    else:
        flash(_("Namnet är ändrat."), "success")
    return redirect(url_for("courses.booking_page", booking_id=booking.id))
