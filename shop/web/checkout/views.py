"""The checkout ("Kassa"): buyer, addresses, delivery, payment, summary, "Slutför köp".

What the buyer has entered is kept server-side in the session under
``checkout`` (the signed session cookie; never prices). Every step checks the
steps before it again and sends the buyer back to the first one that is not
complete (or no longer valid: a cart that changed, a method no longer offered).
The summary shows the numbers from :func:`shop.services.checkout.quote`;
"Slutför köp" posts only a random checkout key (one per summary) and the
acceptance of the terms: :func:`~shop.services.checkout.place_order` computes
everything again, and the same key twice (a double click) makes one order.
"""

from __future__ import annotations

import secrets
from types import ModuleType
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from shop import clock
from shop.domain.buyers import BuyerKind
from shop.domain.invoices import REASON_INVOICE_ORGANISATIONS_ONLY, invoice_offered
from shop.models import Customer, Order
from shop.services import accounts, orders
from shop.services import cart as cart_service
from shop.services import checkout as checkout_service
from shop.services.checkout import CheckoutDetails, CheckoutError, PostalAddress, Quote, SoldOut
from shop.web.cart.views import CART_SESSION_KEY
from shop.web.checkout.forms import (
    AddressForm,
    BuyerForm,
    DeliveryForm,
    PaymentForm,
    PlaceOrderForm,
)

bp = Blueprint("checkout", __name__, url_prefix="/kassa")

STATE_KEY = "checkout"
#: Numbers of the orders this browser placed as a guest (for the thanks page).
GUEST_ORDERS_KEY = "guest_orders"
MAX_GUEST_ORDERS = 5

STEPS = ("buyer", "address", "delivery", "payment", "summary")
#: Where a service error about a field sends the buyer back to.
FIELD_STEP = {
    "email": "buyer",
    "name": "buyer",
    "adult_confirmed": "buyer",
    "organisation_name": "buyer",
    "organisation_number": "buyer",
    "delivery_method": "delivery",
    "payment_method": "payment",
    "cart": None,
}


def _payments() -> ModuleType:
    """The payments service (engineer B's ``shop.services.payments``)."""
    from shop.services import payments

    return payments


# --- State ------------------------------------------------------------------------------


def _state() -> dict[str, Any]:
    raw = session.get(STATE_KEY)
    return dict(raw) if isinstance(raw, dict) else {}


def _save(state: dict[str, Any], *, keep_key: bool = False) -> None:
    """Store the checkout state; any change invalidates the summary's checkout key."""
    if not keep_key:
        state.pop("key", None)
        state.pop("quoted_total", None)
    session[STATE_KEY] = state


def _customer() -> Customer | None:
    return current_user if current_user.is_authenticated else None  # type: ignore[return-value]


def _cart_lines() -> dict[int, int]:
    customer = _customer()
    if customer is not None:
        return cart_service.customer_lines(customer.id)
    return cart_service.guest_lines(session.get(CART_SESSION_KEY))


def _buyer_kind(state: dict[str, Any]) -> BuyerKind:
    buyer = state.get("buyer") or {}
    return BuyerKind(buyer.get("kind", "consumer"))


def _requires_adult_confirmation(customer: Customer | None) -> bool:
    """T1.1: guests tick "Jag är 18 år eller äldre"; customers confirmed it at registration."""
    if customer is None:
        return True
    return customer.birth_date is None and customer.adult_confirmed_at is None


def _available_methods(kind: BuyerKind, state: dict[str, Any]) -> list[Any]:
    methods = list(_payments().available_methods(kind))
    refused = state.get("credit_refused")
    buyer = state.get("buyer") or {}
    if refused and refused == buyer.get("organisation_number"):
        methods = [m for m in methods if m.name != "invoice"]
    return methods


def _quote(state: dict[str, Any], lines: dict[int, int]) -> Quote:
    return checkout_service.quote(
        lines,
        buyer_kind=_buyer_kind(state),
        delivery_method=state.get("delivery_method"),
        payment_method=state.get("payment_method"),
    )


def _address(raw: Any) -> PostalAddress | None:
    if not isinstance(raw, dict):
        return None
    return PostalAddress(
        name=str(raw.get("name", "")),
        street=str(raw.get("street", "")),
        postcode=str(raw.get("postcode", "")),
        city=str(raw.get("city", "")),
    )


