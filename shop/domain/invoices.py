"""Payment by invoice (T3.2–T3.6) and OCR references.

Invoice is for organisations only and always after a credit check; the shop
may refuse (T3.2). It adds an invoice fee of 19 kr with 25 % VAT as its own
line (T3.3). It is due 30 days after the invoice date and carries an OCR
reference (T3.4). If unpaid at the due date a reminder may be sent from the
day after, once, with a 50 kr fee without VAT and 10 more days (T3.5). If
still unpaid 10 days after the reminder, the invoice is marked for debt
collection (T3.6).

A due date that falls on a Saturday, Sunday, public holiday or period-end
eve is met by paying on the next working day (banks execute payments on
banking days only), so reminders and collection count from that working
day. This is our choice; the seed is silent.

OCR references (bankgiro): the invoice number, then a length digit (the
total number of digits including itself and the check digit, modulo 10),
then a Luhn (mod 10) check digit over everything before it. Bankgirot's
"hard" OCR check (length digit + check digit) accepts them; so does the
"soft" check (check digit only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shop.domain.buyers import BuyerKind
from shop.domain.calendar import next_working_day_on_or_after
from shop.domain.errors import (
    CollectionNotAllowed,
    InvalidFacts,
    InvalidOcrReference,
    InvoiceNotAvailable,
    ReminderNotAllowed,
)
from shop.domain.fees import FeeKind, FeeLine
from shop.domain.money import require_int
from shop.domain.policy import DEFAULT_POLICY, Policy

OCR_MIN_LENGTH = 2
OCR_MAX_LENGTH = 25

REASON_INVOICE_ORGANISATIONS_ONLY = (
    "Faktura kan endast väljas av organisationer (företag, skolor, kommuner, församlingar "
    "och föreningar). Välj ett annat betalsätt."
)
REASON_CREDIT_CHECK_REFUSED = (
    "Vi kan tyvärr inte erbjuda faktura efter vår kreditkontroll. Välj ett annat betalsätt "
    "eller kontakta oss om förskottsbetalning."
)


# --- T3.2 who may pay by invoice ----------------------------------------------


def invoice_offered(buyer_kind: BuyerKind) -> bool:
    """T3.2: show invoice as a payment method only to organisations."""
    return buyer_kind is BuyerKind.ORGANISATION


def require_invoice_allowed(buyer_kind: BuyerKind, credit_check_approved: bool) -> None:
    """T3.2: raise :class:`InvoiceNotAvailable` unless an organisation passed the credit check.

    The message tells the buyer to choose another method (or prepayment).
    """
    if not invoice_offered(buyer_kind):
        raise InvoiceNotAvailable(REASON_INVOICE_ORGANISATIONS_ONLY)
    if not credit_check_approved:
        raise InvoiceNotAvailable(REASON_CREDIT_CHECK_REFUSED)


# --- T3.3, T3.4 fee and due date ---------------------------------------------


def invoice_fee_line(*, policy: Policy = DEFAULT_POLICY) -> FeeLine:
    """T3.3: the invoice fee as its own line: 19 kr incl. 25 % VAT."""
    return FeeLine(
        FeeKind.INVOICE, "Fakturaavgift", policy.invoice_fee_ore, policy.invoice_fee_vat_bp
    )


def invoice_due_on(issued_on: date, *, policy: Policy = DEFAULT_POLICY) -> date:
    """T3.4: the due date printed on the invoice: 30 days after the invoice date."""
    return issued_on + timedelta(days=policy.invoice_due_days)


def reminder_allowed_from(due_on: date) -> date:
    """T3.5: the first day a reminder may be sent: the day after the (working-day) due date."""
    return next_working_day_on_or_after(due_on) + timedelta(days=1)


# --- T3.5, T3.6 reminder and collection --------------------------------------


@dataclass(frozen=True)
class InvoiceFacts:
    """What decides an invoice's reminder and collection (T3.4–T3.6)."""

    issued_on: date
    paid: bool = False
    reminder_sent_on: date | None = None

    def __post_init__(self) -> None:
        if self.reminder_sent_on is not None and self.reminder_sent_on <= self.issued_on:
            raise InvalidFacts("En påminnelse kan inte skickas före fakturadatumet.")


@dataclass(frozen=True)
class Reminder:
    """T3.5: a reminder sent on ``sent_on``: its fee line and the new due date."""

    sent_on: date
    fee: FeeLine
    new_due_on: date


