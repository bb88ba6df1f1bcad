"""Paying for a placed order.

- ``payments.go`` (POST) starts or resumes the payment and sends the buyer on:
  to Stripe Checkout, to the test payment page, to Klarna's widget, or (an
  invoice) straight to the return page.
- ``payments.sandbox`` is the test payment page: its buttons build a signed
  sandbox event and feed it through the same event handling as a webhook.
- ``payments.klarna`` loads Klarna's documented JavaScript widget (with a
  Content-Security-Policy of its own that allows Klarna's origins there only);
  ``payments.klarna_authorised`` places the order at Klarna with the token.
- ``payments.return_page`` shows the real state, asked of the provider; the
  query string of a redirect is never trusted.

Who may see an order: its logged-in owner, or a guest with the signed order
link token (``t``, from :func:`shop.services.orders.guest_order_token`).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from shop import clock
from shop.models import Order
from shop.payments.base import PaymentFlow, PaymentState
from shop.payments.errors import PaymentError
from shop.payments.sandbox import SandboxOutcome
from shop.services import orders
from shop.services import payments as payments_service
from shop.web.payments.forms import KlarnaAuthorisedForm, SandboxForm, StartPaymentForm

bp = Blueprint("payments", __name__, url_prefix="/betalning")

#: Klarna's documented origins for the Payments widget (docs.klarna.com, browser security).
KLARNA_CSP = (
    "default-src 'self'; "
    "script-src 'self' https://x.klarnacdn.net https://js.klarna.com "
    "https://js.playground.klarna.com; "
    "style-src 'self' 'unsafe-inline' https://x.klarnacdn.net; "
    "font-src 'self' https://x.klarnacdn.net; "
    "connect-src 'self' https://*.klarna.com https://*.klarnaevt.com https://x.klarnacdn.net; "
    "frame-src https://*.klarna.com https://x.klarnacdn.net; "
    "img-src 'self' data: https://x.klarnacdn.net https://*.klarna.com; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
KLARNA_SDK_URL = "https://x.klarnacdn.net/kp/lib/v1/api.js"

SANDBOX_OUTCOMES = {"pay": SandboxOutcome.PAY, "abort": SandboxOutcome.ABORT}


#: Where the checkout keeps the numbers of the orders this browser placed as a guest.
GUEST_ORDERS_KEY = "guest_orders"


def _order_for_buyer(number: str) -> tuple[Order, str | None]:
    """The order if the visitor may see it, and the guest link token for its URLs; else 404.

    Its logged-in owner may; for a guest order, the signed order link token
    (``t``) or the checkout's note in the session that this browser placed it.
    """
    order = payments_service.find_order(number)
    if order is None:
        abort(404)
    if order.customer_id is not None:
        if current_user.is_authenticated and order.customer_id == current_user.id:
            return order, None
        abort(404)
    token = str(request.values.get("t") or "")
    if token and len(token) <= 500:
        found = orders.order_from_guest_token(token)
        if found is not None and found.id == order.id:
            return order, _guest_token(order)
    if order.number in (session.get(GUEST_ORDERS_KEY) or []):
        return order, _guest_token(order)
    abort(404)


def _token_args(token: str | None) -> dict[str, Any]:
    return {"t": token} if token else {}


def _return_url(order: Order, token: str | None, *, external: bool = False) -> str:
    """The return page; absolute on ``SHOP_BASE_URL`` for providers (the same URL every time,
    so a retried start sends the provider identical parameters)."""
    path = url_for("payments.return_page", number=order.number, **_token_args(token))
    if not external:
        return path
    return str(current_app.config.get("SHOP_BASE_URL") or "").rstrip("/") + path


def _order_page(order: Order, token: str | None) -> str | None:
    """The order page (the orders blueprint), if it is there."""
    try:
        if token:
            return url_for("orders.guest_detail", token=token)
        return url_for("orders.detail", number=order.number)
    except BuildError:
        return None


def _receipt_page(order: Order, token: str | None) -> str | None:
    """The receipt page (the documents blueprint), if it is there."""
    try:
        return url_for("documents.receipt", number=order.number, **_token_args(token))
    except BuildError:
        return None


def _guest_token(order: Order) -> str | None:
    return orders.guest_order_token(order) if order.customer_id is None else None


@bp.post("/<number>/starta")
def go(number: str) -> Response:
    order, token = _order_for_buyer(number)
    form = StartPaymentForm()
    back = _return_url(order, token)
    if not form.validate():
        flash(_("Betalningen kunde inte startas. Försök igen."), "error")
        return redirect(back)
    return_url = _return_url(order, token, external=True)
    try:
        start = payments_service.start_payment(
            order,
            now=clock.now(),
            return_url=return_url,
            cancel_url=return_url,
            method=form.method.data or None,
        )
    except PaymentError as error:
        flash(_(error.message), "error")
        return redirect(back)
    if start.flow is PaymentFlow.WIDGET:
        return redirect(url_for("payments.klarna", number=order.number, **_token_args(token)))
    if start.flow is PaymentFlow.REDIRECT and start.provider == "sandbox":
        return redirect(url_for("payments.sandbox", reference=start.provider_reference))
    if start.flow is PaymentFlow.REDIRECT and start.redirect_url:
        return redirect(start.redirect_url, code=303)
    return redirect(back)


@bp.route("/sandbox/<reference>", methods=["GET", "POST"])
def sandbox(reference: str) -> Response | str:
    page = payments_service.sandbox_payment(reference)
    if page is None:
        abort(404)
    form = SandboxForm()
    if request.method == "POST":
        outcome = SANDBOX_OUTCOMES.get(str(request.form.get("outcome") or ""))
        if not form.validate() or outcome is None:
            flash(_("Välj Genomför testbetalning eller Avbryt."), "error")
            return redirect(url_for("payments.sandbox", reference=reference))
        try:
            payments_service.complete_sandbox_payment(reference, outcome, now=clock.now())
        except PaymentError as error:
            flash(_(error.message), "error")
        return redirect(_return_url(page.order, _guest_token(page.order)))
    return render_template(
        "payments/sandbox.html",
        page=page,
        form=form,
        return_url=_return_url(page.order, _guest_token(page.order)),
        open=page.state is PaymentState.PENDING,
    )


@bp.get("/klarna/<number>")
def klarna(number: str) -> Response | tuple[str, int, dict[str, str]]:
    order, token = _order_for_buyer(number)
    if order.payment_method != "klarna":
        return redirect(_return_url(order, token))
    return_url = _return_url(order, token, external=True)
    try:
        start = payments_service.start_payment(
            order, now=clock.now(), return_url=return_url, cancel_url=return_url
        )
    except PaymentError as error:
        flash(_(error.message), "error")
        return redirect(_return_url(order, token))
    if start.flow is not PaymentFlow.WIDGET or not start.client_token:
        return redirect(_return_url(order, token))
    form = KlarnaAuthorisedForm(t=token or "")
    html = render_template(
        "payments/klarna.html",
        order=order,
        client_token=start.client_token,
        form=form,
        token=token,
        sdk_url=KLARNA_SDK_URL,
        return_url=_return_url(order, token),
    )
    return html, 200, {"Content-Security-Policy": KLARNA_CSP, "Cache-Control": "no-store"}


@bp.post("/klarna/<number>/godkand")
def klarna_authorised(number: str) -> Response:
    order, token = _order_for_buyer(number)
    form = KlarnaAuthorisedForm()
    back = _return_url(order, token)
    if not form.validate():
        flash(_("Klarna svarade inte som väntat. Försök igen."), "error")
        return redirect(url_for("payments.klarna", number=order.number, **_token_args(token)))
    return_url = _return_url(order, token, external=True)
    try:
        payments_service.place_widget_order(
            order,
            str(form.authorization_token.data),
            now=clock.now(),
            return_url=return_url,
            cancel_url=return_url,
        )
    except PaymentError as error:
        flash(_(error.message), "error")
    return redirect(back)


@bp.get("/<number>/retur")
def return_page(number: str) -> tuple[str, int, dict[str, str]]:
    order, token = _order_for_buyer(number)
    state = payments_service.refresh_state(order, now=clock.now())
    payment = payments_service.latest_payment(order)
    pending = order.status == "pending_payment"
    others: list[Any] = []
    if pending and (payment is None or state.is_final):
        others = [
            m
            for m in payments_service.available_methods(order.buyer_kind)
            if m.name not in (order.payment_method, "invoice")
        ]
    html = render_template(
        "payments/return.html",
        order=order,
        state=state,
        payment=payment,
        pending=pending,
        method_label=_(payments_service.method_label(order.payment_method)),
        others=others,
        form=StartPaymentForm(t=token or ""),
        token=token,
        order_url=_order_page(order, token),
        receipt_url=_receipt_page(order, token) if state is PaymentState.PAID else None,
    )
    return html, 200, {"Cache-Control": "no-store"}
