"""Forms of the withdrawal function (T5.9). Every message is Swedish.

The chosen lines come as checkboxes ``line`` (the order line id) with a
quantity ``qty-<line id>`` each; :func:`chosen_quantities` reads them.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length

EMAIL_REQUIRED = _l("Ange e-postadressen som bekräftelsen ska skickas till.")
EMAIL_INVALID = _l("Ange en giltig e-postadress, t.ex. namn@exempel.se.")
NAME_REQUIRED = _l("Ange ditt namn.")
NUMBER_REQUIRED = _l("Ange ordernumret.")


class QuantityError(ValueError):
    """A quantity that is not a whole number."""


def chosen_quantities(form: MultiDict[str, str]) -> dict[int, int]:
    """{order line id: quantity} for each ticked line; raises :class:`QuantityError`."""
    chosen: dict[int, int] = {}
    for raw in form.getlist("line"):
        try:
            line_id = int(raw)
        except ValueError:
            continue
        raw_qty = (form.get(f"qty-{line_id}") or "1").strip()
        try:
            quantity = int(raw_qty)
        except ValueError:
            raise QuantityError(str(_l("Ange antalet som ett heltal."))) from None
        if quantity < 1:
            raise QuantityError(str(_l("Antalet måste vara minst 1.")))
        chosen[line_id] = quantity
    return chosen


class StepOneForm(FlaskForm):
    """Step one: name, order number and the e-mail to confirm to (the lines come separately)."""

    name = StringField(_l("Namn"), validators=[DataRequired(NAME_REQUIRED), Length(max=200)])
    order_number = StringField(
        _l("Ordernummer"), validators=[DataRequired(NUMBER_REQUIRED), Length(max=20)]
    )
    email = EmailField(
        _l("E-post för bekräftelsen"),
        validators=[DataRequired(EMAIL_REQUIRED), Email(message=EMAIL_INVALID), Length(max=254)],
    )


class ConfirmForm(FlaskForm):
    """Step two: the "Bekräfta ångrande" button with the submission key from step one."""

    submission_key = HiddenField(validators=[DataRequired(), Length(max=64)])


class GuestLinkForm(FlaskForm):
    """/angra: order number and e-mail to get the personal link."""

    order_number = StringField(
        _l("Ordernummer"), validators=[DataRequired(NUMBER_REQUIRED), Length(max=20)]
    )
    email = EmailField(
        _l("E-postadress som du angav i beställningen"),
        validators=[DataRequired(EMAIL_REQUIRED), Email(message=EMAIL_INVALID), Length(max=254)],
    )


class StaffEntryForm(FlaskForm):
    """Staff: a withdrawal received by letter or e-mail, with its received date."""

    name = StringField(_l("Namn"), validators=[DataRequired(NAME_REQUIRED), Length(max=200)])
    email = EmailField(
        _l("E-post för bekräftelsen"),
        validators=[DataRequired(EMAIL_REQUIRED), Email(message=EMAIL_INVALID), Length(max=254)],
    )
    received_on = DateField(
        _l("Mottaget den"),
        validators=[DataRequired(_l("Ange dagen då ångrandet kom in (ÅÅÅÅ-MM-DD)."))],
    )
    channel = SelectField(
        _l("Kom in via"),
        choices=[
            SelectChoice("form", _l("Ångerblanketten (brev eller e-post)")),
            SelectChoice("staff_entry", _l("Annat meddelande (brev eller e-post)")),
        ],
        validators=[DataRequired()],
    )
    submission_key = HiddenField(validators=[DataRequired(), Length(max=64)])
