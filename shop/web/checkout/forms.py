"""Checkout forms, one per step. Every message is Swedish; input is kept on errors.

Choices (delivery and payment methods) are set by the view from the
services; a posted value outside them gets a Swedish message, never a 500.
Prices are never posted: the summary form carries only the checkout key.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
)
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from shop.domain.buyers import normalise_org_number
from shop.domain.errors import InvalidOrganisationNumber
from shop.services.accounts import AccountError, normalise_postcode

TOO_LONG = _l("Texten är för lång.")
EMAIL_INVALID = _l("Ange en giltig e-postadress, t.ex. namn@exempel.se.")


def _required(message: Any) -> InputRequired:
    return InputRequired(message=message)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class BuyerForm(FlaskForm):
    """Step 1: who buys (T1.1, T1.2)."""

    kind = RadioField(
        _l("Jag handlar som"),
        choices=[
            SelectChoice("consumer", _l("Privatperson")),
            SelectChoice("organisation", _l("Organisation")),
        ],
        default="consumer",
        validate_choice=False,
        validators=[_required(_l("Välj Privatperson eller Organisation."))],
    )
    email = EmailField(
        _l("E-postadress"),
        filters=[_strip],
        validators=[
            _required(_l("Ange din e-postadress.")),
            Length(max=254, message=EMAIL_INVALID),
            Email(message=EMAIL_INVALID),
        ],
    )
    name = StringField(
        _l("Namn"),
        filters=[_strip],
        validators=[_required(_l("Ange ditt namn.")), Length(max=200, message=TOO_LONG)],
    )
    phone = StringField(
        _l("Telefon"), filters=[_strip], validators=[Optional(), Length(max=40, message=TOO_LONG)]
    )
    organisation_name = StringField(
        _l("Organisationens namn"),
        filters=[_strip],
        validators=[Length(max=200, message=TOO_LONG)],
    )
    organisation_number = StringField(
        _l("Organisationsnummer"),
        filters=[_strip],
        validators=[Length(max=20, message=TOO_LONG)],
    )
    #: T1.1: a guest confirms being 18 or older (we do not ask for the birth date).
    adult_confirmed = BooleanField(_l("Jag är 18 år eller äldre"))

    def __init__(self, *args: Any, require_adult: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.require_adult = require_adult

    def validate_kind(self, field: RadioField) -> None:
        if field.data not in ("consumer", "organisation"):
            raise ValidationError(str(_l("Välj Privatperson eller Organisation.")))

    def validate_organisation_name(self, field: StringField) -> None:
        if self.kind.data == "organisation" and not field.data:
            raise ValidationError(str(_l("Ange organisationens namn.")))

    def validate_organisation_number(self, field: StringField) -> None:
        if self.kind.data != "organisation":
            return
        if not field.data:
            raise ValidationError(str(_l("Ange organisationsnumret.")))
        try:
            field.data = normalise_org_number(field.data)
        except InvalidOrganisationNumber as error:
            raise ValidationError(error.message) from None

    def validate_adult_confirmed(self, field: BooleanField) -> None:
        if self.require_adult and not field.data:
            raise ValidationError(
                str(_l("Du måste vara 18 år eller äldre för att handla hos oss."))
            )


def _postcode(form: FlaskForm, field: StringField) -> None:
    if not field.data:
        return
    try:
        field.data = normalise_postcode(field.data)
    except AccountError as error:
        raise ValidationError(error.message) from None


POSTCODE_FORMAT = _l("Skriv postnumret som NNN NN, t.ex. 411 01.")


def _name_field() -> StringField:
    return StringField(_l("Namn"), filters=[_strip], validators=[Length(max=200, message=TOO_LONG)])


def _street_field() -> StringField:
    return StringField(
        _l("Gatuadress"), filters=[_strip], validators=[Length(max=200, message=TOO_LONG)]
    )


def _postcode_field() -> StringField:
    return StringField(
        _l("Postnummer"),
        filters=[_strip],
        validators=[Length(max=10, message=POSTCODE_FORMAT), _postcode],
    )


def _city_field() -> StringField:
    return StringField(_l("Ort"), filters=[_strip], validators=[Length(max=100, message=TOO_LONG)])


_ADDRESS_PARTS = ("name", "street", "postcode", "city")
_MISSING = {
    "name": _l("Ange namn."),
    "street": _l("Ange gatuadress."),
    "postcode": _l("Ange postnummer."),
    "city": _l("Ange ort."),
}


class AddressForm(FlaskForm):
    """Step 2: delivery address (not for a digital-only order) and billing address."""

    delivery_name = _name_field()
    delivery_street = _street_field()
    delivery_postcode = _postcode_field()
    delivery_city = _city_field()
    billing_name = _name_field()
    billing_street = _street_field()
    billing_postcode = _postcode_field()
    billing_city = _city_field()
    billing_same = BooleanField(_l("Fakturaadressen är samma som leveransadressen"), default=True)

    def __init__(self, *args: Any, needs_delivery: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_delivery = needs_delivery

    def required_prefixes(self) -> list[str]:
        prefixes = []
        if self.needs_delivery:
            prefixes.append("delivery")
        if not self.needs_delivery or not self.billing_same.data:
            prefixes.append("billing")
        return prefixes

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for prefix in self.required_prefixes():
            for part in _ADDRESS_PARTS:
                field = self[f"{prefix}_{part}"]
                if not field.data and not field.errors:
                    field.errors = [*field.errors, str(_MISSING[part])]
                    ok = False
        return ok

    def address(self, prefix: str) -> dict[str, str]:
        return {part: str(self[f"{prefix}_{part}"].data or "") for part in _ADDRESS_PARTS}


class DeliveryForm(FlaskForm):
    """Step 3: the delivery method from the rate table (T2.2)."""

    delivery_method = RadioField(
        _l("Leveranssätt"),
        validate_choice=False,
        validators=[_required(_l("Välj ett leveranssätt."))],
    )

    def validate_delivery_method(self, field: RadioField) -> None:
        if field.data not in {choice.value for choice in field.choices or []}:
            raise ValidationError(str(_l("Välj ett av leveranssätten i listan.")))


class PaymentForm(FlaskForm):
    """Step 4: a payment method the buyer may use (T3.1, T3.2)."""

    payment_method = RadioField(
        _l("Betalsätt"),
        validate_choice=False,
        validators=[_required(_l("Välj ett betalsätt."))],
    )


class PlaceOrderForm(FlaskForm):
    """Step 5: only the checkout key and the acceptance of the terms; never prices."""

    checkout_key = HiddenField(validators=[_required(_l("Kassan har löpt ut."))])
    accept_terms = BooleanField(_l("Jag har läst och godkänner köpvillkoren"))

    def validate_accept_terms(self, field: BooleanField) -> None:
        if not field.data:
            raise ValidationError(str(_l("Du måste godkänna köpvillkoren för att slutföra köpet.")))
