"""Account forms. Every message is Swedish; passwords are never re-rendered."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from shop.services.accounts import MAX_PASSWORD_LENGTH
from shop.services.customers import MIN_PASSWORD_LENGTH

EMAIL_REQUIRED = _l("Ange din e-postadress.")
EMAIL_INVALID = _l("Ange en giltig e-postadress, t.ex. namn@exempel.se.")
PASSWORD_LENGTH = _l(
    "Lösenordet måste ha minst %(min)d och högst %(max)d tecken.",
    min=MIN_PASSWORD_LENGTH,
    max=MAX_PASSWORD_LENGTH,
)
PASSWORDS_DIFFER = _l("Lösenorden är inte likadana.")
TOO_LONG = _l("Texten är för lång.")


def _email_field(label: Any = None) -> EmailField:
    return EmailField(
        label or _l("E-postadress"),
        validators=[
            InputRequired(message=EMAIL_REQUIRED),
            Length(max=254, message=EMAIL_INVALID),
            Email(message=EMAIL_INVALID),
        ],
    )


def _new_password_field(label: Any) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired(message=_l("Ange ett lösenord.")),
            Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH, message=PASSWORD_LENGTH),
        ],
    )


def parse_date(raw: object) -> date | None:
    """A date written ``ÅÅÅÅ-MM-DD`` (what ``<input type=date>`` sends), or None."""
    try:
        return date.fromisoformat(str(raw or "").strip())
    except ValueError:
        return None


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        _l("Lösenord"), validators=[InputRequired(message=_l("Ange ditt lösenord."))]
    )
    remember = BooleanField(_l("Kom ihåg mig på den här enheten"))
    next = HiddenField()


class RegisterForm(FlaskForm):
    kind = RadioField(
        _l("Jag handlar som"),
        choices=[
            SelectChoice("consumer", _l("Privatperson")),
            SelectChoice("organisation", _l("Organisation")),
        ],
        default="consumer",
        validate_choice=False,
    )
    name = StringField(
        _l("Namn"),
        validators=[
            DataRequired(message=_l("Ange ditt namn.")),
            Length(max=200, message=TOO_LONG),
        ],
    )
    email = _email_field()
    phone = StringField(
        _l("Telefon (frivilligt)"), validators=[Optional(), Length(max=40, message=TOO_LONG)]
    )
    birth_date = StringField(_l("Födelsedatum"))
    organisation_name = StringField(
        _l("Organisationens namn"), validators=[Length(max=200, message=TOO_LONG)]
    )
    organisation_number = StringField(
        _l("Organisationsnummer"), validators=[Length(max=20, message=TOO_LONG)]
    )
    adult_confirmed = BooleanField(_l("Jag som kontaktperson har fyllt 18 år."))
    password = _new_password_field(_l("Lösenord"))
    password_confirm = PasswordField(
        _l("Upprepa lösenordet"),
        validators=[EqualTo("password", message=PASSWORDS_DIFFER)],
    )
    newsletter = BooleanField(
        _l(
            "Ja tack, jag vill ha nyhetsbrevet med nyheter och erbjudanden via e-post. "
            "Jag kan när som helst avsluta prenumerationen."
        ),
        default=False,
    )

    def validate_kind(self, field: RadioField) -> None:
        if field.data not in ("consumer", "organisation"):
            raise ValidationError(str(_l("Välj Privatperson eller Organisation.")))

    def validate_birth_date(self, field: StringField) -> None:
        if self.kind.data != "consumer":
            return
        if not (field.data or "").strip():
            raise ValidationError(str(_l("Ange ditt födelsedatum (ÅÅÅÅ-MM-DD).")))
        if parse_date(field.data) is None:
            raise ValidationError(str(_l("Skriv födelsedatumet som ÅÅÅÅ-MM-DD.")))

    def validate_organisation_name(self, field: StringField) -> None:
        if self.kind.data == "organisation" and not (field.data or "").strip():
            raise ValidationError(str(_l("Ange organisationens namn.")))

    def validate_organisation_number(self, field: StringField) -> None:
        if self.kind.data == "organisation" and not (field.data or "").strip():
            raise ValidationError(str(_l("Ange organisationsnumret (NNNNNN-NNNN).")))

    def validate_adult_confirmed(self, field: BooleanField) -> None:
        if self.kind.data == "organisation" and not field.data:
            raise ValidationError(str(_l("Bekräfta att kontaktpersonen har fyllt 18 år.")))


class ConfirmRegistrationForm(FlaskForm):
    """The "Aktivera kontot" button: the CSRF token is the whole form."""


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password = _new_password_field(_l("Nytt lösenord"))
    password_confirm = PasswordField(
        _l("Upprepa det nya lösenordet"),
        validators=[EqualTo("password", message=PASSWORDS_DIFFER)],
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Nuvarande lösenord"),
        validators=[InputRequired(message=_l("Ange ditt nuvarande lösenord."))],
    )
    new_password = _new_password_field(_l("Nytt lösenord"))
    new_password_confirm = PasswordField(
        _l("Upprepa det nya lösenordet"),
        validators=[EqualTo("new_password", message=PASSWORDS_DIFFER)],
    )


class DetailsForm(FlaskForm):
    name = StringField(
        _l("Namn"),
        validators=[
            DataRequired(message=_l("Ange ditt namn.")),
            Length(max=200, message=TOO_LONG),
        ],
    )
    phone = StringField(
        _l("Telefon (frivilligt)"), validators=[Optional(), Length(max=40, message=TOO_LONG)]
    )
    language = SelectField(
        _l("Språk"),
        choices=[SelectChoice("sv", "Svenska"), SelectChoice("en", "English")],
        validate_choice=False,
    )
    address_name = StringField(
        _l("Mottagare (om annan än du)"), validators=[Length(max=200, message=TOO_LONG)]
    )
    street = StringField(_l("Gatuadress"), validators=[Length(max=200, message=TOO_LONG)])
    postcode = StringField(_l("Postnummer"), validators=[Length(max=10, message=TOO_LONG)])
    city = StringField(_l("Ort"), validators=[Length(max=100, message=TOO_LONG)])
    newsletter = BooleanField(_l("Jag vill ha nyhetsbrevet via e-post."))

    def validate_language(self, field: SelectField) -> None:
        if field.data not in ("sv", "en"):
            raise ValidationError(str(_l("Välj svenska eller engelska.")))

    @property
    def has_address(self) -> bool:
        return any((f.data or "").strip() for f in (self.street, self.postcode, self.city))

    def validate_street(self, field: StringField) -> None:
        if self.has_address and not (field.data or "").strip():
            raise ValidationError(str(_l("Ange gatuadressen.")))

    def validate_postcode(self, field: StringField) -> None:
        if self.has_address and not (field.data or "").strip():
            raise ValidationError(str(_l("Ange postnumret.")))

    def validate_city(self, field: StringField) -> None:
        if self.has_address and not (field.data or "").strip():
            raise ValidationError(str(_l("Ange orten.")))


class EraseAccountForm(FlaskForm):
    """R4.3: the customer asks for erasure, re-entering the password."""

    password = PasswordField(
        _l("Ditt lösenord"),
        validators=[InputRequired(message=_l("Ange ditt lösenord för att radera kontot."))],
    )
    understood = BooleanField(
        _l("Jag förstår att kontot inte kan återställas."),
        validators=[
            InputRequired(message=_l("Bekräfta att du förstår att det inte går att ångra."))
        ],
    )