def _details(state: dict[str, Any], *, accepted_terms: bool) -> CheckoutDetails:
    buyer = state.get("buyer") or {}
    addresses = state.get("addresses") or {}
    billing = _address(addresses.get("billing")) or PostalAddress("", "", "", "")
    return CheckoutDetails(
        buyer_kind=_buyer_kind(state),
        email=str(buyer.get("email", "")),
        name=str(buyer.get("name", "")),
        phone=buyer.get("phone") or None,
        billing=billing,
        delivery=_address(addresses.get("delivery")),
        delivery_method=state.get("delivery_method"),
        payment_method=str(state.get("payment_method") or ""),
        organisation_name=buyer.get("organisation_name"),
        organisation_number=buyer.get("organisation_number"),
        adult_confirmed=bool(buyer.get("adult_confirmed")),
        accepted_terms=accepted_terms,
        language=str(session.get("lang") or "sv"),
    )


def _go(step: str) -> Response:
    return redirect(url_for(f"checkout.{step}"))


def _guard(step: str) -> tuple[dict[str, Any], dict[int, int], Quote | None] | Response:
    """The state, the cart and (from the delivery step on) its quote, or where to go instead.

    Re-validates every step before ``step``.
    """
    lines = _cart_lines()
    if not lines:
        flash(_("Varukorgen är tom."), "error")
        return redirect(url_for("cart.show"))
    summary = cart_service.summarise(lines)
    # Stock is checked under row locks when the order is placed ("Slut i lager: …").
    if summary.is_empty or not all(item.purchasable for item in summary.items):
        flash(_("Rätta varukorgen innan du går till kassan."), "error")
        return redirect(url_for("cart.show"))
    state = _state()
    order = STEPS.index(step)
    if order > 0 and not state.get("buyer"):
        return _go("buyer")
    if order > 1 and not state.get("addresses"):
        return _go("address")
    quote: Quote | None = None
    if order > 1:
        try:
            quote = checkout_service.quote(
                lines,
                buyer_kind=_buyer_kind(state),
                delivery_method=state.get("delivery_method"),
                payment_method=None,
            )
        except CheckoutError as error:
            flash(error.message, "error")
            if error.field == "delivery_method":
                state.pop("delivery_method", None)
                _save(state)
                return _go("delivery")
            return redirect(url_for("cart.show"))
        addresses = state.get("addresses") or {}
        if quote.needs_delivery and not addresses.get("delivery"):
            return _go("address")
    if order > 2 and quote is not None and quote.needs_delivery and not quote.delivery_method:
        return _go("delivery")
    if order > 3:
        methods = {m.name for m in _available_methods(_buyer_kind(state), state)}
        if state.get("payment_method") not in methods:
            return _go("payment")
    return state, lines, quote


# --- Steps ------------------------------------------------------------------------------


@bp.get("/")
def start() -> Response:
    """ "Till kassan": the first step (every step sends on to the first incomplete one)."""
    return _go("buyer")


@bp.route("/kopare", methods=["GET", "POST"])
def buyer() -> Response | tuple[str, int] | str:
    guarded = _guard("buyer")
    if isinstance(guarded, Response):
        return guarded
    state, _lines, _quote_ = guarded
    customer = _customer()
    require_adult = _requires_adult_confirmation(customer)
    form = BuyerForm(require_adult=require_adult)
    saved = state.get("buyer")
    if not form.is_submitted():
        if saved:
            form.process(data=saved)
        elif customer is not None:
            form.process(
                data={
                    "kind": customer.kind,
                    "email": customer.email,
                    "name": customer.name,
                    "phone": customer.phone or "",
                    "organisation_name": customer.organisation_name or "",
                    "organisation_number": customer.organisation_number or "",
                }
            )
    elif form.validate():
        organisation = form.kind.data == "organisation"
        previous_kind = (saved or {}).get("kind")
        state["buyer"] = {
            "kind": form.kind.data,
            "email": (form.email.data or "").lower(),
            "name": form.name.data,
            "phone": form.phone.data or "",
            "organisation_name": form.organisation_name.data if organisation else None,
            "organisation_number": form.organisation_number.data if organisation else None,
            "adult_confirmed": bool(form.adult_confirmed.data) or not require_adult,
        }
        if previous_kind != form.kind.data:
            state.pop("payment_method", None)
        _save(state)
        return _go("address")
    status = 400 if form.is_submitted() else 200
    html = render_template(
        "checkout/buyer.html", form=form, require_adult=require_adult, step="buyer"
    )
    return html, status


