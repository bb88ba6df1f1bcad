"""The Jinja filters: money in öre as kronor, Swedish dates, percentages (T2.1)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask, render_template_string, session

from shop.web.filters import iso_date, local_datetime, long_date, percent, sek

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("ore", "shown"),
    [
        (129900, f"1{NBSP}299,00{NBSP}kr"),
        (1900, f"19,00{NBSP}kr"),
        (5, f"0,05{NBSP}kr"),
        (0, f"0,00{NBSP}kr"),
        (-1900, f"-19,00{NBSP}kr"),
        (-129950, f"-1{NBSP}299,50{NBSP}kr"),
        (123456789, f"1{NBSP}234{NBSP}567,89{NBSP}kr"),
    ],
)
def test_t2_1_sek_shows_ore_as_swedish_kronor(ore: int, shown: str) -> None:
    assert sek(ore) == shown


def test_t2_1_sek_of_nothing_is_empty() -> None:
    assert sek(None) == ""


def test_t2_1_sek_filter_in_a_template_uses_non_breaking_spaces(app: Flask) -> None:
    with app.test_request_context("/"):
        html = render_template_string("{{ 129900|sek }} {{ 0|sek }} {{ -500|sek }}")
    assert html == f"1{NBSP}299,00{NBSP}kr 0,00{NBSP}kr -5,00{NBSP}kr"


def test_long_date_is_swedish_by_default(app: Flask) -> None:
    with app.test_request_context("/"):
        assert long_date(date(2026, 11, 23)) == "23 november 2026"
        assert long_date(date(2026, 1, 5)) == "5 januari 2026"
        assert long_date(None) == ""


def test_long_date_in_english_after_switching_language(app: Flask) -> None:
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert long_date(date(2026, 11, 23)) == "23 November 2026"


def test_long_date_outside_a_request_is_swedish(app: Flask) -> None:
    with app.app_context():
        assert long_date(date(2026, 11, 23)) == "23 november 2026"


def test_a_moment_just_before_midnight_utc_is_the_next_day_in_stockholm(app: Flask) -> None:
    winter = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 00:30 on the 23rd in Stockholm (CET)
    summer = datetime(2026, 6, 30, 22, 15, tzinfo=UTC)  # 00:15 on 1 July (CEST, UTC+2)
    with app.test_request_context("/"):
        assert long_date(winter) == "23 november 2026"
        assert iso_date(winter) == "2026-11-23"
        assert iso_date(summer) == "2026-07-01"
        assert long_date(summer) == "1 juli 2026"
    assert local_datetime(winter) == "2026-11-23 00:30"


def test_a_moment_just_before_midnight_in_stockholm_stays_on_that_day() -> None:
    assert iso_date(datetime(2026, 11, 23, 22, 59, tzinfo=UTC)) == "2026-11-23"
    assert iso_date(datetime(2026, 11, 23, 23, 0, tzinfo=UTC)) == "2026-11-24"


def test_iso_date_of_a_date_and_of_nothing() -> None:
    assert iso_date(date(2026, 11, 23)) == "2026-11-23"
    assert iso_date(date(2027, 1, 2)) == "2027-01-02"
    assert iso_date(None) == ""
    assert local_datetime(None) == ""


def test_a_naive_datetime_is_read_as_utc() -> None:
    assert iso_date(datetime(2026, 11, 22, 23, 30)) == "2026-11-23"


@pytest.mark.parametrize(
    ("basis_points", "shown"),
    [
        (2500, f"25{NBSP}%"),
        (600, f"6{NBSP}%"),
        (0, f"0{NBSP}%"),
        (1250, f"12,5{NBSP}%"),
        (1, f"0,01{NBSP}%"),
    ],
)
def test_percent_shows_basis_points_the_swedish_way(basis_points: int, shown: str) -> None:
    assert percent(basis_points) == shown
    assert percent(None) == ""
