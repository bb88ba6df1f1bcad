"""A local fake of Klarna's Payments and Order Management REST APIs.

It answers as Klarna documents: basic auth (401 otherwise), JSON in minor
units, ``200`` for sessions and placed orders, ``201`` with ``Location`` and
``Capture-Id``/``Refund-Id`` for captures and refunds, ``204`` for
acknowledge, cancel and releasing an authorisation, and error bodies
``{"error_code", "error_messages", "correlation_id"}`` (``BAD_VALUE`` 400,
``NO_SUCH_ORDER`` 404, ``CAPTURE_NOT_ALLOWED``/``REFUND_NOT_ALLOWED``/
``CANCEL_NOT_ALLOWED`` 403). ``Klarna-Idempotency-Key`` replays the first
answer. :meth:`FakeKlarna.authorize` plays the page-side widget.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

USERNAME = "PK12345_fake"
PASSWORD = "fake-password"  # noqa: S105 - a test credential for the local fake


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(
        status,
        {"error_code": code, "error_messages": [message], "correlation_id": str(uuid.uuid4())},
    )


def expected_tax(total: int, rate: int) -> int:
    """Klarna's check: ``total_amount - total_amount * 10000 / (10000 + tax_rate)``."""
    return total - (total * 10000) // (10000 + rate) if rate else 0


