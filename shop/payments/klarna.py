"""Klarna Payments (direct): a thin typed client of Klarna's REST API, and the provider.

For merchants with their own Klarna contract (T3.1). The flow:

1. :meth:`KlarnaProvider.start_payment` creates a payment session
   (``POST /payments/v1/sessions``) and returns its ``client_token``.
2. The checkout page loads Klarna's documented JavaScript widget
   (``Klarna.Payments.init({client_token})``, ``load``, ``authorize``) and
   posts the ``authorization_token`` back.
3. :meth:`KlarnaProvider.place_order` places the order
   (``POST /payments/v1/authorizations/{token}/order``) and acknowledges it.
4. Order Management: capture on shipment, refund, cancel.

HTTP: the standard library (``http.client``), basic auth, JSON bodies in
minor units, separate connect and read timeouts, and retries with backoff on
5xx, timeouts and connection errors only, never on 4xx. Every POST carries a
``Klarna-Idempotency-Key``; a retry reuses the same key. Klarna's error body
(``error_code``, ``error_messages``, ``correlation_id``) becomes a typed
:class:`~shop.payments.errors.PaymentError`.

The retired "Klarna Checkout" SDKs are not used (T3.1).
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
)
from shop.payments.errors import (
    InvalidWebhook,
    PaymentDeclined,
    PaymentError,
    PaymentNotAllowed,
    PaymentNotFound,
    ProviderAuthenticationFailed,
    ProviderRejected,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

PROVIDER = "klarna"
PLAYGROUND_API_BASE = "https://api.playground.klarna.com"
LIVE_API_BASE = "https://api.klarna.com"
PURCHASE_COUNTRY = "SE"
PURCHASE_CURRENCY = "SEK"
USER_AGENT = "notbutiken-shop/1.0 (+stdlib http.client)"
MAX_BACKOFF_SECONDS = 5.0
NOTIFICATION_EVENTS = {
    "FRAUD_RISK_ACCEPTED",
    "FRAUD_RISK_REJECTED",
    "FRAUD_RISK_STOPPED",
}


# --- the client ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KlarnaSettings:
    """Credentials and network behaviour (from ``KLARNA_*`` and ``PAYMENT_*`` settings)."""

    username: str
    password: str
    api_base: str = PLAYGROUND_API_BASE
    connect_timeout: float = 3.0
    read_timeout: float = 20.0
    max_retries: int = 2
    backoff_seconds: float = 0.5
    notification_url: str | None = None

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("Klarna needs KLARNA_USERNAME and KLARNA_PASSWORD")
        scheme = urllib.parse.urlsplit(self.api_base).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"KLARNA_API_BASE must be an http(s) URL, not {self.api_base!r}")


@dataclass(frozen=True)
class KlarnaResponse:
    """One answer from Klarna: status, headers (lower-case names) and the JSON body."""

    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True)
class KlarnaSession:
    """``POST /payments/v1/sessions``: the session and the token for the widget."""

    session_id: str
    client_token: str
    payment_method_categories: tuple[str, ...]


@dataclass(frozen=True)
class KlarnaPlacedOrder:
    """``POST /payments/v1/authorizations/{token}/order``."""

    order_id: str
    fraud_status: str
    redirect_url: str | None


@dataclass(frozen=True)
class KlarnaOrder:
    """``GET /ordermanagement/v1/orders/{order_id}`` (the fields the shop reads)."""

    order_id: str
    status: str
    fraud_status: str
    order_amount: int
    captured_amount: int
    refunded_amount: int
    remaining_authorized_amount: int
    merchant_reference1: str | None
    purchase_currency: str


class KlarnaClient:
    """Klarna's REST API: Payments and Order Management. Methods map 1:1 to endpoints."""

    def __init__(
        self, settings: KlarnaSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        parts = urllib.parse.urlsplit(settings.api_base)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        credentials = f"{settings.username}:{settings.password}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")

    # Payments API

    def create_session(self, body: Mapping[str, Any], idempotency_key: str) -> KlarnaSession:
        """Create a payment session; its ``client_token`` goes to the widget."""
        data = self._request("POST", "/payments/v1/sessions", body, idempotency_key).body
        categories = data.get("payment_method_categories") or []
        return KlarnaSession(
            session_id=_required_str(data, "session_id"),
            client_token=_required_str(data, "client_token"),
            payment_method_categories=tuple(
                str(c.get("identifier")) for c in categories if isinstance(c, dict)
            ),
        )

    def place_order(
        self, authorization_token: str, body: Mapping[str, Any], idempotency_key: str
    ) -> KlarnaPlacedOrder:
        """Place the order after the widget's authorisation."""
        path = f"/payments/v1/authorizations/{_segment(authorization_token)}/order"
        data = self._request("POST", path, body, idempotency_key).body
        return KlarnaPlacedOrder(
            order_id=_required_str(data, "order_id"),
            fraud_status=str(data.get("fraud_status") or "ACCEPTED"),
            redirect_url=data.get("redirect_url"),
        )

    def cancel_authorization(self, authorization_token: str) -> None:
        """Release an authorisation that will not become an order (204)."""
        self._request("DELETE", f"/payments/v1/authorizations/{_segment(authorization_token)}")

    # Order Management API

    def get_order(self, order_id: str) -> KlarnaOrder:
        """Read an order's status and amounts."""
        data = self._request("GET", f"/ordermanagement/v1/orders/{_segment(order_id)}").body
        return KlarnaOrder(
            order_id=_required_str(data, "order_id"),
            status=str(data.get("status") or ""),
            fraud_status=str(data.get("fraud_status") or ""),
            order_amount=_int(data, "order_amount"),
            captured_amount=_int(data, "captured_amount"),
            refunded_amount=_int(data, "refunded_amount"),
            remaining_authorized_amount=_int(data, "remaining_authorized_amount"),
            merchant_reference1=data.get("merchant_reference1"),
            purchase_currency=str(data.get("purchase_currency") or PURCHASE_CURRENCY),
        )

    def acknowledge(self, order_id: str, idempotency_key: str) -> None:
        """Acknowledge the order (204)."""
        path = f"/ordermanagement/v1/orders/{_segment(order_id)}/acknowledge"
        self._request("POST", path, None, idempotency_key)

    def capture(
        self,
        order_id: str,
        captured_amount: int,
        idempotency_key: str,
        *,
        order_lines: list[dict[str, Any]] | None = None,
        description: str = "",
    ) -> str:
        """Capture (part of) the order; returns the ``Capture-Id`` (201)."""
        body: dict[str, Any] = {"captured_amount": captured_amount}
        if description:
            body["description"] = description
        if order_lines:
            body["order_lines"] = order_lines
        path = f"/ordermanagement/v1/orders/{_segment(order_id)}/captures"
        response = self._request("POST", path, body, idempotency_key)
        return _created_id(response, "capture-id")

    def refund(
        self,
        order_id: str,
        refunded_amount: int,
        idempotency_key: str,
        *,
        order_lines: list[dict[str, Any]] | None = None,
        description: str = "",
    ) -> str:
        """Refund (part of) the captured amount; returns the ``Refund-Id`` (201)."""
        body: dict[str, Any] = {"refunded_amount": refunded_amount}
        if description:
            body["description"] = description
        if order_lines:
            body["order_lines"] = order_lines
        path = f"/ordermanagement/v1/orders/{_segment(order_id)}/refunds"
        response = self._request("POST", path, body, idempotency_key)
        return _created_id(response, "refund-id")

    def cancel_order(self, order_id: str, idempotency_key: str) -> None:
        """Cancel an order that has no captures (204)."""
        path = f"/ordermanagement/v1/orders/{_segment(order_id)}/cancel"
        self._request("POST", path, None, idempotency_key)

    # HTTP

    def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> KlarnaResponse:
        """Send with retries on 5xx/timeouts/connection errors, the same key each time."""
        headers = {
            "Authorization": self._authorization,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if method == "POST":
            if not idempotency_key:
                raise ValueError(f"POST {path} needs an idempotency key")
            headers["Klarna-Idempotency-Key"] = idempotency_key
            if data is None:
                data = b""
        attempt = 0
        while True:
            try:
                status, response_headers, raw = self._send(method, path, data, headers)
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                failure: str = f"{type(error).__name__}: {error}"
            else:
                if status < 500:
                    return _response_or_error(status, response_headers, raw)
                failure = f"HTTP {status}: {_error_summary(raw)}"
            if attempt >= self.settings.max_retries:
                raise ProviderUnavailable(
                    detail=f"Klarna {method} {path} failed after {attempt + 1} tries: {failure}",
                    provider=PROVIDER,
                )
            attempt += 1
            self._sleep(
                min(self.settings.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            )

    def _send(
        self, method: str, path: str, data: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        connection_class = (
            http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        )
        connection = connection_class(self._host, self._port, timeout=self.settings.connect_timeout)
        try:
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(self.settings.read_timeout)
            connection.request(method, self._prefix + path, body=data, headers=dict(headers))
            response = connection.getresponse()
            raw = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, raw
        finally:
            connection.close()


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _required_str(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise ProviderUnavailable(detail=f"Klarna answer without {key}", provider=PROVIDER)
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) else 0


def _created_id(response: KlarnaResponse, header_name: str) -> str:
    value = response.headers.get(header_name)
    if value:
        return value
    location = response.headers.get("location", "")
    if location:
        return location.rstrip("/").rsplit("/", 1)[-1]
    raise ProviderUnavailable(detail=f"Klarna 201 without {header_name}", provider=PROVIDER)


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return {}


def _error_summary(raw: bytes) -> str:
    data = _decode(raw)
    if isinstance(data, dict) and data.get("error_code"):
        return f"{data.get('error_code')} {data.get('error_messages')}"
    return raw[:200].decode("utf-8", "replace")


def _response_or_error(status: int, headers: dict[str, str], raw: bytes) -> KlarnaResponse:
    data = _decode(raw)
    if status < 400:
        return KlarnaResponse(status, headers, data if isinstance(data, dict) else {})
    body = data if isinstance(data, dict) else {}
    code = body.get("error_code")
    messages = body.get("error_messages") or []
    fields: dict[str, Any] = {
        "detail": f"Klarna HTTP {status} {code}: {messages}",
        "provider": PROVIDER,
        "http_status": status,
        "error_code": str(code) if code else None,
        "error_messages": tuple(str(m) for m in messages if isinstance(m, str)),
        "correlation_id": body.get("correlation_id"),
    }
    code_text = str(code or "")
    if status == 401:
        raise ProviderAuthenticationFailed(**fields)
    if status == 404:
        raise PaymentNotFound(**fields)
    if status == 403 and code_text.endswith("NOT_ALLOWED"):
        raise PaymentNotAllowed(**fields)
    if status == 403:
        raise ProviderAuthenticationFailed(**fields)
    raise ProviderRejected(**fields)


# --- the provider ----------------------------------------------------------------------------


def order_lines(lines: tuple[PaymentLine, ...]) -> list[dict[str, Any]]:
    """Klarna ``order_lines``: minor units; ``tax_rate`` in percent with two decimals (2500)."""
    return [
        {
            "type": line.kind.value,
            **({"reference": line.reference} if line.reference else {}),
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": line.unit_price_ore,
            "tax_rate": line.vat_rate_bp,
            "total_amount": line.total_ore,
            "total_discount_amount": line.total_discount_ore,
            "total_tax_amount": line.total_vat_ore,
        }
        for line in lines
    ]


def order_state(order: KlarnaOrder) -> PaymentState:
    """The shop's state of a Klarna order (status and fraud status)."""
    if order.fraud_status == "REJECTED" or order.fraud_status == "STOPPED":
        return PaymentState.FAILED
    if order.status == "CANCELLED":
        return PaymentState.CANCELLED
    if order.status == "EXPIRED":
        return PaymentState.EXPIRED
    if order.captured_amount and order.refunded_amount >= order.captured_amount:
        return PaymentState.REFUNDED
    if order.fraud_status == "PENDING":
        return PaymentState.PENDING
    if order.status in ("CAPTURED", "CLOSED") or (
        order.captured_amount and order.captured_amount >= order.order_amount
    ):
        return PaymentState.PAID
    return PaymentState.AUTHORISED


class KlarnaProvider:
    """Klarna Payments with Order Management (authorise now, capture on shipment)."""

    name = PROVIDER
    method = "klarna"

    def __init__(self, client: KlarnaClient) -> None:
        self.client = client
        self.test_mode = client.settings.api_base.rstrip("/") != LIVE_API_BASE

    def _order_body(self, request: PaymentRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "purchase_country": PURCHASE_COUNTRY,
            "purchase_currency": PURCHASE_CURRENCY,
            "locale": request.locale,
            "order_amount": request.amount_ore,
            "order_tax_amount": request.tax_ore,
            "order_lines": order_lines(request.lines),
            "merchant_reference1": request.order_reference,
        }
        urls = {"confirmation": request.success_url}
        if self.client.settings.notification_url:
            urls["notification"] = self.client.settings.notification_url
        body["merchant_urls"] = urls
        if request.organisation_number:
            body["customer"] = {
                "type": "organization",
                "organization_registration_id": request.organisation_number,
            }
        return body

    def start_payment(self, request: PaymentRequest, now: datetime) -> PaymentStart:
        """Create a Klarna Payments session; the page loads the widget with ``client_token``."""
        body = {**self._order_body(request), "intent": "buy"}
        session = self.client.create_session(body, f"{request.idempotency_key}:session")
        return PaymentStart(
            provider=PROVIDER,
            method=self.method,
            provider_reference=session.session_id,
            flow=PaymentFlow.WIDGET,
            state=PaymentState.PENDING,
            client_token=session.client_token,
            test_mode=self.test_mode,
        )

    def place_order(
        self, request: PaymentRequest, authorization_token: str, now: datetime
    ) -> PaymentStart:
        """Place the order after the widget authorised it, then acknowledge it.

        The result's ``provider_reference`` is Klarna's ``order_id`` (keep it on
        the ``Payment`` row). A fraud status REJECTED raises
        :class:`PaymentDeclined`; PENDING gives a pending payment (Klarna
        notifies the shop when decided).
        """
        placed = self.client.place_order(
            authorization_token, self._order_body(request), f"{request.idempotency_key}:order"
        )
        if placed.fraud_status == "REJECTED":
            raise PaymentDeclined(
                detail=f"Klarna order {placed.order_id} rejected", provider=PROVIDER
            )
        try:
            self.client.acknowledge(placed.order_id, f"{request.idempotency_key}:acknowledge")
        except PaymentError as error:
            # The order is placed and authorised; acknowledging is a courtesy for
            # Klarna Payments, so a failure must not leave the buyer's order unpaid.
            logger.warning("Klarna acknowledge of %s failed: %s", placed.order_id, error.detail)
        state = (
            PaymentState.PENDING if placed.fraud_status == "PENDING" else PaymentState.AUTHORISED
        )
        return PaymentStart(
            provider=PROVIDER,
            method=self.method,
            provider_reference=placed.order_id,
            flow=PaymentFlow.DONE,
            state=state,
            redirect_url=placed.redirect_url,
            test_mode=self.test_mode,
        )

    def fetch_state(self, provider_reference: str) -> PaymentState:
        """Read the order from Order Management (``provider_reference`` is the order id)."""
        return order_state(self.client.get_order(provider_reference))

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], now: datetime
    ) -> ProviderEvent:
        """Read a Klarna notification and verify it by reading the order from Klarna.

        Klarna's pending-order notifications (``FRAUD_RISK_ACCEPTED``,
        ``…_REJECTED``, ``…_STOPPED``) carry no signature; Klarna asks merchants
        to check the order before acting. So the state in the event is the one
        Order Management reports, never the body's: a forged notification
        changes nothing, one for an unknown order is refused.
        """
        try:
            data = json.loads(payload.decode("utf-8"))
        except ValueError as error:
            raise InvalidWebhook(detail="body is not JSON", provider=PROVIDER) from error
        if not isinstance(data, dict):
            raise InvalidWebhook(detail="body is not an object", provider=PROVIDER)
        order_id, kind = data.get("order_id"), data.get("event_type")
        if not isinstance(order_id, str) or not order_id or kind not in NOTIFICATION_EVENTS:
            raise InvalidWebhook(detail="not a Klarna notification", provider=PROVIDER)
        try:
            order = self.client.get_order(order_id)
        except PaymentNotFound as error:
            raise InvalidWebhook(
                detail=f"unknown Klarna order {order_id}", provider=PROVIDER
            ) from error
        return ProviderEvent(
            provider=PROVIDER,
            event_id=f"{order_id}:{kind}",
            kind=str(kind),
            provider_reference=order_id,
            state=order_state(order),
            order_reference=order.merchant_reference1,
            amount_ore=order.order_amount,
            currency=order.purchase_currency,
            occurred_at=now,
        )

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Capture on shipment (201 ``Capture-Id``); more than remains raises PaymentNotAllowed."""
        capture_id = self.client.capture(
            request.provider_reference,
            request.amount_ore,
            request.idempotency_key,
            order_lines=order_lines(request.lines) if request.lines else None,
            description=request.description,
        )
        return CaptureResult(PROVIDER, capture_id, request.amount_ore)

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund (201 ``Refund-Id``); Klarna settles it with the buyer."""
        refund_id = self.client.refund(
            request.provider_reference,
            request.amount_ore,
            request.idempotency_key,
            order_lines=order_lines(request.lines) if request.lines else None,
            description=request.reason,
        )
        return RefundResult(PROVIDER, refund_id, request.amount_ore, RefundStatus.DONE)

    def cancel(self, provider_reference: str, idempotency_key: str) -> PaymentState:
        """Cancel an order with no captures; after a capture, refund instead (403)."""
        order = self.client.get_order(provider_reference)
        if order.status == "CANCELLED":
            return PaymentState.CANCELLED
        self.client.cancel_order(provider_reference, idempotency_key)
        return PaymentState.CANCELLED

    def cancel_authorization(self, authorization_token: str) -> None:
        """Release a widget authorisation that will not become an order."""
        try:
            self.client.cancel_authorization(authorization_token)
        except PaymentNotFound:
            return
