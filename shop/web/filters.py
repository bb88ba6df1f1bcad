"""Jinja filters: money as ``1 299,00 kr``, dates the Swedish way, percentages."""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel.dates import format_date as babel_format_date
from flask import Flask
from flask_babel import get_locale

from shop.clock import STOCKHOLM
from shop.domain.money import NBSP, format_sek


def current_locale() -> str:
    """The language of this request (``sv`` or ``en``); Swedish outside a request."""
    try:
        locale = get_locale()
    except RuntimeError:  # no application context at all
        locale = None
    return str(locale) if locale else "sv"


def _local_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # the shop stores UTC; a naive value is read as UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(STOCKHOLM).date()
    return value


def sek(ore: int | None) -> str:
    """Öre as Swedish kronor: ``1 299,00 kr`` (non-breaking spaces), also in English."""
    if ore is None:
        return ""
    return format_sek(int(ore))


def long_date(value: date | datetime | None) -> str:
    """``23 november 2026`` (Swedish) or ``23 November 2026`` (English).

    An aware datetime is shown as its calendar date in Stockholm.
    """
    if value is None:
        return ""
    return babel_format_date(_local_date(value), format="d MMMM y", locale=current_locale())


def iso_date(value: date | datetime | None) -> str:
    """``2026-11-23``, for tables (the Stockholm date of an aware datetime)."""
    if value is None:
        return ""
    return _local_date(value).isoformat()


def local_datetime(value: datetime | None) -> str:
    """``2026-11-23 14:05`` in Stockholm time."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def percent(basis_points: int | None) -> str:
    """Basis points as a Swedish percentage: ``2500`` → ``25 %``, ``1250`` → ``12,5 %``."""
    if basis_points is None:
        return ""
    whole, rest = divmod(int(basis_points), 100)
    text = str(whole) if rest == 0 else f"{whole},{rest:02d}".rstrip("0")
    return f"{text}{NBSP}%"


def init_app(app: Flask) -> None:
    app.add_template_filter(sek)
    app.add_template_filter(long_date)
    app.add_template_filter(iso_date)
    app.add_template_filter(local_datetime)
    app.add_template_filter(percent)
    app.add_template_global(current_locale, "current_locale")
