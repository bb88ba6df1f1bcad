"""Stripe Checkout: the one module that imports the Stripe SDK.

Card (and Klarna or Swish as Stripe payment method types, when configured)
through Stripe Checkout Sessions in ``mode=payment``. Amounts cross the
boundary as integer öre (``unit_amount``), currency ``sek``.

- Every POST carries the caller's idempotency key; the SDK retries
  connection errors, 409 and 5xx with the same key (``max_network_retries``),
  so a lost answer never charges twice.
- Each provider has its own :class:`stripe.StripeClient` (no global
  ``stripe.api_key``) whose HTTP client has the shop's connect/read timeouts.
- Webhooks: the SDK verifies the ``Stripe-Signature`` HMAC; the timestamp is
  checked against the caller's ``now`` (not the wall clock), with Stripe's
  tolerance of 300 seconds, so a replayed old delivery is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from shop.payments.base import (
    CaptureRequest,
    CaptureResult,
    PaymentFlow,
    PaymentLine,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    RefundStatus,
    header,
)
from shop.payments.errors import (
    IdempotencyConflict,
    InvalidWebhook,
    PaymentDeclined,
    PaymentError,
    PaymentNotAllowed,
    PaymentNotFound,
    ProviderAuthenticationFailed,
    ProviderRejected,
    ProviderUnavailable,
)

PROVIDER = "stripe"
DEFAULT_API_BASE = "https://api.stripe.com"
WEBHOOK_TOLERANCE_SECONDS = 300
#: Stripe accepts ``expires_at`` from 30 minutes to 24 hours after creation.
MIN_CHECKOUT_TTL = timedelta(minutes=30)
MAX_CHECKOUT_TTL = timedelta(hours=24)
MAX_BACKOFF_SECONDS = 5.0

_SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}


@dataclass(frozen=True)
class StripeSettings:
    """What the Stripe provider needs (from ``STRIPE_*`` and ``PAYMENT_*`` settings)."""

    secret_key: str
    webhook_secret: str
    api_base: str = DEFAULT_API_BASE
    checkout_ttl: timedelta = timedelta(hours=1)
    connect_timeout: float = 3.0
    read_timeout: float = 20.0
    max_retries: int = 2
    backoff_seconds: float = 0.5
    webhook_tolerance: int = WEBHOOK_TOLERANCE_SECONDS

    def __post_init__(self) -> None:
        if not self.secret_key or not self.webhook_secret:
            raise ValueError("Stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET")
        if not MIN_CHECKOUT_TTL <= self.checkout_ttl <= MAX_CHECKOUT_TTL:
            raise ValueError("Stripe Checkout sessions live between 30 minutes and 24 hours")


class _TimedRequestsClient(stripe.RequestsClient):
    """The SDK's requests-based client with the shop's timeouts and backoff."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, backoff: float) -> None:
        super().__init__(timeout=(connect_timeout, read_timeout))
        self._backoff = backoff

    def _sleep_time_seconds(
        self,
        num_retries: int,
        response: tuple[Any, Any, Mapping[str, str]] | None = None,
    ) -> float:
        return float(min(self._backoff * (2 ** (num_retries - 1)), MAX_BACKOFF_SECONDS))


