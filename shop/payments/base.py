"""The one payment interface: :class:`PaymentProvider` and its data (integer öre).

Every provider (Stripe Checkout, Klarna Payments, invoice, sandbox) speaks
these frozen dataclasses; services never see an SDK object. Money is an
integer number of öre; VAT rates are basis points (2500 = 25 %), computed by
:mod:`shop.domain.vat`, never here.

The webhook path (architecture: "raw body → provider verifies → a unique
processed-event row first → apply once"): the web layer passes the raw body
and headers to :meth:`PaymentProvider.parse_webhook`, which verifies and
returns a :class:`ProviderEvent` or raises
:class:`~shop.payments.errors.InvalidWebhook` (answer 400, change nothing).
The service stores ``(provider, event_id)`` in a unique row first; a replay
parses to the same ``event_id`` and is then ignored (answer 200).

The return page never trusts the redirect: it asks
:meth:`PaymentProvider.fetch_state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from shop.domain.buyers import BuyerKind
from shop.domain.vat import vat_of_gross

CURRENCY = "SEK"


class PaymentState(StrEnum):
    """Where a payment stands, in the shop's words (the same for every provider)."""

    PENDING = "pending"  #: started, or an async method is still processing
    AUTHORISED = "authorised"  #: the provider guarantees it; captured on shipment (Klarna, invoice)
    PAID = "paid"  #: money captured
    FAILED = "failed"  #: declined or failed; nothing charged
    EXPIRED = "expired"  #: the buyer never finished; nothing charged
    CANCELLED = "cancelled"  #: cancelled before capture; nothing charged
    REFUNDED = "refunded"  #: every captured öre paid back

    @property
    def confirms_order(self) -> bool:
        """True when the order may be confirmed (and, after capture, shipped)."""
        return self in (PaymentState.AUTHORISED, PaymentState.PAID)

    @property
    def is_final(self) -> bool:
        """True when the payment can no longer succeed by itself (no more waiting)."""
        return self not in (PaymentState.PENDING,)


class PaymentFlow(StrEnum):
    """What the checkout page does after :meth:`PaymentProvider.start_payment`."""

    REDIRECT = "redirect"  #: send the buyer to ``redirect_url`` (Stripe, sandbox)
    WIDGET = "widget"  #: load the provider's widget with ``client_token`` (Klarna)
    DONE = "done"  #: nothing more for the buyer to do (invoice)


class LineKind(StrEnum):
    """What an order line is (Klarna's ``order_lines[].type`` values)."""

    PHYSICAL = "physical"
    DIGITAL = "digital"
    SHIPPING_FEE = "shipping_fee"
    SURCHARGE = "surcharge"  #: e.g. the invoice fee (T3.3)


class RefundStatus(StrEnum):
    """A refund at the provider (the ``Refund`` row's status follows it)."""

    PENDING = "pending"  #: accepted, not yet settled (or paid back by hand: invoice)
    DONE = "done"
    FAILED = "failed"


def _require_int(value: object, name: str) -> None:
    if type(value) is not int:
        raise TypeError(f"{name} must be an int (öre), not {type(value).__name__}")


@dataclass(frozen=True)
class PaymentLine:
    """One line of the order as the provider shows it. All amounts in öre, VAT included.

    ``total_ore == quantity * unit_price_ore - total_discount_ore`` and
    ``total_vat_ore`` is the domain's VAT of ``total_ore`` (T2.1, per-line
    rounding). Build lines with :meth:`of` to get both right.
    """

    name: str
    quantity: int
    unit_price_ore: int
    total_ore: int
    vat_rate_bp: int
    total_vat_ore: int
    reference: str = ""
    kind: LineKind = LineKind.PHYSICAL
    total_discount_ore: int = 0

    def __post_init__(self) -> None:
        for name in (
            "quantity",
            "unit_price_ore",
            "total_ore",
            "vat_rate_bp",
            "total_vat_ore",
            "total_discount_ore",
        ):
            _require_int(getattr(self, name), name)
        if not self.name.strip():
            raise ValueError("a payment line needs a name")
        if self.quantity < 1 or self.unit_price_ore < 0 or self.total_discount_ore < 0:
            raise ValueError("quantity must be ≥ 1 and prices ≥ 0")
        if self.total_ore != self.quantity * self.unit_price_ore - self.total_discount_ore:
            raise ValueError(
                f"line {self.name!r}: total_ore must be quantity × unit_price_ore − discount"
            )
        if self.total_vat_ore != vat_of_gross(self.total_ore, self.vat_rate_bp):
            raise ValueError(f"line {self.name!r}: total_vat_ore is not the VAT of total_ore")

    @classmethod
    def of(
        cls,
        name: str,
        quantity: int,
        unit_price_ore: int,
        vat_rate_bp: int,
        *,
        reference: str = "",
        kind: LineKind = LineKind.PHYSICAL,
        total_discount_ore: int = 0,
    ) -> PaymentLine:
        """A line with its total and VAT computed by the domain (T2.1)."""
        total = quantity * unit_price_ore - total_discount_ore
        return cls(
            name=name,
            quantity=quantity,
            unit_price_ore=unit_price_ore,
            total_ore=total,
            vat_rate_bp=vat_rate_bp,
            total_vat_ore=vat_of_gross(total, vat_rate_bp),
            reference=reference,
            kind=kind,
            total_discount_ore=total_discount_ore,
        )


