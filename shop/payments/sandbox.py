"""The sandbox provider: a complete purchase with no keys (``make run``), never in production.

It behaves like a hosted payment page: :meth:`SandboxProvider.start_payment`
returns the URL of the shop's own test payment page (the page says clearly
that it is a test payment: :data:`TEST_PAYMENT_NOTICE`). The buttons there
call :meth:`SandboxProvider.simulate`, which moves the payment through the
same states as a real one (deterministically: the same outcome twice gives the
same event) and returns a webhook-like event signed with HMAC-SHA256 under a
key derived from the app's ``SECRET_KEY``. The caller feeds it to the same
webhook path as Stripe's (verify → unique event row → apply once).

State lives in a :class:`SandboxStore`: in memory (one process), or JSON
files next to ``PAYMENT_SANDBOX_STATE_FILE`` (one per payment) so that several
processes (gunicorn workers) and restarts agree; the test payment page and its buttons may be
served by any worker, so with more than one worker the file is required.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from shop.payments.base import (
    CaptureRequest,
    CaptureResult,
    PaymentFlow,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    RefundStatus,
    SignedEvent,
    header,
)
from shop.payments.errors import (
    IdempotencyConflict,
    InvalidWebhook,
    PaymentConfigError,
    PaymentNotAllowed,
    PaymentNotFound,
)

PROVIDER = "sandbox"
SIGNATURE_HEADER = "Sandbox-Signature"
WEBHOOK_TOLERANCE_SECONDS = 300
#: What a payment reference may look like (``sbx_`` and hex digits when the provider makes it).
_REFERENCE_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
DEFAULT_PAY_URL = "/kassa/testbetalning/{provider_reference}"
TEST_PAYMENT_NOTICE = (
    "Det här är en testbetalning. Inga pengar dras och inget kort eller konto belastas."
)


class SandboxOutcome(StrEnum):
    """What the buyer does on the test payment page."""

    PAY = "pay"  #: pays at once (card-like)
    PAY_LATER = "pay_later"  #: an async method: pending now, paid by a second event
    SETTLE = "settle"  #: the async payment succeeds
    FAIL = "fail"  #: declined (or the async payment fails)
    EXPIRE = "expire"  #: never finishes
    ABORT = "abort"  #: the buyer cancels


#: outcome → (states it may follow, state it leads to, event kind)
_TRANSITIONS: dict[SandboxOutcome, tuple[frozenset[PaymentState], PaymentState, str]] = {
    SandboxOutcome.PAY: (
        frozenset({PaymentState.PENDING}),
        PaymentState.PAID,
        "sandbox.payment.completed",
    ),
    SandboxOutcome.PAY_LATER: (
        frozenset({PaymentState.PENDING}),
        PaymentState.PENDING,
        "sandbox.payment.processing",
    ),
    SandboxOutcome.SETTLE: (
        frozenset({PaymentState.PENDING}),
        PaymentState.PAID,
        "sandbox.payment.async_succeeded",
    ),
    SandboxOutcome.FAIL: (
        frozenset({PaymentState.PENDING}),
        PaymentState.FAILED,
        "sandbox.payment.failed",
    ),
    SandboxOutcome.EXPIRE: (
        frozenset({PaymentState.PENDING}),
        PaymentState.EXPIRED,
        "sandbox.payment.expired",
    ),
    SandboxOutcome.ABORT: (
        frozenset({PaymentState.PENDING}),
        PaymentState.CANCELLED,
        "sandbox.payment.cancelled",
    ),
}


@dataclass(frozen=True)
class SandboxPayment:
    """One test payment as the sandbox keeps it."""

    reference: str
    order_reference: str
    amount_ore: int
    state: PaymentState
    created_at: str
    outcomes: tuple[str, ...] = ()
    refunded_ore: int = 0
    refunds: tuple[tuple[str, int, str], ...] = ()  #: (idempotency key, amount, refund id)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["outcomes"] = list(self.outcomes)
        data["refunds"] = [list(r) for r in self.refunds]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SandboxPayment:
        return cls(
            reference=str(data["reference"]),
            order_reference=str(data["order_reference"]),
            amount_ore=int(data["amount_ore"]),
            state=PaymentState(data["state"]),
            created_at=str(data["created_at"]),
            outcomes=tuple(str(o) for o in data.get("outcomes", ())),
            refunded_ore=int(data.get("refunded_ore", 0)),
            refunds=tuple((str(k), int(a), str(i)) for k, a, i in data.get("refunds", ())),
        )


class SandboxStore(Protocol):
    """Where the sandbox keeps its payments."""

    def get(self, reference: str) -> SandboxPayment | None:
        """The payment, or ``None``."""
        ...

    def put(self, payment: SandboxPayment) -> None:
        """Save (insert or replace) the payment."""
        ...


class MemorySandboxStore:
    """Payments in a dict (one process; tests)."""

    def __init__(self) -> None:
        self._payments: dict[str, SandboxPayment] = {}

    def get(self, reference: str) -> SandboxPayment | None:
        return self._payments.get(reference)

    def put(self, payment: SandboxPayment) -> None:
        self._payments[payment.reference] = payment


class JsonFileSandboxStore:
    """Payments as small JSON files, shared by several processes (gunicorn workers) and restarts.

    ``path`` names the store (``PAYMENT_SANDBOX_STATE_FILE``); each payment is
    the file ``<path>.d/<reference>.json``. A save writes a temporary file in
    that directory and renames it over the payment's file (``os.replace``), so
    a reader sees the old payment or the new one, never half of one, and two
    processes saving different payments never write the same file: no lock is
    needed, and a read or a save costs the same however many payments the
    store holds (one file for all payments, read and rewritten whole under a
    lock on every save, made each payment slower than the one before).

    Two processes changing the *same* payment at once may both act on the
    state they read, and one save wins (harmless for the sandbox: its events
    are deduplicated downstream).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.directory = self.path.with_name(self.path.name + ".d")

    def _file(self, reference: str) -> Path | None:
        """The payment's file; None for a reference that cannot be one (it comes from URLs)."""
        if not _REFERENCE_RE.fullmatch(reference):
            return None
        return self.directory / f"{reference}.json"

    def get(self, reference: str) -> SandboxPayment | None:
        file = self._file(reference)
        if file is None:
            return None
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return SandboxPayment.from_json(raw) if isinstance(raw, dict) else None

    def put(self, payment: SandboxPayment) -> None:
        file = self._file(payment.reference)
        if file is None:
            raise ValueError(f"not a sandbox payment reference: {payment.reference!r}")
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".sandbox-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payment.to_json(), handle, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, file)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def references(self) -> set[str]:
        """Every stored payment's reference."""
        if not self.directory.is_dir():
            return set()
        return {
            entry.name.removesuffix(".json")
            for entry in self.directory.iterdir()
            if entry.name.endswith(".json") and not entry.name.startswith(".")
        }