class StripeProvider:
    """Stripe Checkout for one payment method (card, or Klarna/Swish through Stripe)."""

    name = PROVIDER
    test_mode = False

    def __init__(
        self,
        settings: StripeSettings,
        *,
        method: str = "card",
        method_types: Sequence[str] = ("card",),
    ) -> None:
        self.settings = settings
        self.method = method
        self.method_types = tuple(method_types)
        self.test_mode = settings.secret_key.startswith("sk_test_")
        self._http = _TimedRequestsClient(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            backoff=settings.backoff_seconds,
        )
        self._client = stripe.StripeClient(
            settings.secret_key,
            base_addresses={"api": settings.api_base},
            max_network_retries=settings.max_retries,
            http_client=self._http,
        )

    def close(self) -> None:
        """Close this thread's pooled connections (tests; worker shutdown)."""
        self._http.close()

    # --- starting and checking a payment ---------------------------------------------------

    def start_payment(self, request: PaymentRequest, now: datetime) -> PaymentStart:
        """Create a Checkout Session and send the buyer to its ``url``.

        Pass the same ``now`` (the ``Payment`` row's ``created_at``) when
        repeating a call with the same idempotency key: Stripe refuses a key
        reused with other parameters.
        """
        params: Any = {
            "mode": "payment",
            "line_items": [_line_item(line) for line in request.lines],
            "payment_method_types": list(self.method_types),
            "client_reference_id": request.order_reference,
            "metadata": {"order_reference": request.order_reference},
            "payment_intent_data": {"metadata": {"order_reference": request.order_reference}},
            "customer_email": request.customer_email,
            "locale": _stripe_locale(request.locale),
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": int((now + self.settings.checkout_ttl).timestamp()),
        }
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        )
        if session.get("amount_total") != request.amount_ore:
            raise PaymentError(
                detail=f"Stripe session {session.id} total {session.get('amount_total')} "
                f"!= {request.amount_ore}",
                provider=PROVIDER,
            )
        return PaymentStart(
            provider=PROVIDER,
            method=self.method,
            provider_reference=session.id,
            flow=PaymentFlow.REDIRECT,
            state=session_state(session),
            redirect_url=session.get("url"),
            test_mode=self.test_mode,
        )

    def fetch_state(self, provider_reference: str) -> PaymentState:
        """Retrieve the session (with its PaymentIntent and charge) and read the state."""
        return session_state(self._session(provider_reference))

    # --- webhooks ------------------------------------------------------------------------

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], now: datetime
    ) -> ProviderEvent:
        """Verify ``Stripe-Signature`` and read the Checkout event.

        The SDK checks the HMAC (``v1``); the timestamp ``t`` must be at most
        ``webhook_tolerance`` seconds before ``now``.
        """
        signature = header(headers, "Stripe-Signature")
        if not signature:
            raise InvalidWebhook(detail="no Stripe-Signature header", provider=PROVIDER)
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidWebhook(detail="body is not UTF-8", provider=PROVIDER) from error
        try:
            stripe.WebhookSignature.verify_header(
                text, signature, self.settings.webhook_secret, tolerance=None
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhook(detail=str(error), provider=PROVIDER) from error
        signed_at = _signature_timestamp(signature)
        if signed_at < now.timestamp() - self.settings.webhook_tolerance:
            raise InvalidWebhook(
                detail=f"signature timestamp {signed_at} is older than the tolerance",
                provider=PROVIDER,
            )
        try:
            data = json.loads(text)
        except ValueError as error:
            raise InvalidWebhook(detail="body is not JSON", provider=PROVIDER) from error
        return event_from_json(data)

    # --- after the payment ---------------------------------------------------------------

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Checkout captures at payment: confirm the session is paid and name its PaymentIntent."""
        session = self._session(request.provider_reference)
        state = session_state(session)
        if state is not PaymentState.PAID:
            raise PaymentNotAllowed(
                detail=f"session {request.provider_reference} is {state}, not paid",
                provider=PROVIDER,
            )
        amount_total = int(session.get("amount_total") or 0)
        if request.amount_ore > amount_total:
            raise PaymentNotAllowed(
                detail=f"capture {request.amount_ore} exceeds paid {amount_total}",
                provider=PROVIDER,
            )
        return CaptureResult(
            provider=PROVIDER,
            capture_id=_payment_intent_id(session),
            amount_ore=request.amount_ore,
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund the session's PaymentIntent (``POST /v1/refunds``) with the request's key."""
        session = self._session(request.provider_reference)
        if session_state(session) not in (PaymentState.PAID, PaymentState.REFUNDED):
            raise PaymentNotAllowed(
                detail=f"session {request.provider_reference} has not been paid",
                provider=PROVIDER,
            )
        params: Any = {
            "payment_intent": _payment_intent_id(session),
            "amount": request.amount_ore,
            "metadata": {"order_reference": str(session.get("client_reference_id") or "")},
        }
        if request.reason:
            params["metadata"]["reason"] = request.reason[:500]
        refund = self._call(
            lambda: self._client.v1.refunds.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        )
        return RefundResult(
            provider=PROVIDER,
            refund_id=refund.id,
            amount_ore=int(refund.get("amount") or 0),
            status=_refund_status(refund.get("status")),
        )

    def cancel(self, provider_reference: str, idempotency_key: str) -> PaymentState:
        """Expire an open session; a paid one must be refunded instead."""
        session = self._session(provider_reference)
        state = session_state(session)
        if state is PaymentState.EXPIRED:
            return state
        if session.get("status") != "open":
            raise PaymentNotAllowed(
                detail=f"session {provider_reference} is {state}; refund a paid session",
                provider=PROVIDER,
            )
        expired = self._call(
            lambda: self._client.v1.checkout.sessions.expire(
                provider_reference, options={"idempotency_key": idempotency_key}
            )
        )
        return session_state(expired)

    # --- plumbing ------------------------------------------------------------------------

    def _session(self, provider_reference: str) -> Any:
        return self._call(
            lambda: self._client.v1.checkout.sessions.retrieve(
                provider_reference, params={"expand": ["payment_intent.latest_charge"]}
            )
        )

    def _call(self, call: Any) -> Any:
        try:
            return call()
        except stripe.StripeError as error:
            raise translate_error(error) from error


# --- pure mapping (tested directly) --------------------------------------------------------


def translate_error(error: stripe.StripeError) -> PaymentError:
    """The shop's error for a Stripe SDK error (the buyer's message is Swedish)."""
    detail = f"{type(error).__name__}: {error.user_message or error}"
    status = error.http_status
    code = error.code
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailable(detail=detail, provider=PROVIDER)
    if isinstance(error, stripe.APIError) or (status is not None and status >= 500):
        return ProviderUnavailable(detail=detail, provider=PROVIDER)
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(detail=detail, provider=PROVIDER)
    fields: dict[str, Any] = {
        "detail": detail,
        "provider": PROVIDER,
        "http_status": status,
        "error_code": code,
        "error_messages": (str(error.user_message or error),),
        "correlation_id": error.request_id,
    }
    if isinstance(error, stripe.IdempotencyError):
        return IdempotencyConflict(**fields)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderAuthenticationFailed(**fields)
    if status == 404:
        return PaymentNotFound(**fields)
    return ProviderRejected(**fields)


def session_state(session: Mapping[str, Any]) -> PaymentState:
    """The state of a Checkout Session (``status``, ``payment_status`` and its PaymentIntent).

    ``open`` → pending; ``expired`` → expired; ``complete`` and paid → paid
    (refunded when the charge is fully refunded); ``complete`` and unpaid →
    pending while an async method (Klarna, Swish, bank) processes, failed
    once its PaymentIntent needs a new payment method, cancelled if it was
    cancelled.
    """
    status = session.get("status")
    if status == "expired":
        return PaymentState.EXPIRED
    if status != "complete":
        return PaymentState.PENDING
    intent = session.get("payment_intent")
    intent_status = intent.get("status") if isinstance(intent, Mapping) else None
    if session.get("payment_status") in ("paid", "no_payment_required"):
        charge = intent.get("latest_charge") if isinstance(intent, Mapping) else None
        if isinstance(charge, Mapping) and charge.get("refunded"):
            return PaymentState.REFUNDED
        return PaymentState.PAID
    if intent_status == "canceled":
        return PaymentState.CANCELLED
    if intent_status == "requires_payment_method":
        return PaymentState.FAILED
    return PaymentState.PENDING


def event_from_json(data: Any) -> ProviderEvent:
    """A :class:`ProviderEvent` from a verified Stripe event body."""
    if not isinstance(data, dict) or data.get("object") != "event":
        raise InvalidWebhook(detail="not a Stripe event", provider=PROVIDER)
    event_id, kind = data.get("id"), data.get("type")
    container = data.get("data")
    obj = container.get("object") if isinstance(container, dict) else None
    if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(obj, dict):
        raise InvalidWebhook(detail="event without id, type or data.object", provider=PROVIDER)
    created = data.get("created")
    occurred_at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None
    reference = str(obj.get("id") or "")
    if kind not in _SESSION_EVENTS or obj.get("object") != "checkout.session":
        return ProviderEvent(PROVIDER, event_id, kind, reference, None, occurred_at=occurred_at)
    if kind == "checkout.session.completed":
        paid = obj.get("payment_status") in ("paid", "no_payment_required")
        state = PaymentState.PAID if paid else PaymentState.PENDING
    elif kind == "checkout.session.async_payment_succeeded":
        state = PaymentState.PAID
    elif kind == "checkout.session.async_payment_failed":
        state = PaymentState.FAILED
    else:
        state = PaymentState.EXPIRED
    raw_metadata = obj.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    order_reference = obj.get("client_reference_id") or metadata.get("order_reference")
    amount = obj.get("amount_total")
    currency = obj.get("currency")
    return ProviderEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind=kind,
        provider_reference=reference,
        state=state,
        order_reference=str(order_reference) if order_reference else None,
        amount_ore=amount if isinstance(amount, int) else None,
        currency=currency.upper() if isinstance(currency, str) else None,
        occurred_at=occurred_at,
    )


