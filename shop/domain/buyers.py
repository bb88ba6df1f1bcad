"""Who may buy (T1): buyers of age, consumers and organisations.

A buyer is 18 or older (T1.1). Age is counted in whole years: the 18th
birthday counts. Someone born on 29 February turns 18 on 1 March in a year
that is not a leap year (the birthday has not been reached on 28 February;
this is the reading of Swedish population registration and the safe one for
a shop).

An organisation is identified by a Swedish organisation number, validated
with its check digit (T1.2) by ``python-stdnum``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from stdnum.exceptions import ValidationError
from stdnum.se import orgnr

from shop.domain.errors import BuyerUnderAge, InvalidFacts, InvalidOrganisationNumber

AGE_OF_MAJORITY = 18


class BuyerKind(StrEnum):
    """The two kinds of buyer (T1.2). Only consumers may withdraw (T5.1)."""

    CONSUMER = "consumer"
    ORGANISATION = "organisation"


def age_on(birth_date: date, today: date) -> int:
    """Age in whole years on ``today`` (T1.1). A birth date after ``today`` raises."""
    if birth_date > today:
        raise InvalidFacts(f"Födelsedatumet {birth_date.isoformat()} ligger i framtiden.")
    had_birthday = (today.month, today.day) >= (birth_date.month, birth_date.day)
    return today.year - birth_date.year - (0 if had_birthday else 1)


def is_of_age(birth_date: date, today: date) -> bool:
    """True if the person is 18 or older on ``today`` (T1.1); the 18th birthday counts."""
    return age_on(birth_date, today) >= AGE_OF_MAJORITY


def require_of_age(birth_date: date, today: date) -> None:
    """Raise :class:`BuyerUnderAge` unless the buyer is 18 on ``today`` (T1.1)."""
    if not is_of_age(birth_date, today):
        raise BuyerUnderAge()


def require_adult_buyer(birth_date: date | None, confirmed_of_age: bool, today: date) -> None:
    """T1.1: a registration or checkout needs a birth date of 18+ or a confirmation of 18+.

    A given birth date decides (a confirmation cannot overrule a birth date
    that shows a minor). Without either, :class:`BuyerUnderAge` is raised.
    """
    if birth_date is not None:
        require_of_age(birth_date, today)
        return
    if not confirmed_of_age:
        raise BuyerUnderAge("Bekräfta att du har fyllt 18 år eller ange ditt födelsedatum.")


def normalise_org_number(raw: str) -> str:
    """A Swedish organisation number as ``NNNNNN-NNNN`` (T1.2).

    Accepts it with or without hyphen and spaces; raises
    :class:`InvalidOrganisationNumber` if the length, format or check digit
    is wrong.
    """
    if not isinstance(raw, str):
        raise InvalidOrganisationNumber()
    try:
        compact = orgnr.validate(raw)
    except ValidationError as error:
        raise InvalidOrganisationNumber() from error
    return f"{compact[:6]}-{compact[6:]}"


def is_valid_org_number(raw: str) -> bool:
    """True if ``raw`` is a valid Swedish organisation number (T1.2)."""
    try:
        normalise_org_number(raw)
    except InvalidOrganisationNumber:
        return False
    return True
