"""Swedish working days and period arithmetic (T4.1, T5.3, T6, R2).

A working day is a day that is not a Saturday, not a Sunday, not a Swedish
public holiday (from the ``holidays`` package: New Year's Day, Epiphany,
Good Friday, Easter Sunday and Monday, 1 May, Ascension Day, Whit Sunday,
the National Day, Midsummer Day, All Saints' Day, Christmas Day, Boxing
Day), and not one of the three eves that Swedish law treats like a public
holiday when a period ends: Midsummer Eve, Christmas Eve and New Year's Eve
(lag (1930:173) om beräkning av lagstadgad tid, 2 §; EU Regulation 1182/71,
art. 3(4)).

"N months after D" is the same day number N months later, or the last day
of that month when it has no such day (lag 1930:173, 2 §: 31 August plus
6 months is 28 or 29 February).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from shop.domain.errors import InvalidFacts

MIDSUMMER_EVE = "Midsommarafton"
CHRISTMAS_EVE = "Julafton"
NEW_YEARS_EVE = "Nyårsafton"


def midsummer_eve(year: int) -> date:
    """Midsummer Eve: the Friday between 19 and 25 June."""
    first = date(year, 6, 19)
    return first + timedelta(days=(4 - first.weekday()) % 7)


@lru_cache(maxsize=256)
def _holidays_of(year: int) -> dict[date, str]:
    """Public holidays plus the three period-end eves of ``year``, with Swedish names."""
    public = holidays.country_holidays("SE", years=year, include_sundays=False, language="sv")
    names: dict[date, str] = {day: str(name) for day, name in public.items()}
    names[midsummer_eve(year)] = MIDSUMMER_EVE
    names[date(year, 12, 24)] = CHRISTMAS_EVE
    names[date(year, 12, 31)] = NEW_YEARS_EVE
    return names


def holiday_name(d: date) -> str | None:
    """The Swedish name of the public holiday or period-end eve on ``d``, else None (T5.3)."""
    return _holidays_of(d.year).get(d)


def is_working_day(d: date) -> bool:
    """True unless ``d`` is a Saturday, Sunday, public holiday or period-end eve (T5.3)."""
    return d.weekday() < 5 and d not in _holidays_of(d.year)


def next_working_day_on_or_after(d: date) -> date:
    """``d`` itself if it is a working day, else the next working day (T5.3)."""
    while not is_working_day(d):
        d += timedelta(days=1)
    return d


def add_working_days(d: date, n: int) -> date:
    """The ``n``-th working day after ``d`` (``d`` itself is not counted) (T4.1).

    ``add_working_days(d, 0) == d``. Ordered on Friday, 1 working day later is
    Monday (or Tuesday after Easter Monday). ``n`` must be >= 0.
    """
    if type(n) is not int or n < 0:
        raise InvalidFacts(f"Antalet arbetsdagar måste vara ett heltal ≥ 0, inte {n!r}.")
    for _ in range(n):
        d = next_working_day_on_or_after(d + timedelta(days=1))
    return d


def period_end(start: date, days: int) -> date:
    """Last day of a period of ``days`` calendar days from ``start``, moved to a working day.

    ``start + days``; if that is not a working day, the next working day
    (T5.3, lag 1930:173).
    """
    return next_working_day_on_or_after(start + timedelta(days=days))


def add_months(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months, clamped to the month's last day (lag 1930:173)."""
    if type(months) is not int:
        raise TypeError("months must be an int")
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, min(d.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def add_years(d: date, years: int) -> date:
    """``d`` plus ``years`` years; 29 February becomes 28 February in a common year."""
    return add_months(d, 12 * years)


MONTHS_SV = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


def format_date_sv(d: date) -> str:
    """A date as Swedish running text: ``23 november 2026``."""
    return f"{d.day} {MONTHS_SV[d.month - 1]} {d.year}"