@bp.route("/adress", methods=["GET", "POST"])
def address() -> Response | tuple[str, int]:
    guarded = _guard("address")
    if isinstance(guarded, Response):
        return guarded
    state, lines, _quote_ = guarded
    needs_delivery = checkout_service.quote(
        lines, buyer_kind=_buyer_kind(state), delivery_method=None, payment_method=None
    ).needs_delivery
    form = AddressForm(needs_delivery=needs_delivery)
    if not form.is_submitted():
        saved = state.get("addresses") or {}
        data: dict[str, Any] = {}
        delivery = saved.get("delivery")
        billing = saved.get("billing")
        if not saved:
            customer = _customer()
            own = accounts.delivery_address(customer) if customer is not None else None
            name = (state.get("buyer") or {}).get("name", "")
            delivery = (
                {
                    "name": own.name,
                    "street": own.street,
                    "postcode": own.postcode,
                    "city": own.city,
                }
                if own is not None
                else {"name": name}
            )
            billing = dict(delivery)
        for prefix, values in (("delivery", delivery), ("billing", billing)):
            for part, value in (values or {}).items():
                data[f"{prefix}_{part}"] = value
        data["billing_same"] = saved.get("billing_same", True) if saved else True
        form.process(data=data)
    elif form.validate():
        delivery = form.address("delivery") if needs_delivery else None
        same = bool(form.billing_same.data) and needs_delivery
        billing = dict(delivery) if same and delivery is not None else form.address("billing")
        state["addresses"] = {"delivery": delivery, "billing": billing, "billing_same": same}
        _save(state)
        return _go("delivery" if needs_delivery else "payment")
    status = 400 if form.is_submitted() else 200
    html = render_template(
        "checkout/address.html", form=form, needs_delivery=needs_delivery, step="address"
    )
    return html, status


@bp.route("/leverans", methods=["GET", "POST"])
def delivery() -> Response | tuple[str, int]:
    guarded = _guard("delivery")
    if isinstance(guarded, Response):
        return guarded
    state, _lines, quote = guarded
    assert quote is not None
    if not quote.needs_delivery:
        # Downloads and codes only: no delivery method and no delivery fee (T2.3).
        if state.get("delivery_method") is not None:
            state["delivery_method"] = None
            _save(state)
        return _go("payment")
    form = DeliveryForm()
    form.delivery_method.choices = [
        SelectChoice(o.method, o.label_sv) for o in quote.delivery_options
    ]
    if not form.is_submitted():
        form.delivery_method.data = state.get("delivery_method") or quote.delivery_options[0].method
    elif form.validate():
        state["delivery_method"] = form.delivery_method.data
        _save(state)
        return _go("payment")
    status = 400 if form.is_submitted() else 200
    html = render_template(
        "checkout/delivery.html", form=form, options=quote.delivery_options, step="delivery"
    )
    return html, status


@bp.route("/betalning", methods=["GET", "POST"])
def payment() -> Response | tuple[str, int]:
    guarded = _guard("payment")
    if isinstance(guarded, Response):
        return guarded
    state, lines, quote = guarded
    kind = _buyer_kind(state)
    methods = _available_methods(kind, state)
    form = PaymentForm()
    form.payment_method.choices = [SelectChoice(m.name, m.label_sv) for m in methods]
    refusal: str | None = None
    if not form.is_submitted():
        names = [m.name for m in methods]
        current = state.get("payment_method")
        form.payment_method.data = current if current in names else (names[0] if names else None)
    elif form.validate():
        chosen = form.payment_method.data
        if chosen == "invoice" and not invoice_offered(kind):
            form.payment_method.errors = [REASON_INVOICE_ORGANISATIONS_ONLY]
        elif chosen not in {m.name for m in methods}:
            form.payment_method.errors = [_("Välj ett av betalsätten i listan.")]
        elif chosen == "invoice":
            refusal = _credit_check(state, lines)
            if refusal is None:
                return _choose(state, "invoice")
            methods = _available_methods(kind, state)
            form.payment_method.choices = [SelectChoice(m.name, m.label_sv) for m in methods]
            form.payment_method.data = None
        else:
            return _choose(state, str(chosen))
    status = 400 if form.is_submitted() else 200
    html = render_template(
        "checkout/payment.html",
        form=form,
        methods=methods,
        refusal=refusal,
        quote=quote,
        step="payment",
    )
    return html, status


