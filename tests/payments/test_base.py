"""The shared payment data: integer öre, VAT from the domain (T2.1)."""

from __future__ import annotations

import pytest

from shop.payments.base import (
    CaptureRequest,
    PaymentLine,
    PaymentRequest,
    PaymentState,
    RefundRequest,
    header,
)
from tests.payments.factories import order_lines, payment_request


def test_t2_1_line_vat_is_the_domains_per_line_rounding() -> None:
    line = PaymentLine.of("Noter", 3, 9900, 600)

    assert (line.total_ore, line.total_vat_ore) == (29700, 1681)


def test_t2_1_a_line_with_wrong_vat_or_total_is_refused() -> None:
    with pytest.raises(ValueError, match="VAT"):
        PaymentLine("Noter", 1, 10600, 10600, 600, 601)
    with pytest.raises(ValueError, match="total_ore"):
        PaymentLine("Noter", 2, 10600, 10600, 600, 600)
    with pytest.raises(TypeError, match="öre"):
        PaymentLine.of("Noter", 1, 106.0, 600)  # type: ignore[arg-type]


def test_a_discounted_line_totals_after_the_discount() -> None:
    line = PaymentLine.of("Gitarr", 1, 500000, 2500, total_discount_ore=50000)

    assert (line.total_ore, line.total_vat_ore) == (450000, 90000)


def test_the_request_total_is_the_sum_of_its_lines() -> None:
    request = payment_request()

    assert request.amount_ore == 95600
    assert request.tax_ore == sum(line.total_vat_ore for line in order_lines())
    with pytest.raises(ValueError, match="sum"):
        PaymentRequest("1", 1, order_lines(), "a@b.se", "s", "c", "k")
    with pytest.raises(ValueError, match="SEK"):
        PaymentRequest("1", 95600, order_lines(), "a@b.se", "s", "c", "k", currency="EUR")
    with pytest.raises(ValueError, match="idempotency"):
        PaymentRequest("1", 95600, order_lines(), "a@b.se", "s", "c", " ")


def test_refunds_and_captures_need_a_positive_amount_and_a_key() -> None:
    with pytest.raises(ValueError, match="refund"):
        RefundRequest("x", 0, "k")
    with pytest.raises(ValueError, match="capture"):
        CaptureRequest("x", 100, "")


def test_which_states_confirm_an_order() -> None:
    assert {s for s in PaymentState if s.confirms_order} == {
        PaymentState.AUTHORISED,
        PaymentState.PAID,
    }
    assert not PaymentState.PENDING.is_final


def test_header_lookup_ignores_case() -> None:
    assert header({"stripe-signature": "t=1"}, "Stripe-Signature") == "t=1"
    assert header({}, "Stripe-Signature") is None
