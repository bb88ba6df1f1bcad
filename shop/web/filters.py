"""Jinja filters: money as ``1 299,00 kr``, dates the Swedish way."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from flask_babel import format_date, get_locale

from shop.clock import STOCKHOLM
from shop.domain.money import format_sek


def sek(ore: int | None) -> str:
    """Öre as Swedish kronor: ``1 299,00 kr`` (non-breaking spaces)."""
    if ore is None:
        return ""
    return format_sek(int(ore))


def long_date(value: date | datetime | None) -> str:
    """``23 november 2026`` (Swedish) or ``23 November 2026`` (English)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(STOCKHOLM).date()
    return format_date(value, format="d MMMM y")


def iso_date(value: date | datetime | None) -> str:
    """``2026-11-23``, for tables."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(STOCKHOLM).date()
    return value.isoformat()


def local_datetime(value: datetime | None) -> str:
    """``2026-11-23 14:05`` in Stockholm time."""
    if value is None:
        return ""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def init_app(app: Flask) -> None:
    app.add_template_filter(sek)
    app.add_template_filter(long_date)
    app.add_template_filter(iso_date)
    app.add_template_filter(local_datetime)
    app.add_template_global(lambda: str(get_locale() or "sv"), "current_locale")
