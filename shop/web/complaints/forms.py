"""The complaint form ("Reklamera vara", T6). Every message is Swedish."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, MultipleFileField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from shop.services.complaints import MAX_DESCRIPTION


class ComplaintForm(FlaskForm):
    """What is wrong, when it was found, and a few photos (checked by the service)."""

    description = TextAreaField(
        _l("Beskriv felet"),
        validators=[
            InputRequired(message=_l("Beskriv felet på varan.")),
            Length(
                max=MAX_DESCRIPTION,
                message=_l("Beskrivningen får vara högst %(max)d tecken.", max=MAX_DESCRIPTION),
            ),
        ],
        render_kw={"rows": 6, "maxlength": MAX_DESCRIPTION},
    )
    discovered_on = DateField(
        _l("När upptäckte du felet? (valfritt)"),
        format="%Y-%m-%d",
        validators=[Optional()],
        render_kw={"type": "date"},
    )

    def validate_discovered_on(self, field: DateField) -> None:
        """A date that is no date gets a Swedish message (WTForms' own is English)."""
        if field.raw_data and field.raw_data[0] and field.data is None:
            field.errors[:] = []
            raise ValidationError(str(_l("Ange dagen som ÅÅÅÅ-MM-DD.")))

    photos = MultipleFileField(
        _l("Bilder på felet (valfritt)"),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