class FakeKlarna(FakeServer):
    """Klarna Payments + Order Management, in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.authorizations: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, bytes, Reply]] = {}

    def error_body(self, status: int) -> dict[str, Any]:
        if status >= 502:
            return {
                "error_code": "TEMPORARILY_UNAVAILABLE",
                "error_messages": ["Temporarily unavailable"],
                "correlation_id": str(uuid.uuid4()),
            }
        return {
            "error_code": "INTERNAL_SERVER_ERROR",
            "error_messages": ["Unexpected server error"],
            "correlation_id": str(uuid.uuid4()),
        }

    # --- HTTP --------------------------------------------------------------------------------

    def route(self, request: Recorded) -> Reply:
        credentials = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {credentials}":
            return _error(401, "UNAUTHORIZED", "Unauthorized")
        key = request.headers.get("klarna-idempotency-key")
        if request.method == "POST" and key and key in self.idempotency:
            path, body, reply = self.idempotency[key]
            if (path, body) == (request.path, request.body):
                return reply
            return _error(409, "CONFLICT", "Idempotency key reused with another request")
        try:
            body = json.loads(request.body) if request.body else {}
        except ValueError:
            return _error(400, "BAD_VALUE", "Request body is not valid JSON")
        reply = self._route(request.method, request.path, body)
        if request.method == "POST" and key:
            self.idempotency[key] = (request.path, request.body, reply)
        return reply

    def _route(self, method: str, path: str, body: dict[str, Any]) -> Reply:
        if (method, path) == ("POST", "/payments/v1/sessions"):
            return self._create_session(body)
        if m := re.fullmatch(r"/payments/v1/authorizations/([^/]+)/order", path):
            return self._place_order(m.group(1), body) if method == "POST" else Reply(405)
        if m := re.fullmatch(r"/payments/v1/authorizations/([^/]+)", path):
            if method != "DELETE":
                return Reply(405)
            if self.authorizations.pop(m.group(1), None) is None:
                return _error(404, "NOT_FOUND", "Invalid authorization token")
            return Reply(204)
        if m := re.fullmatch(r"/ordermanagement/v1/orders/([^/]+)(/[a-z]+)?", path):
            order = self.orders.get(m.group(1))
            if order is None:
                return _error(404, "NO_SUCH_ORDER", f"Order {m.group(1)} cannot be found.")
            action = (m.group(2) or "").lstrip("/")
            if (method, action) == ("GET", ""):
                return Reply(200, self._public(order))
            if (method, action) == ("POST", "acknowledge"):
                order["acknowledged"] = True
                return Reply(204)
            if (method, action) == ("POST", "captures"):
                return self._capture(order, body)
            if (method, action) == ("POST", "refunds"):
                return self._refund(order, body)
            if (method, action) == ("POST", "cancel"):
                return self._cancel(order)
        return _error(404, "NOT_FOUND", f"No route for {method} {path}")

    def _validate_order(self, body: dict[str, Any]) -> Reply | None:
        for field in ("purchase_country", "purchase_currency", "locale", "order_amount"):
            if field not in body:
                return _error(400, "BAD_VALUE", f"Bad value: {field}")
        lines = body.get("order_lines") or []
        if not lines:
            return _error(400, "BAD_VALUE", "Bad value: order_lines")
        for line in lines:
            amount = line["quantity"] * line["unit_price"] - line.get("total_discount_amount", 0)
            if line["total_amount"] != amount:
                return _error(400, "BAD_VALUE", "Bad value: order_lines.total_amount")
            if abs(line["total_tax_amount"] - expected_tax(amount, line["tax_rate"])) > 1:
                return _error(400, "BAD_VALUE", "Bad value: order_lines.total_tax_amount")
        if sum(line["total_amount"] for line in lines) != body["order_amount"]:
            return _error(400, "BAD_VALUE", "Bad value: order_amount")
        if sum(line["total_tax_amount"] for line in lines) != body.get("order_tax_amount"):
            return _error(400, "BAD_VALUE", "Bad value: order_tax_amount")
        return None

    def _create_session(self, body: dict[str, Any]) -> Reply:
        if problem := self._validate_order(body):
            return problem
        session_id = str(uuid.uuid4())
        self.sessions[session_id] = {"request": body, "status": "incomplete"}
        return Reply(
            200,
            {
                "session_id": session_id,
                "client_token": f"eyJhbGciOiJSUzI1NiJ9.fake.{session_id}",
                "payment_method_categories": [
                    {"identifier": "klarna", "name": "Betala med Klarna", "asset_urls": {}}
                ],
            },
        )

    def _place_order(self, token: str, body: dict[str, Any]) -> Reply:
        authorization = self.authorizations.get(token)
        if authorization is None or authorization.get("used"):
            return _error(404, "NOT_FOUND", "Invalid authorization token")
        if problem := self._validate_order(body):
            return problem
        if body["order_amount"] != authorization["order_amount"]:
            return _error(400, "BAD_VALUE", "Bad value: order_amount does not match authorization")
        authorization["used"] = True
        order_id = str(uuid.uuid4())
        self.orders[order_id] = {
            "order_id": order_id,
            "status": "AUTHORIZED",
            "fraud_status": authorization["fraud_status"],
            "order_amount": body["order_amount"],
            "original_order_amount": body["order_amount"],
            "captured_amount": 0,
            "refunded_amount": 0,
            "remaining_authorized_amount": body["order_amount"],
            "purchase_currency": body["purchase_currency"],
            "merchant_reference1": body.get("merchant_reference1"),
            "order_lines": body["order_lines"],
            "captures": [],
            "refunds": [],
            "acknowledged": False,
        }
        return Reply(
            200,
            {
                "order_id": order_id,
                "redirect_url": f"{self.base_url}/confirmation/{order_id}",
                "fraud_status": authorization["fraud_status"],
                "authorized_payment_method": {"type": "invoice"},
            },
        )

    def _public(self, order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if k != "acknowledged"}

    def _capture(self, order: dict[str, Any], body: dict[str, Any]) -> Reply:
        amount = body.get("captured_amount")
        if not isinstance(amount, int) or amount <= 0:
            return _error(400, "BAD_VALUE", "Bad value: captured_amount")
        if (
            order["status"] in ("CANCELLED", "EXPIRED")
            or amount > order["remaining_authorized_amount"]
        ):
            return _error(403, "CAPTURE_NOT_ALLOWED", "Capture not allowed")
        capture_id = str(uuid.uuid4())
        order["captures"].append({"capture_id": capture_id, "captured_amount": amount})
        order["captured_amount"] += amount
        order["remaining_authorized_amount"] -= amount
        order["status"] = (
            "CAPTURED" if order["remaining_authorized_amount"] == 0 else "PART_CAPTURED"
        )
        location = (
            f"{self.base_url}/ordermanagement/v1/orders/{order['order_id']}/captures/{capture_id}"
        )
        return Reply(201, None, {"Location": location, "Capture-Id": capture_id})

    def _refund(self, order: dict[str, Any], body: dict[str, Any]) -> Reply:
        amount = body.get("refunded_amount")
        if not isinstance(amount, int) or amount <= 0:
            return _error(400, "BAD_VALUE", "Bad value: refunded_amount")
        if not order["captures"]:
            return _error(403, "REFUND_NOT_ALLOWED", "Order has no captures. Refund not possible")
        if amount > order["captured_amount"] - order["refunded_amount"]:
            return _error(403, "REFUND_NOT_ALLOWED", "Refund amount exceeds captured amount")
        refund_id = str(uuid.uuid4())
        order["refunds"].append({"refund_id": refund_id, "refunded_amount": amount})
        order["refunded_amount"] += amount
        location = (
            f"{self.base_url}/ordermanagement/v1/orders/{order['order_id']}/refunds/{refund_id}"
        )
        return Reply(201, None, {"Location": location, "Refund-Id": refund_id})

    def _cancel(self, order: dict[str, Any]) -> Reply:
        if order["captures"]:
            return _error(
                403, "CANCEL_NOT_ALLOWED", "Order has previous captures. Cancel not possible"
            )
        order["status"] = "CANCELLED"
        order["remaining_authorized_amount"] = 0
        return Reply(204)

    # --- the widget's and Klarna's own part -----------------------------------------------

    def authorize(self, session_id: str, *, fraud_status: str = "ACCEPTED") -> str:
        """The buyer authorises in Klarna's widget: returns the ``authorization_token``."""
        with self.lock:
            session = self.sessions[session_id]
            session["status"] = "complete"
            token = str(uuid.uuid4())
            self.authorizations[token] = {
                "session_id": session_id,
                "order_amount": session["request"]["order_amount"],
                "fraud_status": fraud_status,
            }
            return token

    def decide_fraud(self, order_id: str, fraud_status: str) -> None:
        """Klarna finishes reviewing a pending order."""
        with self.lock:
            self.orders[order_id]["fraud_status"] = fraud_status
