"""The payment providers this shop offers, built once from the configuration.

``create_app`` calls :func:`build_registry` once and keeps the result (e.g.
in ``app.extensions["payments"]``). ``PAYMENT_METHODS`` lists the methods the
shop may offer, in page order; a method whose keys are absent is simply not
offered; the sandbox is on by default outside production and refused in
production (:class:`~shop.payments.errors.PaymentConfigError`).

Methods and providers:

=========  ======================================  ==========================================
method     provider                                offered when
=========  ======================================  ==========================================
card       Stripe Checkout (``card``)               ``STRIPE_SECRET_KEY`` + webhook secret
swish      Stripe Checkout (``swish``)              Stripe, and "swish" in the method types
klarna     Klarna Payments (direct)                 ``KLARNA_USERNAME`` + ``KLARNA_PASSWORD``
klarna     Stripe Checkout (``klarna``)             no direct Klarna; "klarna" in the types
invoice    invoice after a credit check (T3.2)      ``INVOICE_ENABLED``; organisations only
sandbox    test payments                            not production; ``PAYMENT_SANDBOX``
=========  ======================================  ==========================================
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shop.domain.buyers import BuyerKind
from shop.domain.invoices import invoice_offered
from shop.payments.base import PaymentProvider
from shop.payments.errors import MethodNotAvailable, PaymentConfigError
from shop.payments.invoice import (
    DEFAULT_CREDIT_LIMIT_ORE,
    CreditChecker,
    InvoiceProvider,
    RulesCreditChecker,
)
from shop.payments.klarna import PLAYGROUND_API_BASE, KlarnaClient, KlarnaProvider, KlarnaSettings
from shop.payments.sandbox import (
    DEFAULT_PAY_URL,
    JsonFileSandboxStore,
    MemorySandboxStore,
    SandboxProvider,
    SandboxStore,
)
from shop.payments.stripe import DEFAULT_API_BASE, StripeProvider, StripeSettings

METHOD_ORDER = ("card", "swish", "klarna", "invoice", "sandbox")


@dataclass(frozen=True)
class PaymentMethod:
    """A payment method as the checkout page lists it."""

    name: str
    provider: str
    label_sv: str
    description_sv: str
    test_mode: bool = False


@dataclass(frozen=True)
class _Entry:
    method: PaymentMethod
    provider: PaymentProvider


class ProviderRegistry:
    """Methods offered to a buyer, and providers by name (for webhooks, return pages, refunds)."""

    def __init__(
        self,
        entries: Mapping[str, tuple[PaymentMethod, PaymentProvider]],
        order: Sequence[str] = METHOD_ORDER,
    ) -> None:
        self._order = tuple(name for name in order if name in entries)
        self._entries = {name: _Entry(*entries[name]) for name in self._order}
        self._providers: dict[str, PaymentProvider] = {}
        for entry in self._entries.values():
            self._providers.setdefault(entry.provider.name, entry.provider)

    def available_methods(self, buyer_kind: BuyerKind) -> tuple[PaymentMethod, ...]:
        """The methods to show this buyer, in a fixed order; invoice only for organisations."""
        return tuple(
            self._entries[name].method
            for name in self._order
            if (name != "invoice" or invoice_offered(buyer_kind))
        )

    def provider_for_method(self, method: str, buyer_kind: BuyerKind) -> PaymentProvider:
        """The provider for a method the buyer chose; raises :class:`MethodNotAvailable`."""
        if method not in {m.name for m in self.available_methods(buyer_kind)}:
            raise MethodNotAvailable(detail=f"method {method!r} not offered to {buyer_kind}")
        return self._entries[method].provider

    def provider(self, name: str) -> PaymentProvider:
        """The provider called ``name`` (``stripe``, ``klarna``, ``invoice``, ``sandbox``)."""
        try:
            return self._providers[name]
        except KeyError:
            raise MethodNotAvailable(detail=f"no payment provider {name!r}") from None

    @property
    def provider_names(self) -> tuple[str, ...]:
        """Names of the configured providers."""
        return tuple(self._providers)


def _flag(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _load_checker(config: Mapping[str, Any]) -> CreditChecker:
    """``INVOICE_CREDIT_CHECKER`` = "package.module:factory" (factory(config) → checker)."""
    target = config.get("INVOICE_CREDIT_CHECKER")
    if target:
        module_name, _, attribute = str(target).partition(":")
        factory: Callable[[Mapping[str, Any]], CreditChecker] = getattr(
            importlib.import_module(module_name), attribute
        )
        checker = factory(config)
        if not isinstance(checker, CreditChecker):
            raise PaymentConfigError(f"INVOICE_CREDIT_CHECKER {target} is not a CreditChecker")
        return checker
    return RulesCreditChecker(
        limit_ore=int(config.get("INVOICE_CREDIT_LIMIT_ORE", DEFAULT_CREDIT_LIMIT_ORE)),
        denied_org_numbers=tuple(config.get("INVOICE_DENIED_ORG_NUMBERS") or ()),
    )


def build_registry(config: Mapping[str, Any]) -> ProviderRegistry:
    """Every provider the configuration allows (absent keys → method not offered)."""
    production = config.get("ENV") == "production"
    network: dict[str, Any] = {
        "connect_timeout": float(config.get("PAYMENT_CONNECT_TIMEOUT", 3.0)),
        "read_timeout": float(config.get("PAYMENT_READ_TIMEOUT", 20.0)),
        "max_retries": int(config.get("PAYMENT_MAX_RETRIES", 2)),
        "backoff_seconds": float(config.get("PAYMENT_RETRY_BACKOFF", 0.5)),
    }
    entries: dict[str, tuple[PaymentMethod, PaymentProvider]] = {}

    stripe_types = [str(t) for t in config.get("STRIPE_PAYMENT_METHOD_TYPES") or ("card",)]
    if config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_WEBHOOK_SECRET"):
        settings = StripeSettings(
            secret_key=str(config["STRIPE_SECRET_KEY"]),
            webhook_secret=str(config["STRIPE_WEBHOOK_SECRET"]),
            api_base=str(config.get("STRIPE_API_BASE") or DEFAULT_API_BASE),
            checkout_ttl=timedelta(minutes=int(config.get("STRIPE_CHECKOUT_TTL_MINUTES", 60))),
            **network,
        )
        entries["card"] = (
            PaymentMethod("card", "stripe", "Kort", "Betala med kort via Stripe."),
            StripeProvider(settings, method="card", method_types=("card",)),
        )
        if "swish" in stripe_types:
            entries["swish"] = (
                PaymentMethod("swish", "stripe", "Swish", "Betala med Swish via Stripe."),
                StripeProvider(settings, method="swish", method_types=("swish",)),
            )
        if "klarna" in stripe_types and not config.get("KLARNA_USERNAME"):
            entries["klarna"] = (
                PaymentMethod("klarna", "stripe", "Klarna", "Betala med Klarna via Stripe."),
                StripeProvider(settings, method="klarna", method_types=("klarna",)),
            )
    elif production and config.get("STRIPE_SECRET_KEY"):
        raise PaymentConfigError("STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET.")

    if config.get("KLARNA_USERNAME") and config.get("KLARNA_PASSWORD"):
        klarna = KlarnaSettings(
            username=str(config["KLARNA_USERNAME"]),
            password=str(config["KLARNA_PASSWORD"]),
            api_base=str(config.get("KLARNA_API_BASE") or PLAYGROUND_API_BASE),
            notification_url=config.get("KLARNA_NOTIFICATION_URL") or None,
            **network,
        )
        entries["klarna"] = (
            PaymentMethod(
                "klarna",
                "klarna",
                "Klarna",
                "Betala med Klarna: faktura, delbetalning eller direkt.",
            ),
            KlarnaProvider(KlarnaClient(klarna)),
        )

    if _flag(config.get("INVOICE_ENABLED", True)):
        entries["invoice"] = (
            PaymentMethod(
                "invoice",
                "invoice",
                "Faktura",
                "För organisationer efter kreditkontroll. Fakturaavgift 19 kr, 30 dagar netto.",
            ),
            InvoiceProvider(_load_checker(config)),
        )

    sandbox = _flag(config.get("PAYMENT_SANDBOX"))
    if production and sandbox:
        raise PaymentConfigError(
            "PAYMENT_SANDBOX is on in production: test payments are refused there. "
            "Unset SHOP_PAYMENT_SANDBOX."
        )
    if sandbox or (sandbox is None and not production):
        state_file = config.get("PAYMENT_SANDBOX_STATE_FILE")
        store: SandboxStore = (
            JsonFileSandboxStore(str(state_file)) if state_file else MemorySandboxStore()
        )
        entries["sandbox"] = (
            PaymentMethod(
                "sandbox",
                "sandbox",
                "Testbetalning",
                "Endast för test: inga pengar dras.",
                test_mode=True,
            ),
            SandboxProvider(
                str(config.get("SECRET_KEY") or ""),
                env=str(config.get("ENV") or ""),
                store=store,
                pay_url=str(config.get("PAYMENT_SANDBOX_URL") or DEFAULT_PAY_URL),
            ),
        )
    return ProviderRegistry(entries, tuple(config.get("PAYMENT_METHODS") or METHOD_ORDER))
