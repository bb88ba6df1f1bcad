"""Staff create and edit courses (T9): the catalogue entry, its fee and its sessions.

Once a course has a booking that holds seats or was accepted, its fee, VAT
rate and sessions are locked: the booker booked, and an accepted booking was
confirmed, with exactly those dates and that fee (T9.1), and the fee kept on
a cancellation counts from the first course day (T9.3). The texts, the
teacher, the age range, automatic acceptance and the seats (never below the
seats taken, T9.6) stay editable. If the dates must move, the shop cancels
the course instead (T9.5). A cancelled course is not edited. Every change is
audited with the changed fields before and after.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import clock
from shop.domain.lifecycle import BookingStatus
from shop.extensions import db
from shop.models import AuditEntry, Course, CourseBooking, CourseSession, Customer
from shop.models.customer import Role, RoleGrant
from shop.services import stock
from shop.services.courses import HOLDING, seats_taken, staff_actor

#: Lines of the sessions text box: "2027-01-02 17:00-19:00".
_SESSION_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")
#: The fields locked once a course has bookings.
LOCKED_FIELDS = ("fee_ore", "vat_rate_bp", "sessions")
_FIELDS = (
    "title",
    "slug",
    "description",
    "teacher_id",
    "teacher_name",
    "place",
    "online",
    "instrument",
    "min_age",
    "max_age",
    "seats",
    "fee_ore",
    "vat_rate_bp",
    "auto_accept",
)


class CourseAdminError(Exception):
    """A course that cannot be saved; ``message`` is Swedish, ``field`` the form field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class SessionTime:
    """One session, as aware UTC instants."""

    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class CourseData:
    title: str
    slug: str
    description: str
    teacher_id: int | None
    teacher_name: str
    place: str
    online: bool
    instrument: str
    min_age: int | None
    max_age: int | None
    seats: int
    fee_ore: int
    vat_rate_bp: int
    auto_accept: bool
    sessions: tuple[SessionTime, ...]


def parse_sessions(text: str) -> tuple[tuple[SessionTime, ...], list[str]]:
    """One session a line, "ÅÅÅÅ-MM-DD TT:MM-TT:MM" in Stockholm time; (sessions, errors)."""
    sessions: list[SessionTime] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _SESSION_LINE.match(line)
        if match is None:
            errors.append(
                _(
                    "Rad %(number)s: skriv kurstillfället som ÅÅÅÅ-MM-DD TT:MM-TT:MM.",
                    number=number,
                )
            )
            continue
        day_text, start_h, start_m, end_h, end_m = match.groups()
        try:
            day = date.fromisoformat(day_text)
            start = time(int(start_h), int(start_m))
            end = time(int(end_h), int(end_m))
        except ValueError:
            errors.append(_("Rad %(number)s: datumet eller klockslaget finns inte.", number=number))
            continue
        if end <= start:
            errors.append(
                _("Rad %(number)s: sluttiden måste vara efter starttiden.", number=number)
            )
            continue
        sessions.append(
            SessionTime(
                starts_at=datetime.combine(day, start, tzinfo=clock.STOCKHOLM).astimezone(UTC),
                ends_at=datetime.combine(day, end, tzinfo=clock.STOCKHOLM).astimezone(UTC),
            )
        )
    if not sessions and not errors:
        errors.append(_("Ange minst ett kurstillfälle."))
    ordered = sorted(sessions, key=lambda s: s.starts_at)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.starts_at < before.ends_at:
            errors.append(_("Två kurstillfällen överlappar varandra."))
            break
    return tuple(ordered), errors


def sessions_text(course: Course) -> str:
    """The course's sessions as the text box shows them (Stockholm time)."""
    lines = []
    for session in course.sessions:
        start = session.starts_at.astimezone(clock.STOCKHOLM)
        end = session.ends_at.astimezone(clock.STOCKHOLM)
        lines.append(f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}")
    return "\n".join(lines)


def slugify(title: str) -> str:
    """A URL slug from a Swedish title: "Fiol för nybörjare" → "fiol-for-nyborjare"."""
    text = unicodedata.normalize("NFKD", title.lower())
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:150] or "kurs"


def slug_taken(slug: str, *, other_than: int | None = None) -> bool:
    query = select(Course.id).where(Course.slug == slug)
    if other_than is not None:
        query = query.where(Course.id != other_than)
    return db.session.scalar(query.limit(1)) is not None