def _line_item(line: PaymentLine) -> dict[str, Any]:
    """A Checkout line item in öre; a discounted line becomes one item at its total."""
    if line.total_discount_ore:
        name, quantity, unit = f"{line.quantity} × {line.name}", 1, line.total_ore
    else:
        name, quantity, unit = line.name, line.quantity, line.unit_price_ore
    return {
        "quantity": quantity,
        "price_data": {"currency": "sek", "unit_amount": unit, "product_data": {"name": name}},
    }


def _stripe_locale(locale: str) -> str:
    language = locale.split("-")[0].lower()
    return language if language in ("sv", "en", "da", "fi", "nb") else "auto"


def _signature_timestamp(signature: str) -> int:
    for item in signature.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise InvalidWebhook(detail="no timestamp in Stripe-Signature", provider=PROVIDER)


def _payment_intent_id(session: Mapping[str, Any]) -> str:
    intent = session.get("payment_intent")
    if isinstance(intent, Mapping):
        intent = intent.get("id")
    if not isinstance(intent, str) or not intent:
        raise PaymentNotAllowed(detail="session has no PaymentIntent", provider=PROVIDER)
    return intent


def _refund_status(status: object) -> RefundStatus:
    if status == "succeeded":
        return RefundStatus.DONE
    if status in ("failed", "canceled"):
        return RefundStatus.FAILED
    return RefundStatus.PENDING
