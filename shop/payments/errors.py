"""Payment errors with a message the buyer can read (Swedish).

Every error a provider raises is a :class:`PaymentError`. ``message`` is
Swedish and safe to show to the buyer (it never contains provider internals);
``detail`` is for logs and staff (English or the provider's own words).
Services catch ``PaymentError``, leave the order unpaid and show
``str(error)``.
"""

from __future__ import annotations

from shop.config import ConfigError


class PaymentError(Exception):
    """Base of every error raised by ``shop.payments``."""

    default_message = (
        "Betalningen kunde inte genomföras. Ingenting har dragits. "
        "Försök igen eller välj ett annat betalsätt."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str = "",
        provider: str | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.detail = detail
        self.provider = provider
        super().__init__(self.message)


class ProviderUnavailable(PaymentError):
    """The provider timed out or answered 5xx after every retry; nothing was charged."""

    default_message = (
        "Betaltjänsten svarar inte just nu. Ingenting har dragits. "
        "Försök igen om en stund eller välj ett annat betalsätt."
    )


class PaymentDeclined(PaymentError):
    """The provider (or the shop's credit check) said no to this payment."""

    default_message = "Betalningen godkändes inte. Ingenting har dragits. Välj ett annat betalsätt."


class InvoiceRefused(PaymentDeclined):
    """T3.2: invoice refused (not an organisation, or the credit check said no).

    ``decision`` is the credit decision to keep as a ``CreditCheck`` row (R2.4),
    when a check was made.
    """

    default_message = (
        "Vi kan tyvärr inte erbjuda faktura efter vår kreditkontroll. Välj ett annat "
        "betalsätt eller kontakta oss om förskottsbetalning."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str = "",
        decision: object | None = None,
    ) -> None:
        super().__init__(message, detail=detail, provider="invoice")
        self.decision = decision


class InvalidWebhook(PaymentError):
    """A webhook with a bad or old signature, or a body that is not a valid event.

    The webhook endpoint answers 400 and changes nothing.
    """

    default_message = "Meddelandet från betaltjänsten kunde inte verifieras."


class ProviderRejected(PaymentError):
    """The provider refused the request (4xx): it is not retried.

    ``http_status``, ``error_code``, ``error_messages`` and ``correlation_id``
    are the provider's own (Klarna's error body, Stripe's error object).
    """

    default_message = (
        "Betaltjänsten kunde inte ta emot betalningen. Ingenting har dragits. "
        "Välj ett annat betalsätt eller kontakta oss."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str = "",
        provider: str | None = None,
        http_status: int | None = None,
        error_code: str | None = None,
        error_messages: tuple[str, ...] = (),
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message, detail=detail, provider=provider)
        self.http_status = http_status
        self.error_code = error_code
        self.error_messages = error_messages
        self.correlation_id = correlation_id


class ProviderAuthenticationFailed(ProviderRejected):
    """401: the shop's credentials for the provider are wrong (staff must fix the keys)."""

    default_message = (
        "Betalsättet är inte tillgängligt just nu. Ingenting har dragits. Välj ett annat betalsätt."
    )


class PaymentNotFound(ProviderRejected):
    """404: the provider does not know the session, order or payment."""

    default_message = "Betalningen hittades inte hos betaltjänsten."


class PaymentNotAllowed(ProviderRejected):
    """403 or a state that forbids it: capture, refund or cancel is not allowed now."""

    default_message = "Åtgärden är inte tillåten för betalningen i dess nuvarande läge."


class IdempotencyConflict(ProviderRejected):
    """The same idempotency key was used before with other parameters (a programming error)."""

    default_message = "Betalningen kunde inte genomföras. Ingenting har dragits. Försök igen."


class MethodNotAvailable(PaymentError):
    """The buyer chose a payment method that is not offered to them."""

    default_message = "Betalsättet går inte att välja för den här beställningen."


class PaymentConfigError(ConfigError):
    """The payment configuration cannot run (e.g. the sandbox in production)."""
