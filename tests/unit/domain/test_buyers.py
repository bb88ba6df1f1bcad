"""Who may buy (T1.1, T1.2)."""

from datetime import date

import pytest

from shop.domain.buyers import (
    BuyerKind,
    age_on,
    is_of_age,
    is_valid_org_number,
    normalise_org_number,
    require_adult_buyer,
    require_of_age,
)
from shop.domain.errors import BuyerUnderAge, InvalidFacts, InvalidOrganisationNumber

D = date.fromisoformat


def test_T1_2_buyer_kinds() -> None:
    assert BuyerKind.CONSUMER.value == "consumer"
    assert BuyerKind.ORGANISATION.value == "organisation"


@pytest.mark.parametrize(
    ("birth", "today", "adult"),
    [
        ("2008-11-23", "2026-11-22", False),  # the day before the 18th birthday
        ("2008-11-23", "2026-11-23", True),  # the birthday counts
        ("2008-11-23", "2026-11-24", True),
        ("2008-02-29", "2026-02-28", False),  # leap-day birthday, common year
        ("2008-02-29", "2026-03-01", True),  # turns 18 on 1 March
        ("2004-02-29", "2022-02-28", False),
        ("2004-02-29", "2022-03-01", True),
        ("1950-01-01", "2026-11-23", True),
        ("2026-11-23", "2026-11-23", False),  # born today
    ],
)
def test_T1_1_of_age_on_the_18th_birthday(birth: str, today: str, adult: bool) -> None:
    assert is_of_age(D(birth), D(today)) is adult
    if adult:
        require_of_age(D(birth), D(today))
    else:
        with pytest.raises(BuyerUnderAge) as error:
            require_of_age(D(birth), D(today))
        assert "18 år" in str(error.value)
        assert error.value.rule == "T1.1"


def test_T1_1_age_in_whole_years() -> None:
    assert age_on(D("2000-06-15"), D("2026-06-14")) == 25
    assert age_on(D("2000-06-15"), D("2026-06-15")) == 26


def test_T1_1_birth_date_in_the_future_is_impossible() -> None:
    with pytest.raises(InvalidFacts):
        age_on(D("2026-11-24"), D("2026-11-23"))


def test_T1_1_checkout_needs_birth_date_or_confirmation() -> None:
    today = D("2026-11-23")
    require_adult_buyer(None, True, today)
    require_adult_buyer(D("1990-01-01"), False, today)
    with pytest.raises(BuyerUnderAge, match="Bekräfta"):
        require_adult_buyer(None, False, today)
    with pytest.raises(BuyerUnderAge):  # a confirmation cannot overrule a minor's birth date
        require_adult_buyer(D("2010-01-01"), True, today)


@pytest.mark.parametrize(
    "raw", ["556962-7291", "5569627291", " 556962 7291 ", "556590-3522", "212000-0142"]
)
def test_T1_2_valid_org_numbers_are_normalised(raw: str) -> None:
    result = normalise_org_number(raw)
    assert (
        result
        == raw.replace(" ", "").replace("-", "")[:6]
        + "-"
        + raw.replace(" ", "").replace("-", "")[6:]
    )
    assert len(result) == 11
    assert result[6] == "-"
    assert is_valid_org_number(raw)


@pytest.mark.parametrize(
    "raw", ["556962-7292", "556962-729", "16556962-7291", "abcdef-ghij", "", "5569627291x"]
)
def test_T1_2_invalid_org_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidOrganisationNumber) as error:
        normalise_org_number(raw)
    assert "Organisationsnumret" in str(error.value)
    assert not is_valid_org_number(raw)
