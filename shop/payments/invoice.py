"""Payment by invoice (T3.2–T3.4): organisations only, always after a credit check.

The credit check goes through a pluggable :class:`CreditChecker`: the shop's
local :class:`RulesCreditChecker` by default, or a credit bureau's adapter
(``docs/payments.md`` describes the interface). A refusal raises
:class:`~shop.payments.errors.InvoiceRefused` whose Swedish message tells the
buyer to choose another method (or prepayment).

The invoice itself (fee line, due date, OCR reference) comes from
:mod:`shop.domain.invoices`; this provider does not recompute those rules.
There is no remote party: an invoice is "authorised" when the credit check
passes, "captured" when it is issued on shipment, and paid when staff record
the incoming payment (the invoicing service, not this module).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from shop.domain.buyers import normalise_org_number
from shop.domain.errors import InvalidOrganisationNumber
from shop.domain.invoices import (
    REASON_CREDIT_CHECK_REFUSED,
    REASON_INVOICE_ORGANISATIONS_ONLY,
    invoice_due_on,
    invoice_fee_line,
    invoice_offered,
    make_ocr,
)
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.payments.base import (
    CaptureRequest,
    CaptureResult,
    CreditDecision,
    LineKind,
    PaymentFlow,
    PaymentLine,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    RefundStatus,
)
from shop.payments.errors import InvalidWebhook, InvoiceRefused

PROVIDER = "invoice"
DEFAULT_CREDIT_LIMIT_ORE = 5_000_000  # 50 000 kr per order without a manual check

REASON_AMOUNT_OVER_LIMIT = (
    "Beställningen är för stor för att betalas mot faktura utan manuell kontroll. "
    "Välj ett annat betalsätt eller kontakta oss om förskottsbetalning."
)


@runtime_checkable
class CreditChecker(Protocol):
    """T3.2: decides whether an organisation may pay ``amount_ore`` by invoice.

    ``org_number`` is normalised (``NNNNNN-NNNN``). Return a
    :class:`CreditDecision` with a Swedish ``reason_sv`` the buyer may read;
    raise :class:`~shop.payments.errors.ProviderUnavailable` if the bureau
    cannot be reached (the buyer is offered another method).
    """

    name: str

    def check(self, org_number: str, amount_ore: int, now: datetime) -> CreditDecision:
        """The decision for this organisation and amount at ``now``."""
        ...


class RulesCreditChecker:
    """The local default: a valid organisation number, an amount limit and a deny-list."""

    name = "rules"

    def __init__(
        self,
        *,
        limit_ore: int = DEFAULT_CREDIT_LIMIT_ORE,
        denied_org_numbers: Iterable[str] = (),
    ) -> None:
        if type(limit_ore) is not int or limit_ore < 0:
            raise ValueError("the invoice credit limit is a non-negative number of öre")
        self.limit_ore = limit_ore
        self.denied = frozenset(normalise_org_number(n) for n in denied_org_numbers)

    def check(self, org_number: str, amount_ore: int, now: datetime) -> CreditDecision:
        """Refuse an invalid or denied organisation number, or an amount over the limit."""
        try:
            normalised = normalise_org_number(org_number)
        except InvalidOrganisationNumber as error:
            return CreditDecision(False, error.message, now, self.name, None)
        if normalised in self.denied:
            return CreditDecision(False, REASON_CREDIT_CHECK_REFUSED, now, self.name, normalised)
        if amount_ore > self.limit_ore:
            return CreditDecision(False, REASON_AMOUNT_OVER_LIMIT, now, self.name, normalised)
        return CreditDecision(True, "Godkänd för faktura.", now, self.name, normalised)


@dataclass(frozen=True)
class InvoiceTerms:
    """What the issued invoice carries (T3.3, T3.4), all from the domain."""

    issued_on: date
    due_on: date
    ocr: str
    fee_line: PaymentLine


class InvoiceProvider:
    """Invoice for organisations after a credit check (T3.2)."""

    name = PROVIDER
    method = "invoice"
    test_mode = False

    def __init__(self, checker: CreditChecker, *, policy: Policy = DEFAULT_POLICY) -> None:
        self.checker = checker
        self.policy = policy

    def fee_line(self) -> PaymentLine:
        """T3.3: the invoice fee as its own line (19 kr, 25 % VAT), for the checkout to add."""
        fee = invoice_fee_line(policy=self.policy)
        return PaymentLine.of(
            fee.label_sv,
            1,
            fee.amount_ore,
            fee.vat_rate_bp,
            reference="fee-invoice",
            kind=LineKind.SURCHARGE,
        )

    def terms(self, issued_on: date, invoice_number: int) -> InvoiceTerms:
        """T3.4: due date and OCR reference of invoice ``invoice_number`` (issued ``issued_on``)."""
        return InvoiceTerms(
            issued_on=issued_on,
            due_on=invoice_due_on(issued_on, policy=self.policy),
            ocr=make_ocr(invoice_number),
            fee_line=self.fee_line(),
        )

    def check_credit(self, request: PaymentRequest, now: datetime) -> CreditDecision:
        """T3.2: run the credit check; raises :class:`InvoiceRefused` when refused."""
        if not invoice_offered(request.buyer_kind):
            raise InvoiceRefused(REASON_INVOICE_ORGANISATIONS_ONLY, detail="consumer")
        decision = self.checker.check(request.organisation_number or "", request.amount_ore, now)
        if not decision.approved:
            raise InvoiceRefused(decision.reason_sv, detail=decision.checker, decision=decision)
        return decision

    def start_payment(self, request: PaymentRequest, now: datetime) -> PaymentStart:
        """Credit-check and, if approved, authorise the order for invoicing.

        The request must carry the invoice fee line (:meth:`fee_line`, T3.3).
        """
        fee = self.fee_line()
        if not any(
            line.kind is LineKind.SURCHARGE and line.total_ore == fee.total_ore
            for line in request.lines
        ):
            raise ValueError("an invoice payment must include the invoice fee line (T3.3)")
        decision = self.check_credit(request, now)
        return PaymentStart(
            provider=PROVIDER,
            method=self.method,
            provider_reference=f"faktura-{request.order_reference}",
            flow=PaymentFlow.DONE,
            state=PaymentState.AUTHORISED,
            credit_decision=decision,
        )

    def fetch_state(self, provider_reference: str) -> PaymentState:
        """Authorised: an invoice is settled by incoming payments the shop records itself."""
        if not provider_reference.startswith("faktura-"):
            raise ValueError(f"not an invoice payment reference: {provider_reference!r}")
        return PaymentState.AUTHORISED

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], now: datetime
    ) -> ProviderEvent:
        """Invoices have no webhooks: every call is refused (answer 400)."""
        raise InvalidWebhook(detail="invoice payments have no webhooks", provider=PROVIDER)

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """The invoice is issued on shipment: the capture is the invoice (no remote call)."""
        return CaptureResult(
            PROVIDER, f"{request.provider_reference}:{request.idempotency_key}", request.amount_ore
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        """A credit note and, if already paid, a bank transfer by staff (``manual``)."""
        return RefundResult(
            PROVIDER,
            f"{request.provider_reference}:{request.idempotency_key}",
            request.amount_ore,
            RefundStatus.PENDING,
            manual=True,
        )

    def cancel(self, provider_reference: str, idempotency_key: str) -> PaymentState:
        """An invoice not yet issued is simply cancelled."""
        return PaymentState.CANCELLED
