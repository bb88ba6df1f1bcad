"""The shop's one clock.

Read once per request (or CLI command) and passed down: services and the
domain take ``now``/``today`` as arguments, so tests move time with
time-machine instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import g, has_request_context

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def now() -> datetime:
    """This request's instant: read once, then the same for the whole request."""
    if has_request_context():
        if "now" not in g:
            g.now = utcnow()
        value: datetime = g.now
        return value
    return utcnow()


def local_date(moment: datetime) -> date:
    """The calendar date in Stockholm of an aware instant."""
    return moment.astimezone(STOCKHOLM).date()


def today() -> date:
    """This request's date in Europe/Stockholm."""
    return local_date(now())