def _choose(state: dict[str, Any], method: str) -> Response:
    state["payment_method"] = method
    _save(state)
    return _go("summary")


def _credit_check(state: dict[str, Any], lines: dict[int, int]) -> str | None:
    """T3.2: run the credit check for invoice; None if approved, else the Swedish reason."""
    buyer = state.get("buyer") or {}
    quote = checkout_service.quote(
        lines,
        buyer_kind=_buyer_kind(state),
        delivery_method=state.get("delivery_method"),
        payment_method="invoice",
    )
    customer = _customer()
    decision = _payments().check_invoice_credit(
        organisation_number=buyer.get("organisation_number"),
        amount_ore=quote.total_ore,
        customer_id=customer.id if customer is not None else None,
        now=clock.now(),
    )
    if decision.approved:
        state["credit"] = {
            "organisation_number": buyer.get("organisation_number"),
            "amount_ore": quote.total_ore,
        }
        state.pop("credit_refused", None)
        return None
    state["credit_refused"] = buyer.get("organisation_number")
    state.pop("credit", None)
    state.pop("payment_method", None)
    _save(state)
    return str(decision.reason_sv)


def _credit_covers(state: dict[str, Any], quote: Quote) -> bool:
    if quote.payment_method != "invoice":
        return True
    credit = state.get("credit") or {}
    buyer = state.get("buyer") or {}
    return bool(
        credit.get("organisation_number") == buyer.get("organisation_number")
        and int(credit.get("amount_ore") or 0) >= quote.total_ore
    )


@bp.get("/sammanfattning")
def summary() -> Response | tuple[str, int]:
    guarded = _guard("summary")
    if isinstance(guarded, Response):
        return guarded
    state, lines, _quote_ = guarded
    prepared = _prepare_summary(state, lines)
    if isinstance(prepared, Response):
        return prepared
    quote = prepared
    if not state.get("key") or state.get("quoted_total") != quote.total_ore:
        state["key"] = secrets.token_urlsafe(32)
        state["quoted_total"] = quote.total_ore
        _save(state, keep_key=True)
    form = PlaceOrderForm()
    form.checkout_key.data = state["key"]
    problems = [item.problem for item in cart_service.summarise(lines).items if item.problem]
    return _render_summary(state, quote, form, error=" ".join(problems) or None), 200


def _prepare_summary(state: dict[str, Any], lines: dict[int, int]) -> Quote | Response:
    """The summary's quote with the details re-checked, or where to fix them."""
    try:
        quote = _quote(state, lines)
        checkout_service.check_details(
            _details(state, accepted_terms=True),
            needs_delivery=quote.needs_delivery,
            today=clock.today(),
        )
    except CheckoutError as error:
        flash(error.message, "error")
        step = FIELD_STEP.get(error.field or "", "address")
        return redirect(url_for("cart.show")) if step is None else _go(step)
    if not _credit_covers(state, quote):
        flash(_("Beloppet har ändrats: vi behöver göra om kreditkontrollen."), "error")
        state.pop("payment_method", None)
        _save(state)
        return _go("payment")
    return quote


def _render_summary(
    state: dict[str, Any], quote: Quote, form: PlaceOrderForm, *, error: str | None = None
) -> str:
    methods = {m.name: m for m in _available_methods(_buyer_kind(state), state)}
    return render_template(
        "checkout/summary.html",
        form=form,
        quote=quote,
        buyer=state.get("buyer") or {},
        addresses=state.get("addresses") or {},
        payment_method=methods.get(str(state.get("payment_method"))),
        error=error,
        step="summary",
    )


