"""Which methods are offered, from the configuration (T3.1, T3.2)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import pytest

from shop.domain.buyers import BuyerKind
from shop.payments.base import CreditDecision, PaymentProvider
from shop.payments.errors import MethodNotAvailable, PaymentConfigError
from shop.payments.invoice import InvoiceProvider
from shop.payments.klarna import KlarnaProvider
from shop.payments.registry import ProviderRegistry, build_registry
from shop.payments.sandbox import SandboxProvider
from shop.payments.stripe import StripeProvider

SECRET = "test-secret-key-that-is-long-enough-0123456789"
#: the fakes' addresses: nothing in these tests ever reaches the internet
STRIPE = {
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "STRIPE_API_BASE": "http://127.0.0.1:9",
}
KLARNA = {
    "KLARNA_USERNAME": "PK1",
    "KLARNA_PASSWORD": "pw",
    "KLARNA_API_BASE": "http://127.0.0.1:9",
}


@pytest.fixture
def registries() -> Iterator[list[ProviderRegistry]]:
    """Close the Stripe clients the registries built."""
    built: list[ProviderRegistry] = []
    yield built
    for registry in built:
        for name in ("card", "swish", "klarna"):
            for method in registry.available_methods(BuyerKind.ORGANISATION):
                if method.name == name:
                    provider = registry.provider_for_method(name, BuyerKind.ORGANISATION)
                    if isinstance(provider, StripeProvider):
                        provider.close()


def _build(registries: list[ProviderRegistry], **config: Any) -> ProviderRegistry:
    registry = build_registry({"ENV": "development", "SECRET_KEY": SECRET, **config})
    registries.append(registry)
    return registry


def _names(registry: ProviderRegistry, kind: BuyerKind) -> list[str]:
    return [m.name for m in registry.available_methods(kind)]


def test_without_keys_only_invoice_and_the_sandbox(registries: list[ProviderRegistry]) -> None:
    registry = _build(registries)

    assert _names(registry, BuyerKind.CONSUMER) == ["sandbox"]
    assert _names(registry, BuyerKind.ORGANISATION) == ["invoice", "sandbox"]
    assert isinstance(registry.provider("sandbox"), SandboxProvider)
    sandbox_method = registry.available_methods(BuyerKind.CONSUMER)[0]
    assert sandbox_method.test_mode
    assert sandbox_method.label_sv == "Testbetalning"


def test_t3_2_invoice_is_offered_to_organisations_only(
    registries: list[ProviderRegistry],
) -> None:
    registry = _build(registries)

    with pytest.raises(MethodNotAvailable):
        registry.provider_for_method("invoice", BuyerKind.CONSUMER)
    provider = registry.provider_for_method("invoice", BuyerKind.ORGANISATION)
    assert isinstance(provider, InvoiceProvider)


def test_t3_1_stripe_offers_card_and_its_configured_method_types(
    registries: list[ProviderRegistry],
) -> None:
    registry = _build(registries, **STRIPE, STRIPE_PAYMENT_METHOD_TYPES=["card", "swish", "klarna"])

    assert _names(registry, BuyerKind.CONSUMER) == ["card", "swish", "klarna", "sandbox"]
    klarna = registry.provider_for_method("klarna", BuyerKind.CONSUMER)
    assert isinstance(klarna, StripeProvider)
    assert klarna.method_types == ("klarna",)
    assert isinstance(registry.provider("stripe"), StripeProvider)


def test_t3_1_direct_klarna_wins_over_klarna_through_stripe(
    registries: list[ProviderRegistry],
) -> None:
    registry = _build(
        registries, **STRIPE, **KLARNA, STRIPE_PAYMENT_METHOD_TYPES=["card", "klarna"]
    )

    assert isinstance(registry.provider_for_method("klarna", BuyerKind.CONSUMER), KlarnaProvider)
    assert registry.provider_names == ("stripe", "klarna", "invoice", "sandbox")


def test_the_sandbox_is_refused_in_production(registries: list[ProviderRegistry]) -> None:
    with pytest.raises(PaymentConfigError, match="production"):
        _build(registries, ENV="production", PAYMENT_SANDBOX=True)
    with pytest.raises(PaymentConfigError):
        _build(registries, ENV="production", PAYMENT_SANDBOX="true")


def test_production_offers_no_sandbox_by_default(registries: list[ProviderRegistry]) -> None:
    registry = _build(registries, ENV="production", **STRIPE)

    assert _names(registry, BuyerKind.CONSUMER) == ["card"]
    with pytest.raises(MethodNotAvailable):
        registry.provider("sandbox")


def test_production_refuses_stripe_without_a_webhook_secret(
    registries: list[ProviderRegistry],
) -> None:
    with pytest.raises(PaymentConfigError, match="WEBHOOK"):
        _build(registries, ENV="production", STRIPE_SECRET_KEY="sk_live_x")


def test_payment_methods_setting_chooses_and_orders_the_methods(
    registries: list[ProviderRegistry],
) -> None:
    registry = _build(registries, **STRIPE, PAYMENT_METHODS=["sandbox", "invoice", "card"])

    assert _names(registry, BuyerKind.ORGANISATION) == ["sandbox", "invoice", "card"]
    only_card = _build(registries, **STRIPE, PAYMENT_METHODS=["card"])
    assert _names(only_card, BuyerKind.ORGANISATION) == ["card"]
    assert only_card.provider_names == ("stripe",)


def test_unconfigured_or_disabled_methods_are_not_offered(
    registries: list[ProviderRegistry],
) -> None:
    registry = _build(registries, PAYMENT_SANDBOX=False, INVOICE_ENABLED=False)

    assert _names(registry, BuyerKind.ORGANISATION) == []
    with pytest.raises(MethodNotAvailable):
        registry.provider_for_method("card", BuyerKind.CONSUMER)


class _Bureau:
    name = "bureau"

    def check(self, org_number: str, amount_ore: int, now: datetime) -> CreditDecision:
        return CreditDecision(True, "OK", now, self.name)


def bureau_factory(config: Mapping[str, Any]) -> _Bureau:
    return _Bureau()


def not_a_checker(config: Mapping[str, Any]) -> object:
    return object()


def test_t3_2_a_credit_bureau_is_configured_by_dotted_path(
    registries: list[ProviderRegistry],
) -> None:
    registry = _build(registries, INVOICE_CREDIT_CHECKER=f"{__name__}:bureau_factory")

    provider = registry.provider("invoice")
    assert isinstance(provider, InvoiceProvider)
    assert provider.checker.name == "bureau"
    with pytest.raises(PaymentConfigError):
        _build(registries, INVOICE_CREDIT_CHECKER=f"{__name__}:not_a_checker")


def test_every_provider_keeps_the_protocol(registries: list[ProviderRegistry]) -> None:
    registry = _build(registries, **STRIPE, **KLARNA)

    for name in registry.provider_names:
        assert isinstance(registry.provider(name), PaymentProvider)
