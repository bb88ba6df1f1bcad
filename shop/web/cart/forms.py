"""Cart forms: add a product, change a line's quantity, remove a line.

Quantities are read as text and parsed here, so every bad input ("abc",
"2.5", "") gets a Swedish message instead of a 500; the range and the
stock are checked by the cart service.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Length, ValidationError

QUANTITY_MESSAGE = _l("Ange antalet som ett heltal, t.ex. 2.")


def parse_int(raw: object) -> int | None:
    """A whole number written with digits (and an optional minus sign), or None."""
    text = str(raw or "").strip()
    digits = text[1:] if text.startswith("-") else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
        return None
    return int(text)


def _quantity(form: FlaskForm, field: StringField) -> None:
    if parse_int(field.data) is None:
        raise ValidationError(str(QUANTITY_MESSAGE))


class _ProductForm(FlaskForm):
    product_id = HiddenField(validators=[InputRequired()])

    @property
    def product_id_value(self) -> int | None:
        value = parse_int(self.product_id.data)
        return value if value is not None and value > 0 else None


class AddToCartForm(_ProductForm):
    """``product_id``, ``quantity`` (default 1) and an optional ``next`` page to go back to."""

    quantity = StringField(
        _l("Antal"),
        default="1",
        validators=[
            InputRequired(message=QUANTITY_MESSAGE),
            Length(max=12, message=QUANTITY_MESSAGE),
            _quantity,
        ],
    )
    next = HiddenField()


class UpdateCartForm(_ProductForm):
    quantity = StringField(
        _l("Antal"),
        validators=[
            InputRequired(message=QUANTITY_MESSAGE),
            Length(max=12, message=QUANTITY_MESSAGE),
            _quantity,
        ],
    )


class RemoveFromCartForm(_ProductForm):
    pass
