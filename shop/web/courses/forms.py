"""Course forms: booking with participants, cancellation, staff actions. Messages in Swedish."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from shop.web.account.forms import parse_date

#: The most seats one booking form takes.
MAX_SEATS = 10


class ParticipantForm(Form):
    """One participant (Deltagare): name and birth date (R2.5)."""

    name = StringField(
        _l("Deltagarens namn"),
        validators=[
            InputRequired(message=_l("Ange namnet på varje deltagare.")),
            Length(max=200, message=_l("Texten är för lång.")),
        ],
    )
    birth_date = StringField(
        _l("Födelsedatum"),
        validators=[InputRequired(message=_l("Ange födelsedatum (ÅÅÅÅ-MM-DD)."))],
        render_kw={"type": "date"},
    )

    def validate_birth_date(self, field: StringField) -> None:
        if parse_date(field.data) is None:
            raise ValidationError(str(_l("Skriv födelsedatumet som ÅÅÅÅ-MM-DD.")))


class BookingForm(FlaskForm):
    buyer_kind = RadioField(
        _l("Jag bokar som"),
        choices=[
            SelectChoice("consumer", _l("Privatperson")),
            SelectChoice("organisation", _l("Organisation")),
        ],
        default="consumer",
        validators=[InputRequired(message=_l("Välj Privatperson eller Organisation."))],
    )
    organisation_name = StringField(
        _l("Organisationens namn"),
        validators=[Optional(), Length(max=200, message=_l("Texten är för lång."))],
    )
    organisation_number = StringField(
        _l("Organisationsnummer"),
        validators=[Optional(), Length(max=13, message=_l("Texten är för lång."))],
    )
    participants = FieldList(FormField(ParticipantForm), min_entries=1, max_entries=MAX_SEATS)
    booking_key = HiddenField()

    def validate_organisation_name(self, field: StringField) -> None:
        if self.buyer_kind.data == "organisation" and not (field.data or "").strip():
            raise ValidationError(str(_l("Ange organisationens namn.")))

    def validate_organisation_number(self, field: StringField) -> None:
        if self.buyer_kind.data == "organisation" and not (field.data or "").strip():
            raise ValidationError(str(_l("Ange organisationsnumret.")))


class CancelForm(FlaskForm):
    """The booker's written cancellation (T9.3); ``confirm`` is set on the preview page."""

    confirm = HiddenField()


class StaffCancelForm(FlaskForm):
    """A cancellation received by letter or e-mail, with its received date (T9.3)."""

    received_on = StringField(
        _l("Mottagen"),
        validators=[InputRequired(message=_l("Ange dagen avbokningen kom in."))],
        render_kw={"type": "date"},
    )
    channel = SelectField(
        _l("Kom in med"),
        choices=[SelectChoice("letter", _l("Brev")), SelectChoice("email", _l("E-post"))],
        default="email",
    )
    confirm = HiddenField()

    def validate_received_on(self, field: StringField) -> None:
        if parse_date(field.data) is None:
            raise ValidationError(str(_l("Skriv datumet som ÅÅÅÅ-MM-DD.")))


class ActionForm(FlaskForm):
    """A button with CSRF only (accept a booking)."""


class CancelCourseForm(FlaskForm):
    """T9.5: the shop cancels a course; after the last day only with an override reason."""

    reason = StringField(
        _l("Varför ställs kursen in?"),
        validators=[
            InputRequired(message=_l("Ange varför kursen ställs in.")),
            Length(max=300, message=_l("Texten är för lång.")),
        ],
    )
    override_reason = StringField(
        _l("Beslut att ställa in senare än 14 dagar före start (vem och varför)"),
        validators=[Optional(), Length(max=150, message=_l("Texten är för lång."))],
    )


class DeclineForm(FlaskForm):
    """Staff decline a pending booking; the reason is shown to the booker (T9.1)."""

    reason = StringField(
        _l("Varför avböjs bokningen? (bokaren ser texten)"),
        validators=[
            InputRequired(message=_l("Ange varför bokningen avböjs.")),
            Length(max=300, message=_l("Texten är för lång.")),
        ],
    )


class TransferForm(FlaskForm):
    """T9.4: pass a seat to another named person in the same organisation."""

    participant = SelectField(_l("Platsen som ska överlåtas"), coerce=int, validate_choice=False)
    name = StringField(
        _l("Den nya deltagarens namn"),
        validators=[
            InputRequired(message=_l("Ange namnet på varje deltagare.")),
            Length(max=200, message=_l("Texten är för lång.")),
        ],
    )
    birth_date = StringField(
        _l("Födelsedatum"),
        validators=[InputRequired(message=_l("Ange födelsedatum (ÅÅÅÅ-MM-DD)."))],
        render_kw={"type": "date"},
    )
    same_organisation = BooleanField(_l("Personen tillhör samma organisation"))

    def validate_birth_date(self, field: StringField) -> None:
        if parse_date(field.data) is None:
            raise ValidationError(str(_l("Skriv födelsedatumet som ÅÅÅÅ-MM-DD.")))


class ParticipantNameForm(FlaskForm):
    """The booker corrects a participant's name (R2.5) until the course starts."""

    name = StringField(
        _l("Deltagarens namn"),
        validators=[
            InputRequired(message=_l("Ange namnet på varje deltagare.")),
            Length(max=200, message=_l("Texten är för lång.")),
        ],
    )


class CourseForm(FlaskForm):
    """Staff: a new course, or changes to one (T9). Sessions one a line, Stockholm time."""

    title = StringField(
        _l("Kursens namn"),
        validators=[
            InputRequired(message=_l("Ange kursens namn.")),
            Length(max=200, message=_l("Texten är för lång.")),
        ],
    )
    slug = StringField(
        _l("Adressnamn (tomt: skapas av namnet)"),
        validators=[Optional(), Length(max=150, message=_l("Texten är för lång."))],
    )
    description = TextAreaField(_l("Beskrivning"), validators=[Optional()])
    teacher_id = SelectField(_l("Lärarens inloggning"), coerce=int, default=0)
    teacher_name = StringField(
        _l("Lärarens namn (visas på kurssidan)"),
        validators=[Optional(), Length(max=200, message=_l("Texten är för lång."))],
    )
    place = StringField(
        _l("Plats"), validators=[Optional(), Length(max=200, message=_l("Texten är för lång."))]
    )
    online = BooleanField(_l("Distanskurs (på nätet)"))
    instrument = StringField(
        _l("Instrument"),
        validators=[Optional(), Length(max=100, message=_l("Texten är för lång."))],
    )
    min_age = StringField(_l("Lägsta ålder"), validators=[Optional()])
    max_age = StringField(_l("Högsta ålder"), validators=[Optional()])
    seats = StringField(
        _l("Platser"), validators=[InputRequired(message=_l("Ange antal platser."))]
    )
    fee = StringField(
        _l("Kursavgift per deltagare inkl. moms (kr)"),
        validators=[InputRequired(message=_l("Ange kursavgiften, till exempel 1 200,00."))],
    )
    vat_rate_bp = SelectField(
        _l("Momssats"),
        coerce=int,
        default=2500,
        choices=[
            SelectChoice(2500, _l("25 %")),
            SelectChoice(600, _l("6 %")),
            SelectChoice(0, _l("0 % (momsfri utbildning)")),
        ],
    )
    auto_accept = BooleanField(_l("Godkänn bokningar automatiskt"))
    sessions = TextAreaField(
        _l("Kurstillfällen, ett per rad: ÅÅÅÅ-MM-DD TT:MM-TT:MM"),
        validators=[InputRequired(message=_l("Ange minst ett kurstillfälle."))],
    )