def reminder_for(
    invoice: InvoiceFacts, today: date, *, policy: Policy = DEFAULT_POLICY
) -> Reminder:
    """T3.5: the reminder to send today, or :class:`ReminderNotAllowed`.

    Allowed from the day after the due date, once per invoice, only while
    unpaid. It adds the reminder fee (50 kr, no VAT) and 10 more days.
    """
    if today < invoice.issued_on:
        raise InvalidFacts("Dagens datum ligger före fakturadatumet.")
    if invoice.paid:
        raise ReminderNotAllowed("Fakturan är betald.")
    if invoice.reminder_sent_on is not None:
        raise ReminderNotAllowed("En påminnelse har redan skickats för fakturan.")
    first_day = reminder_allowed_from(invoice_due_on(invoice.issued_on, policy=policy))
    if today < first_day:
        raise ReminderNotAllowed(
            f"Fakturan har inte förfallit: påminnelse tidigast {first_day.isoformat()}."
        )
    return Reminder(
        sent_on=today,
        fee=FeeLine(
            FeeKind.REMINDER,
            "Påminnelseavgift",
            policy.reminder_fee_ore,
            policy.reminder_fee_vat_bp,
        ),
        new_due_on=today + timedelta(days=policy.reminder_extra_days),
    )


def may_send_reminder(
    invoice: InvoiceFacts, today: date, *, policy: Policy = DEFAULT_POLICY
) -> bool:
    """T3.5: True if :func:`reminder_for` would give a reminder today."""
    try:
        reminder_for(invoice, today, policy=policy)
    except ReminderNotAllowed:
        return False
    return True


def collection_from(reminder_sent_on: date, *, policy: Policy = DEFAULT_POLICY) -> date:
    """T3.6: the first day an invoice unpaid after its reminder is marked for collection."""
    last_day_to_pay = reminder_sent_on + timedelta(days=policy.collection_after_reminder_days)
    return next_working_day_on_or_after(last_day_to_pay) + timedelta(days=1)


def goes_to_collection(
    invoice: InvoiceFacts, today: date, *, policy: Policy = DEFAULT_POLICY
) -> bool:
    """T3.6: True when the invoice is unpaid 10 days after its reminder (staff see the list)."""
    if invoice.paid or invoice.reminder_sent_on is None:
        return False
    if today < invoice.reminder_sent_on:
        raise InvalidFacts("Dagens datum ligger före påminnelsen.")
    return today >= collection_from(invoice.reminder_sent_on, policy=policy)


def require_collection(
    invoice: InvoiceFacts, today: date, *, policy: Policy = DEFAULT_POLICY
) -> None:
    """T3.6: raise :class:`CollectionNotAllowed` unless :func:`goes_to_collection`."""
    if invoice.reminder_sent_on is None and not invoice.paid:
        raise CollectionNotAllowed("Ingen påminnelse har skickats för fakturan.")
    if not goes_to_collection(invoice, today, policy=policy):
        raise CollectionNotAllowed()


# --- T3.4 OCR references -----------------------------------------------------


def luhn_check_digit(digits: str) -> int:
    """The Luhn (mod 10) check digit for ``digits`` (T3.4)."""
    if not digits.isdigit() or not digits.isascii():
        raise InvalidOcrReference()
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def make_ocr(number: int, *, length_digit: bool = True) -> str:
    """T3.4: an OCR reference for invoice ``number`` (>= 1), with a valid check digit.

    ``make_ocr(12345) == "1234574"``: the number, the length digit 7 (seven
    digits in all) and the Luhn check digit 4.
    """
    require_int(number, "number")
    if number < 1:
        raise InvalidFacts("Fakturanumret måste vara ett positivt heltal.")
    base = str(number)
    if length_digit:
        base += str((len(base) + 2) % 10)
    reference = base + str(luhn_check_digit(base))
    if len(reference) > OCR_MAX_LENGTH:
        raise InvalidFacts("Fakturanumret är för långt för ett OCR-nummer.")
    return reference


def is_valid_ocr(reference: str, *, length_digit: bool = True) -> bool:
    """T3.4: True if ``reference`` has a valid Luhn check digit (and length digit).

    Spaces are ignored; 2–25 digits.
    """
    if not isinstance(reference, str):
        return False
    compact = reference.replace(" ", "")
    if not (compact.isascii() and compact.isdigit()):
        return False
    if not OCR_MIN_LENGTH + length_digit <= len(compact) <= OCR_MAX_LENGTH:
        return False
    if length_digit and compact[-2] != str(len(compact) % 10):
        return False
    return luhn_check_digit(compact[:-1]) == int(compact[-1])


def require_valid_ocr(reference: str, *, length_digit: bool = True) -> str:
    """T3.4: the reference without spaces, or :class:`InvalidOcrReference`."""
    if not is_valid_ocr(reference, length_digit=length_digit):
        raise InvalidOcrReference()
    return reference.replace(" ", "")
