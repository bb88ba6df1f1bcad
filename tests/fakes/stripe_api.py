"""A local fake of the Stripe API endpoints the shop uses, for the real SDK to talk to.

Speaks form-encoded ``POST /v1/checkout/sessions``, ``GET
/v1/checkout/sessions/{id}`` (with ``expand[]=payment_intent.latest_charge``),
``POST /v1/checkout/sessions/{id}/expire`` and ``POST /v1/refunds``, as
Stripe documents them: Bearer auth, ``Idempotency-Key`` (same key and
parameters → the first answer replayed with ``Idempotent-Replayed: true``;
same key, other parameters → 400 ``idempotency_error``), Stripe-shaped JSON
objects and error bodies. Helpers play the buyer's part (pay, async
outcome) and build event bodies for webhook tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.server import FakeServer, Recorded, Reply

API_KEY = "sk_test_fake_0123456789"
WEBHOOK_SECRET = "whsec_fake_0123456789"
API_VERSION = "2025-10-29.clover"


def decode_form(text: str) -> dict[str, Any]:
    """Stripe's bracket form encoding (``a[b][0][c]=v``) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        tokens = re.findall(r"[^\[\]]+", key)
        node = root
        for token in tokens[:-1]:
            node = node.setdefault(token, {})
        node[tokens[-1]] = value

    def listify(value: Any) -> Any:
        if isinstance(value, dict):
            converted = {k: listify(v) for k, v in value.items()}
            if converted and all(k.isdigit() for k in converted):
                return [converted[k] for k in sorted(converted, key=int)]
            return converted
        return value

    return listify(root)


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """A real ``Stripe-Signature`` header value: ``t=…,v1=HMAC-SHA256(secret, "t.payload")``."""
    signed = f"{timestamp}.".encode() + payload
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _error(status: int, kind: str, message: str, code: str | None = None) -> Reply:
    body: dict[str, Any] = {"type": kind, "message": message}
    if code:
        body["code"] = code
    return Reply(status, {"error": body}, {"Request-Id": "req_fake"})


