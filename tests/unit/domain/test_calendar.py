"""Swedish working days and period ends (T4.1, T5.3, lag 1930:173)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.calendar import (
    add_months,
    add_working_days,
    add_years,
    format_date_sv,
    holiday_name,
    is_working_day,
    midsummer_eve,
    next_working_day_on_or_after,
)
from shop.domain.errors import InvalidFacts

D = date.fromisoformat


@pytest.mark.parametrize(
    ("day", "working", "name"),
    [
        ("2026-11-06", True, None),  # Friday
        ("2026-11-07", False, None),  # Saturday
        ("2026-11-08", False, None),  # Sunday
        ("2026-11-09", True, None),  # Monday
        ("2026-01-01", False, "Nyårsdagen"),
        ("2026-01-06", False, "Trettondedag jul"),
        ("2026-04-02", True, None),  # Maundy Thursday is a working day
        ("2026-04-03", False, "Långfredagen"),
        ("2026-04-06", False, "Annandag påsk"),
        ("2026-05-01", False, "Första maj"),
        ("2026-05-14", False, "Kristi himmelsfärdsdag"),
        ("2026-06-06", False, "Nationaldagen"),
        ("2026-06-18", True, None),  # day before Midsummer Eve
        ("2026-06-19", False, "Midsommarafton"),
        ("2026-12-23", True, None),
        ("2026-12-24", False, "Julafton"),
        ("2026-12-25", False, "Juldagen"),
        ("2026-12-26", False, "Annandag jul"),
        ("2026-12-30", True, None),
        ("2026-12-31", False, "Nyårsafton"),
        ("2025-12-24", False, "Julafton"),  # Wednesday
        ("2027-06-25", False, "Midsommarafton"),
    ],
)
def test_T5_3_working_days_and_holidays(day: str, working: bool, name: str | None) -> None:
    assert is_working_day(D(day)) is working
    assert holiday_name(D(day)) == name


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-11-06", "2026-11-06"),  # working day stays
        ("2026-11-07", "2026-11-09"),  # Saturday → Monday
        ("2026-11-08", "2026-11-09"),  # Sunday → Monday
        ("2026-04-03", "2026-04-07"),  # Good Friday → Tuesday after Easter Monday
        ("2026-06-19", "2026-06-22"),  # Midsummer Eve → Monday
        ("2026-12-24", "2026-12-28"),  # Christmas Eve → Monday
        ("2026-12-31", "2027-01-04"),  # New Year's Eve → Monday 4 January
        ("2026-05-14", "2026-05-15"),  # Ascension Day → Friday
        ("2026-10-31", "2026-11-02"),  # All Saints' Day (Saturday) → Monday
    ],
)
def test_T5_3_next_working_day_on_or_after(day: str, expected: str) -> None:
    assert next_working_day_on_or_after(D(day)) == D(expected)


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        ("2026-11-06", 0, "2026-11-06"),
        ("2026-11-06", 1, "2026-11-09"),  # Friday + 1 → Monday
        ("2026-11-06", 4, "2026-11-12"),
        ("2026-11-09", 4, "2026-11-13"),
        ("2026-04-02", 1, "2026-04-07"),  # Maundy Thursday + 1 → after Easter
        ("2026-12-23", 1, "2026-12-28"),
        ("2026-12-23", 4, "2027-01-04"),  # 28, 29, 30 Dec, 4 Jan
        ("2026-06-18", 1, "2026-06-22"),
    ],
)
def test_T4_1_add_working_days(day: str, n: int, expected: str) -> None:
    assert add_working_days(D(day), n) == D(expected)


def test_T4_1_add_working_days_refuses_negative() -> None:
    with pytest.raises(InvalidFacts):
        add_working_days(D("2026-11-06"), -1)


@pytest.mark.parametrize("year", range(2024, 2036))
def test_T5_3_midsummer_eve_is_the_friday_between_19_and_25_june(year: int) -> None:
    eve = midsummer_eve(year)
    assert eve.weekday() == 4
    assert date(year, 6, 19) <= eve <= date(year, 6, 25)
    assert holiday_name(eve + timedelta(days=1)) == "Midsommardagen"


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-08-31", 6, "2027-02-28"),  # no 31 February: last day of the month
        ("2027-08-31", 6, "2028-02-29"),  # leap year
        ("2026-01-31", 1, "2026-02-28"),
        ("2026-03-31", 1, "2026-04-30"),
        ("2026-11-15", 2, "2027-01-15"),
        ("2026-12-01", 12, "2027-12-01"),
        ("2026-05-31", -3, "2026-02-28"),
    ],
)
def test_R2_T6_add_months_clamps_to_month_end(day: str, months: int, expected: str) -> None:
    assert add_months(D(day), months) == D(expected)


def test_R2_add_years_from_leap_day() -> None:
    assert add_years(D("2024-02-29"), 1) == D("2025-02-28")
    assert add_years(D("2024-02-29"), 4) == D("2028-02-29")


def test_format_date_sv() -> None:
    assert format_date_sv(D("2026-11-23")) == "23 november 2026"
    assert format_date_sv(D("2027-01-04")) == "4 januari 2027"


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_T5_3_property_next_working_day_is_working_and_nearest(d: date) -> None:
    result = next_working_day_on_or_after(d)
    assert is_working_day(result)
    assert d <= result <= d + timedelta(days=6)
    day = d
    while day < result:
        assert not is_working_day(day)
        day += timedelta(days=1)