@dataclass(frozen=True)
class PaymentRequest:
    """What the checkout asks a provider to collect: one order, in öre, VAT included.

    ``idempotency_key`` is stored with the ``Payment`` row before the call, so
    a retry (or a double click) reuses it and the buyer is never charged
    twice. ``success_url`` may contain ``{CHECKOUT_SESSION_ID}`` (Stripe fills it in).
    """

    order_reference: str
    amount_ore: int
    lines: tuple[PaymentLine, ...]
    customer_email: str
    success_url: str
    cancel_url: str
    idempotency_key: str
    currency: str = CURRENCY
    locale: str = "sv-SE"
    buyer_kind: BuyerKind = BuyerKind.CONSUMER
    organisation_number: str | None = None
    organisation_name: str | None = None

    def __post_init__(self) -> None:
        _require_int(self.amount_ore, "amount_ore")
        if not self.order_reference.strip() or not self.idempotency_key.strip():
            raise ValueError("order_reference and idempotency_key are required")
        if self.currency != CURRENCY:
            raise ValueError(f"the shop takes {CURRENCY} only, not {self.currency}")
        if not self.lines:
            raise ValueError("a payment needs at least one line")
        if self.amount_ore <= 0:
            raise ValueError("amount_ore must be positive")
        if sum(line.total_ore for line in self.lines) != self.amount_ore:
            raise ValueError("amount_ore must equal the sum of the lines")

    @property
    def tax_ore(self) -> int:
        """The VAT in the whole order (sum of the lines' VAT, T2.1)."""
        return sum(line.total_vat_ore for line in self.lines)


@dataclass(frozen=True)
class CreditDecision:
    """T3.2: the outcome of a credit check (kept as a ``CreditCheck`` row, R2.4)."""

    approved: bool
    reason_sv: str
    checked_at: datetime
    checker: str
    organisation_number: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class PaymentStart:
    """How a started payment continues (see :class:`PaymentFlow`)."""

    provider: str
    method: str
    provider_reference: str
    flow: PaymentFlow
    state: PaymentState
    redirect_url: str | None = None
    client_token: str | None = None
    test_mode: bool = False
    credit_decision: CreditDecision | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook, in the shop's words.

    ``event_id`` is unique per provider: store it first, apply once. ``state``
    is ``None`` for events that change nothing (answer 200 and ignore).
    """

    provider: str
    event_id: str
    kind: str
    provider_reference: str
    state: PaymentState | None
    order_reference: str | None = None
    amount_ore: int | None = None
    currency: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class CaptureRequest:
    """Capture (part of) an authorised payment, e.g. on shipment."""

    provider_reference: str
    amount_ore: int
    idempotency_key: str
    lines: tuple[PaymentLine, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        _require_int(self.amount_ore, "amount_ore")
        if self.amount_ore <= 0 or not self.idempotency_key.strip():
            raise ValueError("a capture needs a positive amount and an idempotency key")


@dataclass(frozen=True)
class CaptureResult:
    """A capture the provider accepted."""

    provider: str
    capture_id: str
    amount_ore: int


@dataclass(frozen=True)
class RefundRequest:
    """Pay back (part of) a captured payment (T5.8). One ``Refund`` row, one key."""

    provider_reference: str
    amount_ore: int
    idempotency_key: str
    reason: str = ""
    lines: tuple[PaymentLine, ...] = ()

    def __post_init__(self) -> None:
        _require_int(self.amount_ore, "amount_ore")
        if self.amount_ore <= 0 or not self.idempotency_key.strip():
            raise ValueError("a refund needs a positive amount and an idempotency key")


@dataclass(frozen=True)
class RefundResult:
    """A refund the provider accepted. ``manual`` means staff pay it back (invoice)."""

    provider: str
    refund_id: str
    amount_ore: int
    status: RefundStatus
    manual: bool = False


@runtime_checkable
class PaymentProvider(Protocol):
    """What every payment provider does. ``now`` is an aware UTC datetime from the caller."""

    name: str
    test_mode: bool

    def start_payment(self, request: PaymentRequest, now: datetime) -> PaymentStart:
        """Start collecting ``request``; raises a :class:`~shop.payments.errors.PaymentError`."""
        ...

    def fetch_state(self, provider_reference: str) -> PaymentState:
        """Ask the provider where the payment stands (the return page never trusts the redirect)."""
        ...

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], now: datetime
    ) -> ProviderEvent:
        """Verify and read a webhook; raises :class:`~shop.payments.errors.InvalidWebhook`."""
        ...

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Capture an authorised payment (on shipment)."""
        ...

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund a captured payment, exactly once per idempotency key."""
        ...

    def cancel(self, provider_reference: str, idempotency_key: str) -> PaymentState:
        """Cancel a payment that is not captured; returns the new state."""
        ...


@runtime_checkable
class WidgetPaymentProvider(PaymentProvider, Protocol):
    """A provider whose page-side widget authorises first (Klarna Payments)."""

    def place_order(
        self, request: PaymentRequest, authorization_token: str, now: datetime
    ) -> PaymentStart:
        """Turn the widget's authorisation into an order at the provider."""
        ...


@dataclass(frozen=True)
class SignedEvent:
    """A webhook body and its headers (the sandbox's simulated provider calls)."""

    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]``, ignoring case (Flask's headers do; a plain dict does not)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None
