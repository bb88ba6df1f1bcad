"""Invoices: who, fee, due date, reminder, collection, OCR (T3.2–T3.6)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.buyers import BuyerKind
from shop.domain.errors import (
    CollectionNotAllowed,
    InvalidFacts,
    InvalidOcrReference,
    InvoiceNotAvailable,
    ReminderNotAllowed,
)
from shop.domain.fees import FeeKind
from shop.domain.invoices import (
    InvoiceFacts,
    collection_from,
    goes_to_collection,
    invoice_due_on,
    invoice_fee_line,
    invoice_offered,
    is_valid_ocr,
    luhn_check_digit,
    make_ocr,
    may_send_reminder,
    reminder_allowed_from,
    reminder_for,
    require_collection,
    require_invoice_allowed,
    require_valid_ocr,
)
from shop.domain.policy import Policy

D = date.fromisoformat


def test_T3_2_invoice_only_for_organisations_after_credit_check() -> None:
    assert invoice_offered(BuyerKind.ORGANISATION)
    assert not invoice_offered(BuyerKind.CONSUMER)
    require_invoice_allowed(BuyerKind.ORGANISATION, credit_check_approved=True)
    with pytest.raises(InvoiceNotAvailable, match="endast väljas av organisationer"):
        require_invoice_allowed(BuyerKind.CONSUMER, credit_check_approved=True)
    with pytest.raises(InvoiceNotAvailable, match="annat betalsätt") as error:
        require_invoice_allowed(BuyerKind.ORGANISATION, credit_check_approved=False)
    assert error.value.rule == "T3.2"


def test_T3_3_invoice_fee_line() -> None:
    line = invoice_fee_line()
    assert (line.kind, line.label_sv, line.amount_ore, line.vat_rate_bp) == (
        FeeKind.INVOICE,
        "Fakturaavgift",
        1900,
        2500,
    )
    assert (line.vat_line.vat_ore, line.vat_line.net_ore) == (380, 1520)
    assert invoice_fee_line(policy=Policy(invoice_fee_ore=2900)).amount_ore == 2900


@pytest.mark.parametrize(
    ("issued", "due", "first_reminder"),
    [
        ("2026-11-02", "2026-12-02", "2026-12-03"),  # due on a Wednesday
        ("2026-11-12", "2026-12-12", "2026-12-15"),  # due Saturday: paid Monday is in time
        ("2026-11-24", "2026-12-24", "2026-12-29"),  # due Christmas Eve → Monday 28th
        ("2026-12-01", "2026-12-31", "2027-01-05"),  # due New Year's Eve → Monday 4 Jan
        ("2026-05-20", "2026-06-19", "2026-06-23"),  # due Midsummer Eve → Monday 22 June
    ],
)
def test_T3_4_T3_5_due_date_and_first_reminder_day(
    issued: str, due: str, first_reminder: str
) -> None:
    assert invoice_due_on(D(issued)) == D(due)
    assert reminder_allowed_from(D(due)) == D(first_reminder)


@pytest.mark.parametrize(
    ("today", "allowed"), [("2026-12-01", False), ("2026-12-02", False), ("2026-12-03", True)]
)
def test_T3_5_reminder_from_the_day_after_the_due_date(today: str, allowed: bool) -> None:
    invoice = InvoiceFacts(issued_on=D("2026-11-02"))
    assert may_send_reminder(invoice, D(today)) is allowed
    if allowed:
        reminder = reminder_for(invoice, D(today))
        assert reminder.fee.kind is FeeKind.REMINDER
        assert (reminder.fee.amount_ore, reminder.fee.vat_rate_bp) == (5000, 0)
        assert reminder.new_due_on == D("2026-12-13")  # 10 more days
    else:
        with pytest.raises(ReminderNotAllowed, match="inte förfallit"):
            reminder_for(invoice, D(today))


def test_T3_5_only_one_reminder_and_none_when_paid() -> None:
    reminded = InvoiceFacts(issued_on=D("2026-11-02"), reminder_sent_on=D("2026-12-03"))
    with pytest.raises(ReminderNotAllowed, match="redan"):
        reminder_for(reminded, D("2026-12-20"))
    paid = InvoiceFacts(issued_on=D("2026-11-02"), paid=True)
    with pytest.raises(ReminderNotAllowed, match="betald"):
        reminder_for(paid, D("2026-12-20"))


def test_T3_5_impossible_dates() -> None:
    with pytest.raises(InvalidFacts):
        InvoiceFacts(issued_on=D("2026-11-02"), reminder_sent_on=D("2026-11-01"))
    with pytest.raises(InvalidFacts):
        reminder_for(InvoiceFacts(issued_on=D("2026-11-02")), D("2026-11-01"))


@pytest.mark.parametrize(
    ("reminded", "today", "collect"),
    [
        ("2026-12-04", "2026-12-13", False),  # the day before the 10th day
        ("2026-12-04", "2026-12-14", False),  # the 10th day (a Monday): still time
        ("2026-12-04", "2026-12-15", True),  # the day after
        ("2026-12-03", "2026-12-14", False),  # 10th day is Sunday 13th → Monday 14th
        ("2026-12-03", "2026-12-15", True),
    ],
)
def test_T3_6_collection_10_days_after_the_reminder(
    reminded: str, today: str, collect: bool
) -> None:
    invoice = InvoiceFacts(issued_on=D("2026-11-02"), reminder_sent_on=D(reminded))
    assert collection_from(D(reminded)) == D("2026-12-15")
    assert goes_to_collection(invoice, D(today)) is collect
    if collect:
        require_collection(invoice, D(today))
    else:
        with pytest.raises(CollectionNotAllowed):
            require_collection(invoice, D(today))


def test_T3_6_no_collection_without_reminder_or_when_paid() -> None:
    no_reminder = InvoiceFacts(issued_on=D("2026-01-02"))
    assert not goes_to_collection(no_reminder, D("2026-12-31"))
    with pytest.raises(CollectionNotAllowed, match="påminnelse"):
        require_collection(no_reminder, D("2026-12-31"))
    paid = InvoiceFacts(issued_on=D("2026-01-02"), paid=True, reminder_sent_on=D("2026-02-05"))
    assert not goes_to_collection(paid, D("2026-12-31"))


@pytest.mark.parametrize(
    ("number", "reference"),
    [(12345, "1234574"), (1, "133"), (100, "10058"), (4711, "471169")],
)
def test_T3_4_ocr_with_length_and_check_digit(number: int, reference: str) -> None:
    assert make_ocr(number) == reference
    assert is_valid_ocr(reference)
    assert require_valid_ocr(reference[:3] + " " + reference[3:]) == reference


def test_T3_4_ocr_without_length_digit() -> None:
    reference = make_ocr(12345, length_digit=False)
    assert reference == "123455"
    assert is_valid_ocr(reference, length_digit=False)
    assert not is_valid_ocr(reference)  # its second-last digit is not the length


def test_T3_4_luhn_known_value() -> None:
    assert luhn_check_digit("7992739871") == 3  # the textbook Luhn example


@pytest.mark.parametrize("bad", ["1234575", "1234564", "", "1", "12a4574", "٣٣", "1" * 26])
def test_T3_4_invalid_ocr_is_refused(bad: str) -> None:
    assert not is_valid_ocr(bad)
    with pytest.raises(InvalidOcrReference):
        require_valid_ocr(bad)


@pytest.mark.parametrize("number", [0, -5])
def test_T3_4_ocr_needs_a_positive_number(number: int) -> None:
    with pytest.raises(InvalidFacts):
        make_ocr(number)


@given(
    st.integers(min_value=1, max_value=10**20),
    st.booleans(),
    st.data(),
)
def test_T3_4_property_ocr_validates_and_a_changed_digit_never_does(
    number: int, length_digit: bool, data: st.DataObject
) -> None:
    reference = make_ocr(number, length_digit=length_digit)
    assert is_valid_ocr(reference, length_digit=length_digit)
    position = data.draw(st.integers(0, len(reference) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != reference[position]]))
    changed = reference[:position] + digit + reference[position + 1 :]
    assert not is_valid_ocr(changed, length_digit=length_digit)