class FakeStripe(FakeServer):
    """Stripe, as far as Checkout Sessions and refunds go."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, str, Reply]] = {}
        self._counter = 0

    def error_body(self, status: int) -> dict[str, Any]:
        return {"error": {"type": "api_error", "message": "An unknown error occurred"}}

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_fake{self._counter:06d}"

    # --- HTTP --------------------------------------------------------------------------------

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "invalid_request_error", "Invalid API Key provided: sk_***")
        if request.method == "POST":
            key = request.headers.get("idempotency-key")
            fingerprint = request.body.decode()
            if key and key in self.idempotency:
                path, stored_fingerprint, reply = self.idempotency[key]
                if (path, stored_fingerprint) != (request.path, fingerprint):
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        f"parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    )
                return Reply(
                    reply.status, reply.body, {**reply.headers, "Idempotent-Replayed": "true"}
                )
            reply = self._post(request.path, decode_form(fingerprint))
            if key and reply.status < 500:
                self.idempotency[key] = (request.path, fingerprint, reply)
            return reply
        if request.method == "GET":
            match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)", request.path)
            if match:
                params = decode_form(request.query)
                return self._get_session(match.group(1), params.get("expand") or [])
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({request.path}).")

    def _post(self, path: str, params: dict[str, Any]) -> Reply:
        if path == "/v1/checkout/sessions":
            return self._create_session(params)
        match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", path)
        if match:
            return self._expire(match.group(1))
        if path == "/v1/refunds":
            return self._create_refund(params)
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({path}).")

    def _create_session(self, params: dict[str, Any]) -> Reply:
        if params.get("mode") != "payment":
            return _error(400, "invalid_request_error", "Missing required param: mode.")
        for required in ("success_url", "line_items"):
            if not params.get(required):
                return _error(400, "invalid_request_error", f"Missing required param: {required}.")
        total = 0
        for item in params["line_items"]:
            price = item.get("price_data") or {}
            if price.get("currency") != "sek":
                return _error(400, "invalid_request_error", "Currency must be sek here.")
            unit, quantity = int(price["unit_amount"]), int(item["quantity"])
            total += unit * quantity
        session_id = self._id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": total,
            "currency": "sek",
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata") or {},
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "payment_intent": None,
            "expires_at": int(params["expires_at"]) if params.get("expires_at") else None,
            "locale": params.get("locale"),
            "line_items_params": params["line_items"],
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "url": f"{self.base_url}/c/pay/{session_id}",
            "livemode": False,
        }
        self.sessions[session_id] = session
        return Reply(200, self._public(session))

    def _public(self, session: dict[str, Any], expand: list[str] | None = None) -> dict[str, Any]:
        public = {k: v for k, v in session.items() if k != "line_items_params"}
        intent_id = session["payment_intent"]
        if intent_id and expand and any(e.startswith("payment_intent") for e in expand):
            intent = dict(self.intents[intent_id])
            if "payment_intent.latest_charge" in expand and intent.get("latest_charge"):
                intent["latest_charge"] = dict(self.charges[intent["latest_charge"]])
            public["payment_intent"] = intent
        return public

    def _get_session(self, session_id: str, expand: list[str]) -> Reply:
        session = self.sessions.get(session_id)
        if session is None:
            return _error(
                404,
                "invalid_request_error",
                f"No such checkout.session: '{session_id}'",
                "resource_missing",
            )
        return Reply(200, self._public(session, expand))

    def _expire(self, session_id: str) -> Reply:
        session = self.sessions.get(session_id)
        if session is None:
            return _error(
                404, "invalid_request_error", "No such checkout.session", "resource_missing"
            )
        if session["status"] != "open":
            return _error(
                400,
                "invalid_request_error",
                f'Only Checkout Sessions with a status in ["open"] can be expired. '
                f'This Checkout Session has a status of "{session["status"]}".',
            )
        session["status"] = "expired"
        return Reply(200, self._public(session))

    def _create_refund(self, params: dict[str, Any]) -> Reply:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return _error(
                404, "invalid_request_error", "No such payment_intent", "resource_missing"
            )
        charge = self.charges.get(intent.get("latest_charge") or "")
        if intent["status"] != "succeeded" or charge is None:
            return _error(
                400, "invalid_request_error", "This PaymentIntent has no charge to refund."
            )
        amount = int(params.get("amount") or charge["amount"] - charge["amount_refunded"])
        if amount > charge["amount"] - charge["amount_refunded"]:
            return _error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge.",
                "amount_too_large",
            )
        refund_id = self._id("re")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": "sek",
            "charge": charge["id"],
            "payment_intent": intent["id"],
            "metadata": params.get("metadata") or {},
            "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return Reply(200, refund)

    # --- the buyer's part -------------------------------------------------------------------

    def pay(self, session_id: str, *, asynchronous: bool = False) -> None:
        """The buyer completes the Checkout page (an async method leaves it unpaid for now)."""
        with self.lock:
            session = self.sessions[session_id]
            intent_id, charge_id = self._id("pi"), self._id("ch")
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": session["amount_total"],
                "amount_refunded": 0,
                "refunded": False,
                "status": "pending" if asynchronous else "succeeded",
            }
            self.intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "currency": "sek",
                "status": "processing" if asynchronous else "succeeded",
                "latest_charge": charge_id,
            }
            session.update(
                status="complete",
                payment_status="unpaid" if asynchronous else "paid",
                payment_intent=intent_id,
            )

    def settle(self, session_id: str, *, succeeded: bool) -> None:
        """An async payment (Klarna, Swish, bank debit) succeeds or fails."""
        with self.lock:
            session = self.sessions[session_id]
            intent = self.intents[session["payment_intent"]]
            intent["status"] = "succeeded" if succeeded else "requires_payment_method"
            self.charges[intent["latest_charge"]]["status"] = "succeeded" if succeeded else "failed"
            session["payment_status"] = "paid" if succeeded else "unpaid"

    def expire(self, session_id: str) -> None:
        with self.lock:
            self.sessions[session_id]["status"] = "expired"

    def event(self, session_id: str, kind: str, *, event_id: str | None = None) -> bytes:
        """The body of a Stripe event about the session, as Stripe sends it."""
        with self.lock:
            session = self._public(self.sessions[session_id])
        body = {
            "id": event_id or self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": 1_790_000_000,
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": session},
        }
        return json.dumps(body).encode()
