"""Forms of the documents pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField


class RevealCodeForm(FlaskForm):
    """ "Visa kod": show a bought software code (recorded, T5.4)."""

    t = HiddenField()
    next = HiddenField()
