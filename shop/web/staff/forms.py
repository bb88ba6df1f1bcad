"""Forms for the back office (orders, shipping, staff accounts). Messages are Swedish."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from shop.models import OrderLine
from shop.services.customers import MIN_PASSWORD_LENGTH

ROLE_CHOICES = [
    SelectChoice("staff", _l("Personal")),
    SelectChoice("finance", _l("Ekonomi")),
    SelectChoice("admin", _l("Administratör")),
    SelectChoice("teacher", _l("Lärare")),
]
CARRIER_CHOICES = [
    SelectChoice("", _l("Välj fraktbolag")),
    SelectChoice("postnord", "PostNord"),
    SelectChoice("dhl", "DHL"),
]


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class OrderFilterForm(FlaskForm):
    """The order list's search and filters (GET, no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("Sök"), validators=[Optional(), Length(max=200)])
    status = SelectField(_l("Status"), validators=[Optional()], validate_choice=False)
    betalsatt = SelectField(_l("Betalsätt"), validators=[Optional()], validate_choice=False)
    fran = DateField(
        _l("Från"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"}
    )
    till = DateField(
        _l("Till"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"}
    )


class ShipmentForm(FlaskForm):
    """A new shipment: carrier, tracking number and a quantity per line (added per order)."""

    carrier = SelectField(
        _l("Fraktbolag"),
        choices=CARRIER_CHOICES,
        validators=[DataRequired(message=_l("Välj fraktbolag."))],
    )
    tracking_number = StringField(
        _l("Kollinummer"),
        validators=[
            DataRequired(message=_l("Ange kollinumret.")),
            Length(max=60, message=_l("Kollinumret får ha högst 60 tecken.")),
        ],
    )

    line_fields: list[tuple[OrderLine, str, int]]

    def quantities(self) -> dict[int, int]:
        return {
            line.id: int(getattr(self, name).data or 0) for line, name, _max in self.line_fields
        }


def shipment_form(lines: list[tuple[OrderLine, int]], **kwargs: Any) -> ShipmentForm:
    """A :class:`ShipmentForm` with a quantity field per unshipped line (default: all of it)."""

    class Form(ShipmentForm):
        pass

    names: list[tuple[OrderLine, str, int]] = []
    for line, remaining in lines:
        name = f"qty_{line.id}"
        setattr(
            Form,
            name,
            IntegerField(
                line.title,
                default=remaining,
                validators=[
                    InputRequired(message=_l("Ange antal (0 om varan inte ska med).")),
                    NumberRange(
                        min=0,
                        max=remaining,
                        message=_l("Ange ett antal från 0 till %(max)d.", max=remaining),
                    ),
                ],
                render_kw={"min": 0, "max": remaining},
            ),
        )
        names.append((line, name, remaining))
    form = Form(**kwargs)
    form.line_fields = names
    return form


class ActionForm(FlaskForm):
    """A button that changes something: the CSRF token is the whole form."""


class DeliveryForm(FlaskForm):
    delivered_on = DateField(
        _l("Leveransdatum"),
        format="%Y-%m-%d",
        validators=[InputRequired(message=_l("Ange leveransdatum (ÅÅÅÅ-MM-DD)."))],
        render_kw={"type": "date"},
    )


class StaffCreateForm(FlaskForm):
    email = EmailField(
        _l("E-postadress"),
        validators=[
            DataRequired(message=_l("Ange e-postadressen.")),
            Length(max=254, message=_l("E-postadressen är för lång.")),
            Email(message=_l("Ange en giltig e-postadress, t.ex. namn@exempel.se.")),
        ],
    )
    name = StringField(
        _l("Namn"),
        validators=[
            DataRequired(message=_l("Ange namnet.")),
            Length(max=200, message=_l("Namnet är för långt.")),
        ],
    )
    roles = CheckboxesField(
        _l("Roller"),
        choices=ROLE_CHOICES,
        validators=[DataRequired(message=_l("Välj minst en roll."))],
    )
    password = PasswordField(
        _l("Lösenord"),
        validators=[
            DataRequired(message=_l("Ange ett lösenord.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("Lösenordet måste ha minst %(min)d tecken.", min=MIN_PASSWORD_LENGTH),
            ),
        ],
    )


class RolesForm(FlaskForm):
    roles = CheckboxesField(
        _l("Roller"),
        choices=ROLE_CHOICES,
        validators=[DataRequired(message=_l("Välj minst en roll."))],
    )
