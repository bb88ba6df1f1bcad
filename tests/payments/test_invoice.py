"""Invoice for organisations after a pluggable credit check (T3.2–T3.4)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from shop.domain.buyers import BuyerKind
from shop.domain.invoices import REASON_CREDIT_CHECK_REFUSED, is_valid_ocr
from shop.payments.base import (
    CaptureRequest,
    CreditDecision,
    LineKind,
    PaymentFlow,
    PaymentRequest,
    PaymentState,
    RefundRequest,
    RefundStatus,
)
from shop.payments.errors import InvalidWebhook, InvoiceRefused
from shop.payments.invoice import CreditChecker, InvoiceProvider, RulesCreditChecker
from tests.payments.factories import FIXED_NOW, order_lines, payment_request

ORG = "556036-0793"  # a valid Swedish organisation number (check digit included)


def _invoice_request(provider: InvoiceProvider, org: str | None = ORG) -> PaymentRequest:
    return payment_request(
        lines=(*order_lines(), provider.fee_line()),
        buyer_kind=BuyerKind.ORGANISATION,
        organisation_number=org,
    )


@pytest.fixture
def provider() -> InvoiceProvider:
    return InvoiceProvider(RulesCreditChecker(limit_ore=200_000, denied_org_numbers=["5560160680"]))


def test_t3_2_an_approved_organisation_gets_invoice(provider: InvoiceProvider) -> None:
    start = provider.start_payment(_invoice_request(provider), FIXED_NOW)

    assert start.flow is PaymentFlow.DONE
    assert start.state is PaymentState.AUTHORISED
    assert start.provider_reference == "faktura-1001"
    assert start.credit_decision is not None
    assert start.credit_decision.approved
    assert start.credit_decision.organisation_number == ORG
    assert start.credit_decision.checked_at == FIXED_NOW
    assert provider.fetch_state(start.provider_reference) is PaymentState.AUTHORISED


def test_t3_2_consumers_are_refused_invoice(provider: InvoiceProvider) -> None:
    request = payment_request(lines=(*order_lines(), provider.fee_line()))

    with pytest.raises(InvoiceRefused) as caught:
        provider.start_payment(request, FIXED_NOW)
    assert "organisationer" in str(caught.value)
    assert "annat betalsätt" in str(caught.value)


@pytest.mark.parametrize(
    ("org", "expected"),
    [
        ("556036-0794", "Organisationsnumret är inte giltigt"),
        (None, "Organisationsnumret är inte giltigt"),
        ("556016-0680", REASON_CREDIT_CHECK_REFUSED),
    ],
)
def test_t3_2_credit_check_refusals_tell_the_buyer_and_offer_another_method(
    provider: InvoiceProvider, org: str | None, expected: str
) -> None:
    with pytest.raises(InvoiceRefused) as caught:
        provider.start_payment(_invoice_request(provider, org), FIXED_NOW)

    assert expected in str(caught.value)
    decision = caught.value.decision
    assert isinstance(decision, CreditDecision)
    assert not decision.approved


def test_t3_2_an_amount_over_the_limit_is_refused() -> None:
    small = InvoiceProvider(RulesCreditChecker(limit_ore=50_000))

    with pytest.raises(InvoiceRefused) as caught:
        small.start_payment(_invoice_request(small), FIXED_NOW)
    assert "annat betalsätt" in str(caught.value)


def test_t3_2_a_bureau_plugs_in_through_the_credit_checker_protocol() -> None:
    asked: list[tuple[str, int]] = []

    class Bureau:
        name = "bureau"

        def check(self, org_number: str, amount_ore: int, now: datetime) -> CreditDecision:
            asked.append((org_number, amount_ore))
            return CreditDecision(False, "Anmärkning hos kreditupplysningen.", now, self.name)

    bureau = Bureau()
    assert isinstance(bureau, CreditChecker)
    provider = InvoiceProvider(bureau)

    with pytest.raises(InvoiceRefused, match="Anmärkning"):
        provider.start_payment(_invoice_request(provider), FIXED_NOW)
    assert asked == [(ORG, 95600 + 1900)]


def test_t3_3_the_invoice_fee_line_comes_from_the_domain(provider: InvoiceProvider) -> None:
    fee = provider.fee_line()

    assert (fee.name, fee.total_ore, fee.vat_rate_bp, fee.total_vat_ore) == (
        "Fakturaavgift",
        1900,
        2500,
        380,
    )
    assert fee.kind is LineKind.SURCHARGE


def test_t3_3_an_invoice_payment_without_the_fee_line_is_a_programming_error(
    provider: InvoiceProvider,
) -> None:
    request = payment_request(buyer_kind=BuyerKind.ORGANISATION, organisation_number=ORG)

    with pytest.raises(ValueError, match="T3.3"):
        provider.start_payment(request, FIXED_NOW)


def test_t3_4_terms_due_in_30_days_with_a_valid_ocr(provider: InvoiceProvider) -> None:
    terms = provider.terms(date(2026, 11, 23), 12345)

    assert terms.due_on == date(2026, 12, 23)
    assert terms.ocr == "1234574"
    assert is_valid_ocr(terms.ocr)


def test_invoice_has_no_webhooks(provider: InvoiceProvider) -> None:
    with pytest.raises(InvalidWebhook):
        provider.parse_webhook(b"{}", {}, FIXED_NOW)


def test_capture_refund_and_cancel_need_no_remote_party(provider: InvoiceProvider) -> None:
    capture = provider.capture(CaptureRequest("faktura-1001", 97500, "cap-1"))
    refund = provider.refund(RefundRequest("faktura-1001", 1000, "ref-1"))

    assert capture.amount_ore == 97500
    assert (refund.status, refund.manual) == (RefundStatus.PENDING, True)
    assert provider.cancel("faktura-1001", "c-1") is PaymentState.CANCELLED
    with pytest.raises(ValueError, match="not an invoice"):
        provider.fetch_state("cs_123")
