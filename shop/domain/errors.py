"""Domain errors, in the words of the terms.

Every error the domain raises is a :class:`DomainError`. Its ``message`` is
Swedish and written so that it can be shown to the person concerned (the
customer for refusals they see, staff for impossible facts); ``rule`` names
the rule of ``docs/terms.md`` or ``privacy.md`` that decided, when there is
one. Services catch ``DomainError`` and show ``str(error)``.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error raised by ``shop.domain``."""

    default_message = "Åtgärden stämmer inte med köpvillkoren."
    rule: str | None = None

    def __init__(self, message: str | None = None, *, rule: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        if rule is not None:
            self.rule = rule
        super().__init__(self.message)


# --- Bad input: facts that cannot be true -----------------------------------


class InvalidFacts(DomainError):
    """The facts given contradict each other (e.g. delivery before the order)."""

    default_message = "Uppgifterna går inte ihop."


class InvalidAmount(InvalidFacts):
    """A money amount that cannot be right here (e.g. a negative price)."""

    default_message = "Beloppet är ogiltigt."


class InvalidPolicy(DomainError):
    """A shop policy that breaks the law (a statutory floor) or itself."""

    default_message = "Villkoren går under vad lagen kräver."


# --- T1 Who may buy ----------------------------------------------------------


class BuyerUnderAge(DomainError):
    """T1.1: the buyer is younger than 18 or has not confirmed being 18."""

    default_message = "Du måste vara myndig (18 år) för att handla hos oss."
    rule = "T1.1"


class InvalidOrganisationNumber(DomainError):
    """T1.2: not a valid Swedish organisation number."""

    default_message = "Organisationsnumret är inte giltigt. Skriv det som NNNNNN-NNNN."
    rule = "T1.2"


# --- T3 Payment by invoice ---------------------------------------------------


class InvoiceNotAvailable(DomainError):
    """T3.2: invoice is for organisations that passed the credit check."""

    default_message = "Faktura kan inte väljas för den här beställningen. Välj ett annat betalsätt."
    rule = "T3.2"


class ReminderNotAllowed(DomainError):
    """T3.5: a reminder is too early, already sent, or the invoice is settled."""

    default_message = "En påminnelse kan inte skickas för fakturan nu."
    rule = "T3.5"


class CollectionNotAllowed(DomainError):
    """T3.6: the invoice may not (yet) be marked for debt collection."""

    default_message = "Fakturan kan inte lämnas till inkasso nu."
    rule = "T3.6"


class InvalidOcrReference(DomainError):
    """T3.4: an OCR reference whose check digit or length digit is wrong."""

    default_message = "OCR-numret är felaktigt. Kontrollera siffrorna."
    rule = "T3.4"


# --- T5 Right of withdrawal --------------------------------------------------


class WithdrawalRefused(DomainError):
    """T5: base of the reasons a withdrawal is refused."""

    default_message = "Köpet kan inte ångras."


class NoWithdrawalRightForOrganisations(WithdrawalRefused):
    """T5.1: organisations have no right of withdrawal."""

    default_message = "Ångerrätten gäller endast privatpersoner, inte organisationer."
    rule = "T5.1"


class WithdrawalPeriodOver(WithdrawalRefused):
    """T5.2/T5.3: the last day to withdraw has passed."""

    default_message = "Ångerfristen har gått ut."
    rule = "T5.2"


class WithdrawalExcluded(WithdrawalRefused):
    """T5.4: the item is excluded (seal broken, code used, download started)."""

    default_message = "Ångerrätten gäller inte för den här varan."
    rule = "T5.4"


# --- T6 Complaints -----------------------------------------------------------


class ComplaintOutOfTime(DomainError):
    """T6: the complaint is outside every window (staff still decide)."""

    default_message = "Reklamationen har kommit in för sent."
    rule = "T6.2"


# --- T9 Courses --------------------------------------------------------------


class ShopCancellationTooLate(DomainError):
    """T9.5: the shop may cancel a course at the latest 14 days before start."""

    default_message = (
        "Kursen kan inte längre ställas in av oss utan särskilt beslut: "
        "det är mindre än 14 dagar kvar till kursstart."
    )
    rule = "T9.5"


class SeatTransferNotAllowed(DomainError):
    """T9.4: only organisations may transfer a seat, within the organisation."""

    default_message = (
        "Platsen kan bara överlåtas till en annan person i samma organisation, "
        "efter samråd med oss."
    )
    rule = "T9.4"


class CourseFull(DomainError):
    """T9.6: no free seats left on the course."""

    default_message = "Kursen är fullbokad. Anmäl dig gärna till väntelistan."
    rule = "T9.6"


# --- Life cycle --------------------------------------------------------------


class IllegalTransition(DomainError):
    """A status change that the transition tables do not allow."""

    default_message = "Statusändringen är inte tillåten."