def unique_slug(title: str) -> str:
    """A free slug for a new course from its title (``-2``, ``-3``... when taken)."""
    base = slugify(title)
    slug, n = base, 1
    while slug_taken(slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


def teachers() -> list[Customer]:
    """Accounts with the teacher role, by name."""
    return list(
        db.session.scalars(
            select(Customer)
            .join(RoleGrant, RoleGrant.customer_id == Customer.id)
            .where(RoleGrant.role == Role.TEACHER.value)
            .order_by(Customer.name, Customer.id)
        )
    )


def has_bookings(course: Course) -> bool:
    """True once a booking holds seats or was accepted: fee, VAT and sessions are locked."""
    found = db.session.scalar(
        select(CourseBooking.id)
        .where(
            CourseBooking.course_id == course.id,
            (CourseBooking.status.in_((*HOLDING, BookingStatus.COMPLETED.value)))
            | CourseBooking.confirmed_at.is_not(None),
        )
        .limit(1)
    )
    return found is not None


def _check(data: CourseData, *, course_id: int | None) -> None:
    if not data.title.strip():
        raise CourseAdminError(_("Ange kursens namn."), field="title")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", data.slug):
        raise CourseAdminError(
            _("Adressnamnet får bara innehålla a–z, 0–9 och bindestreck."), field="slug"
        )
    if slug_taken(data.slug, other_than=course_id):
        raise CourseAdminError(_("Adressnamnet används redan av en annan kurs."), field="slug")
    if data.teacher_id is not None and data.teacher_id not in {t.id for t in teachers()}:
        raise CourseAdminError(_("Välj en lärare i listan."), field="teacher_id")
    if not data.teacher_name.strip():
        raise CourseAdminError(_("Ange lärarens namn."), field="teacher_name")
    if not data.online and not data.place.strip():
        raise CourseAdminError(
            _("Ange platsen, eller markera kursen som distanskurs."), field="place"
        )
    if data.seats < 1:
        raise CourseAdminError(_("Kursen måste ha minst en plats."), field="seats")
    if data.fee_ore < 0:
        raise CourseAdminError(_("Kursavgiften kan inte vara negativ."), field="fee")
    if data.vat_rate_bp not in (0, 600, 2500):
        raise CourseAdminError(_("Välj en momssats i listan."), field="vat_rate_bp")
    if data.min_age is not None and data.max_age is not None and data.min_age > data.max_age:
        raise CourseAdminError(_("Lägsta ålder kan inte vara högre än högsta."), field="min_age")
    if not data.sessions:
        raise CourseAdminError(_("Ange minst ett kurstillfälle."), field="sessions")


def _check_future(data: CourseData, today: date) -> None:
    if clock.local_date(data.sessions[0].starts_at) <= today:
        raise CourseAdminError(
            _("Första kurstillfället måste ligga efter i dag."), field="sessions"
        )


def _values(course: Course) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(course, name) for name in _FIELDS}
    values["sessions"] = sessions_text(course)
    return values


def _apply(course: Course, data: CourseData, *, sessions: bool) -> None:
    for name in _FIELDS:
        setattr(course, name, getattr(data, name))
    course.title = data.title.strip()
    course.teacher_name = data.teacher_name.strip()
    if data.online:
        course.place = ""
    if sessions:
        course.sessions.clear()
        db.session.flush()
        for session in data.sessions:
            course.sessions.append(
                CourseSession(starts_at=session.starts_at, ends_at=session.ends_at)
            )


def _audit(
    action: str, course: Course, details: dict[str, object], *, actor: str, now: datetime
) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action=action,
            subject_type="course",
            subject_id=str(course.id),
            details=details,
            rule_id="T9",
        )
    )


def create_course(data: CourseData, *, staff_id: int | str, now: datetime) -> Course:
    """A new course with its sessions; audited; commits."""
    today = clock.local_date(now)
    _check(data, course_id=None)
    _check_future(data, today)
    course = Course(created_at=now, active=True)
    _apply(course, data, sessions=True)
    db.session.add(course)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise CourseAdminError(
            _("Adressnamnet används redan av en annan kurs."), field="slug"
        ) from None
    _audit(
        "course.created",
        course,
        {"after": _values(course)},
        actor=staff_actor(staff_id),
        now=now,
    )
    db.session.commit()
    return course


def update_course(
    course: Course, data: CourseData, *, staff_id: int | str, now: datetime
) -> dict[str, dict[str, object]]:
    """Save staff's changes; the changed fields before/after are audited. Commits.

    Raises :class:`CourseAdminError` for a cancelled course, seats below the
    seats taken (T9.6), or a changed fee, VAT rate or session on a course
    with bookings (T9.1). Returns the changes (empty: nothing changed).
    """
    course = stock.lock_row(Course, course.id)
    try:
        if course.cancelled_at is not None:
            raise CourseAdminError(_("En inställd kurs kan inte ändras."))
        today = clock.local_date(now)
        _check(data, course_id=course.id)
        taken = seats_taken(course.id)
        if data.seats < taken:
            raise CourseAdminError(
                _(
                    "Kursen har redan %(taken)s bokade platser; färre platser går inte.",
                    taken=taken,
                ),
                field="seats",
            )
        before = _values(course)
        new_sessions = "\n".join(
            f"{s.starts_at.astimezone(clock.STOCKHOLM):%Y-%m-%d %H:%M}-"
            f"{s.ends_at.astimezone(clock.STOCKHOLM):%H:%M}"
            for s in data.sessions
        )
        after: dict[str, object] = {name: getattr(data, name) for name in _FIELDS}
        after["title"] = data.title.strip()
        after["teacher_name"] = data.teacher_name.strip()
        if data.online:
            after["place"] = ""
        after["sessions"] = new_sessions
        changed = {name for name in after if after[name] != before[name]}
        if changed & set(LOCKED_FIELDS) and has_bookings(course):
            raise CourseAdminError(
                _(
                    "Kursen har bokningar: kursavgift, moms och kurstillfällen kan inte "
                    "ändras. Ställ in kursen om datumen måste ändras."
                ),
                field="fee" if "fee_ore" in changed else "sessions",
            )
        if "sessions" in changed:
            _check_future(data, today)
    except CourseAdminError:
        db.session.rollback()
        raise
    if not changed:
        db.session.rollback()
        return {}
    _apply(course, data, sessions="sessions" in changed)
    changes = {name: {"before": before[name], "after": after[name]} for name in sorted(changed)}
    _audit("course.updated", course, {"changes": changes}, actor=staff_actor(staff_id), now=now)
    db.session.commit()
    return changes