@bp.post("/slutfor")
def place() -> Response | tuple[str, int]:
    """ "Slutför köp": place the order, then start the payment."""
    form = PlaceOrderForm()
    posted_key = str(form.checkout_key.data or "")
    customer = _customer()
    if posted_key:
        existing = checkout_service.order_for_checkout_key(posted_key)
        if existing is not None and _may_see(existing):
            # A double click: the first click placed the order already.
            return redirect(url_for("checkout.thanks", number=existing.number))
    guarded = _guard("summary")
    if isinstance(guarded, Response):
        return guarded
    state, lines, _quote_ = guarded
    prepared = _prepare_summary(state, lines)
    if isinstance(prepared, Response):
        return prepared
    quote = prepared
    if not form.validate():
        form.checkout_key.data = state.get("key") or ""
        return _render_summary(state, quote, form), 400
    if posted_key != state.get("key") or state.get("quoted_total") != quote.total_ore:
        form.checkout_key.data = ""
        flash(_("Varukorgen eller priserna har ändrats. Kontrollera sammanfattningen igen."))
        return redirect(url_for("checkout.summary"))
    now = clock.now()
    try:
        order = checkout_service.place_order(
            customer=customer,
            cart_lines=lines,
            details=_details(state, accepted_terms=True),
            checkout_key=posted_key,
            now=now,
        )
    except SoldOut as error:
        return _render_summary(state, quote, form, error=error.message), 409
    except CheckoutError as error:
        flash(error.message, "error")
        step = FIELD_STEP.get(error.field or "", "summary")
        return redirect(url_for("cart.show")) if step is None else _go(step)
    _after_placing(order)
    return _start_payment(order, now=now)


def _after_placing(order: Order) -> None:
    session.pop(STATE_KEY, None)
    if order.customer_id is None:
        session.pop(CART_SESSION_KEY, None)
        numbers = [n for n in session.get(GUEST_ORDERS_KEY, []) if isinstance(n, str)]
        session[GUEST_ORDERS_KEY] = [*numbers, order.number][-MAX_GUEST_ORDERS:]


def _start_payment(order: Order, *, now: Any) -> Response:
    """Start paying the placed order and send the buyer where the provider says."""
    from shop.payments.base import PaymentFlow
    from shop.payments.errors import PaymentError

    token = _guest_args(order)
    thanks = url_for("checkout.thanks", number=order.number)
    return_url = _external("payments.return_page", number=order.number, **token)
    try:
        start = _payments().start_payment(
            order, now=now, return_url=return_url, cancel_url=return_url
        )
    except PaymentError as error:
        # The order stays unpaid (its stock is released on expiry); the page says why.
        flash(_(error.message), "error")
        return redirect(thanks)
    if start.flow is PaymentFlow.WIDGET:
        return redirect(url_for("payments.klarna", number=order.number, **token))
    if start.flow is PaymentFlow.REDIRECT and start.provider == "sandbox":
        return redirect(url_for("payments.sandbox", reference=start.provider_reference))
    if start.flow is PaymentFlow.REDIRECT and start.redirect_url:
        return redirect(start.redirect_url, code=303)
    return redirect(thanks)


def _guest_args(order: Order) -> dict[str, Any]:
    """``t=<signed guest token>`` for B's payment pages when a guest placed the order."""
    return {"t": orders.guest_order_token(order)} if order.customer_id is None else {}


def _external(endpoint: str, **values: Any) -> str:
    base = str(current_app.config.get("SHOP_BASE_URL") or "").rstrip("/")
    return base + url_for(endpoint, **values)


def _may_see(order: Order) -> bool:
    customer = _customer()
    if order.customer_id is not None:
        return customer is not None and customer.id == order.customer_id
    return order.number in (session.get(GUEST_ORDERS_KEY) or [])


@bp.get("/tack/<number>")
def thanks(number: str) -> str:
    """ "Tack för din beställning": the real payment state (asked, never assumed)."""
    order = orders.order_by_number(number)
    if order is None or not _may_see(order):
        abort(404)
    state = _payments().refresh_state(order, now=clock.now())
    guest_link = None
    if order.customer_id is None:
        guest_link = _external("orders.guest_detail", token=orders.guest_order_token(order))
    return render_template(
        "checkout/thanks.html",
        order=order,
        payment_state=getattr(state, "value", str(state)),
        guest_link=guest_link,
        payment_args=_guest_args(order),
    )
