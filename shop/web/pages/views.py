"""Information pages: terms of purchase, privacy, language switch."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
