"""Domain errors: one base class, Swedish messages, rule IDs."""

import inspect

import pytest

from shop.domain import errors

ALL = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, Exception) and cls.__module__ == errors.__name__
]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_is_a_domain_error_with_a_swedish_message(
    cls: type[errors.DomainError],
) -> None:
    assert issubclass(cls, errors.DomainError)
    error = cls()
    assert str(error) == error.message == cls.default_message
    assert any(ch in error.message for ch in "åäöÅÄÖ") or " " in error.message
    assert error.message.endswith(".")


def test_message_and_rule_can_be_overridden() -> None:
    error = errors.WithdrawalPeriodOver("Ångerfristen gick ut den 9 november 2026.", rule="T5.3")
    assert str(error) == "Ångerfristen gick ut den 9 november 2026."
    assert error.rule == "T5.3"
    assert errors.WithdrawalPeriodOver().rule == "T5.2"
