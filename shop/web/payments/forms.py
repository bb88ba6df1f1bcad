"""Payment forms (CSRF on every one): start or resume a payment, the test page, Klarna's answer."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import InputRequired, Length, Optional


class StartPaymentForm(FlaskForm):
    """ "Till betalningen": ``method`` only when the buyer picks another method."""

    method = HiddenField(validators=[Optional(), Length(max=20)])
    t = HiddenField(validators=[Optional(), Length(max=500)])


class SandboxForm(FlaskForm):
    """The test payment page's two buttons (``outcome`` is the button's value)."""

    outcome = HiddenField(validators=[Optional(), Length(max=20)])


class KlarnaAuthorisedForm(FlaskForm):
    """Filled in by static/js/klarna-payments.js from Klarna's ``authorize`` callback."""

    authorization_token = HiddenField(validators=[InputRequired(), Length(max=500)])
    t = HiddenField(validators=[Optional(), Length(max=500)])