def sign(payload: bytes, key: bytes, timestamp: int) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`` (Stripe's scheme)."""
    mac = hmac.new(key, f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class SandboxProvider:
    """Test payments with no provider at all; refused in production."""

    name = PROVIDER
    method = "sandbox"
    test_mode = True

    def __init__(
        self,
        secret_key: str,
        *,
        env: str = "development",
        store: SandboxStore | None = None,
        pay_url: str = DEFAULT_PAY_URL,
        tolerance_seconds: int = WEBHOOK_TOLERANCE_SECONDS,
    ) -> None:
        if env == "production":
            raise PaymentConfigError(
                "The sandbox payment provider is refused in production: set "
                "SHOP_PAYMENT_SANDBOX=false and configure Stripe or Klarna."
            )
        if not secret_key:
            raise PaymentConfigError("The sandbox signs its events with SECRET_KEY; set it.")
        self._key = hmac.new(secret_key.encode(), b"shop.payments.sandbox", hashlib.sha256).digest()
        self.store: SandboxStore = store if store is not None else MemorySandboxStore()
        self.pay_url = pay_url
        self.tolerance_seconds = tolerance_seconds
        self._lock = threading.Lock()

    def _digest(self, *parts: str) -> str:
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:24]

    def _payment(self, reference: str) -> SandboxPayment:
        payment = self.store.get(reference)
        if payment is None:
            raise PaymentNotFound(detail=f"no sandbox payment {reference}", provider=PROVIDER)
        return payment

    def start_payment(self, request: PaymentRequest, now: datetime) -> PaymentStart:
        """Open a test payment; the same idempotency key gives the same payment."""
        reference = "sbx_" + self._digest("session", request.idempotency_key)
        with self._lock:
            payment = self.store.get(reference)
            if payment is None:
                payment = SandboxPayment(
                    reference=reference,
                    order_reference=request.order_reference,
                    amount_ore=request.amount_ore,
                    state=PaymentState.PENDING,
                    created_at=now.isoformat(),
                )
                self.store.put(payment)
            elif (payment.order_reference, payment.amount_ore) != (
                request.order_reference,
                request.amount_ore,
            ):
                raise IdempotencyConflict(
                    detail="idempotency key reused for another order", provider=PROVIDER
                )
        return PaymentStart(
            provider=PROVIDER,
            method=self.method,
            provider_reference=reference,
            flow=PaymentFlow.REDIRECT,
            state=payment.state,
            redirect_url=self.pay_url.format(provider_reference=reference),
            test_mode=True,
        )

    def simulate(
        self, provider_reference: str, outcome: SandboxOutcome, now: datetime
    ) -> SignedEvent:
        """Do what the buyer chose on the test page and return the signed event.

        Repeating an outcome already applied returns the same event (same
        ``event_id``), so a double click is deduplicated downstream; an
        outcome the state does not allow raises :class:`PaymentNotAllowed`.
        """
        allowed_from, new_state, kind = _TRANSITIONS[outcome]
        with self._lock:
            payment = self._payment(provider_reference)
            if outcome.value not in payment.outcomes:
                pending_async = SandboxOutcome.PAY_LATER.value in payment.outcomes
                if (
                    payment.state not in allowed_from
                    or (outcome is SandboxOutcome.SETTLE and not pending_async)
                    or (outcome is SandboxOutcome.PAY and pending_async)
                ):
                    raise PaymentNotAllowed(
                        detail=f"{outcome} not allowed when {payment.state}", provider=PROVIDER
                    )
                payment = replace(
                    payment, state=new_state, outcomes=(*payment.outcomes, outcome.value)
                )
                self.store.put(payment)
        body = {
            "id": "evt_sbx_" + self._digest("event", provider_reference, outcome.value),
            "type": kind,
            "reference": provider_reference,
            "order_reference": payment.order_reference,
            "amount_ore": payment.amount_ore,
            "currency": "SEK",
            "state": new_state.value,
        }
        payload = json.dumps(body, sort_keys=True).encode()
        timestamp = int(now.timestamp())
        return SignedEvent(payload, {SIGNATURE_HEADER: sign(payload, self._key, timestamp)})

    def fetch_state(self, provider_reference: str) -> PaymentState:
        """The stored state of the test payment."""
        return self._payment(provider_reference).state

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], now: datetime
    ) -> ProviderEvent:
        """Verify ``Sandbox-Signature`` (HMAC, at most 300 s old at ``now``) and read the event."""
        signature = header(headers, SIGNATURE_HEADER) or ""
        fields = dict(part.partition("=")[::2] for part in signature.split(",") if "=" in part)
        try:
            timestamp = int(fields.get("t", ""))
        except ValueError as error:
            raise InvalidWebhook(detail="no signature timestamp", provider=PROVIDER) from error
        expected = sign(payload, self._key, timestamp)
        if not hmac.compare_digest(
            expected.encode(), f"t={timestamp},v1={fields.get('v1', '')}".encode()
        ):
            raise InvalidWebhook(detail="bad signature", provider=PROVIDER)
        if timestamp < now.timestamp() - self.tolerance_seconds:
            raise InvalidWebhook(detail="signature too old", provider=PROVIDER)
        try:
            data = json.loads(payload.decode("utf-8"))
            event = ProviderEvent(
                provider=PROVIDER,
                event_id=str(data["id"]),
                kind=str(data["type"]),
                provider_reference=str(data["reference"]),
                state=PaymentState(data["state"]),
                order_reference=str(data["order_reference"]),
                amount_ore=int(data["amount_ore"]),
                currency=str(data["currency"]),
                occurred_at=datetime.fromtimestamp(timestamp, UTC),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidWebhook(detail="malformed sandbox event", provider=PROVIDER) from error
        return event

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Like Stripe Checkout, a paid test payment is already captured."""
        payment = self._payment(request.provider_reference)
        if payment.state is not PaymentState.PAID or request.amount_ore > payment.amount_ore:
            raise PaymentNotAllowed(
                detail=f"capture {request.amount_ore} of a {payment.state} payment",
                provider=PROVIDER,
            )
        return CaptureResult(PROVIDER, "cap_" + payment.reference, request.amount_ore)

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund at most what remains; the same key gives the same refund, once."""
        with self._lock:
            payment = self._payment(request.provider_reference)
            for key, amount, refund_id in payment.refunds:
                if key == request.idempotency_key:
                    if amount != request.amount_ore:
                        raise IdempotencyConflict(
                            detail="refund key reused with another amount", provider=PROVIDER
                        )
                    return RefundResult(PROVIDER, refund_id, amount, RefundStatus.DONE)
            remaining = payment.amount_ore - payment.refunded_ore
            if payment.state is not PaymentState.PAID or request.amount_ore > remaining:
                raise PaymentNotAllowed(
                    detail=f"refund {request.amount_ore} of {remaining} left ({payment.state})",
                    provider=PROVIDER,
                )
            refund_id = "re_sbx_" + self._digest(
                "refund", payment.reference, request.idempotency_key
            )
            refunded = payment.refunded_ore + request.amount_ore
            payment = replace(
                payment,
                refunded_ore=refunded,
                refunds=(
                    *payment.refunds,
                    (request.idempotency_key, request.amount_ore, refund_id),
                ),
                state=PaymentState.REFUNDED if refunded == payment.amount_ore else payment.state,
            )
            self.store.put(payment)
        return RefundResult(PROVIDER, refund_id, request.amount_ore, RefundStatus.DONE)

    def cancel(self, provider_reference: str, idempotency_key: str) -> PaymentState:
        """Cancel a pending test payment (again: no change); a paid one must be refunded."""
        with self._lock:
            payment = self._payment(provider_reference)
            if payment.state is PaymentState.CANCELLED:
                return payment.state
            if payment.state is not PaymentState.PENDING:
                raise PaymentNotAllowed(
                    detail=f"cannot cancel a {payment.state} payment", provider=PROVIDER
                )
            self.store.put(replace(payment, state=PaymentState.CANCELLED))
        return PaymentState.CANCELLED
