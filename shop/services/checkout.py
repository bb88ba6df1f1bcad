"""Checkout: price a cart for the summary, and place the order (issue 4).

Prices, VAT rates, fees and quantities always come from the database and
the shop's policy, never from a form (a tampered post changes nothing).
:func:`quote` computes what the summary page shows; :func:`place_order`
computes the very same numbers again inside one transaction, reserves the
stock under row locks and writes the order.

Rules: T1.1 (buyer 18+), T1.2 (organisation number), T2.1 (VAT per rate,
rounded per line), T2.2 (delivery fee from the rate table), T2.3 (no
delivery fee for downloads and codes), T3.2 (invoice for organisations
only), T3.3 (invoice fee as its own line).

Stock: the :class:`~shop.models.StockLevel` rows of the shipped goods are
locked ``FOR UPDATE`` in product-id order (PostgreSQL; on SQLite the write
lock serialises writers) and reserved with a conditional ``UPDATE`` so that
stock is never oversold and never negative. Downloads and codes have no
stock limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from shop import clock
from shop.domain.buyers import BuyerKind, normalise_org_number, require_adult_buyer
from shop.domain.catalog import ProductKind, SizeClass
from shop.domain.delivery import DeliveryItem, DeliveryOption, delivery_options
from shop.domain.errors import DomainError, InvalidOrganisationNumber
from shop.domain.fees import FeeLine
from shop.domain.invoices import (
    REASON_INVOICE_ORGANISATIONS_ONLY,
    invoice_fee_line,
    invoice_offered,
)
from shop.domain.lifecycle import OrderStatus
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.domain.vat import VatLine, VatSummary, split_vat, vat_of_gross
from shop.extensions import db
from shop.models import (
    CartLine,
    Customer,
    Order,
    OrderFee,
    OrderLine,
    StockLevel,
    StockMovement,
)
from shop.services import numbering, stock
from shop.services.accounts import AccountError, normalise_postcode
from shop.services.cart import MAX_QUANTITY, products_by_id

#: Default minutes an order may stay unpaid before ``flask orders expire`` cancels it.
DEFAULT_PAYMENT_TIMEOUT_MINUTES = 30
#: The order number series and its first number.
ORDER_SERIES = "order"
ORDER_NUMBER_START = 100001
#: The payment methods an order may carry (the ``payments`` service decides which are offered).
PAYMENT_METHODS = ("card", "swish", "klarna", "invoice", "sandbox")


class CheckoutError(Exception):
    """A checkout was refused; ``message`` (Swedish) says why, ``field`` where."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SoldOut(CheckoutError):
    """Not enough stock left for a shipped line when placing the order."""

    def __init__(self, product_title: str) -> None:
        super().__init__(_("Slut i lager: %(title)s", title=product_title), field="stock")
        self.product_title = product_title


# --- Quote ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteLine:
    """A cart line to price: which product, how many. Nothing else is taken from the buyer."""

    product_id: int
    quantity: int


@dataclass(frozen=True)
class QuotedLine:
    """A line priced from the database (snapshot values for the order line)."""

    product_id: int
    sku: str
    title: str
    slug: str
    kind: ProductKind
    unit_price_ore: int
    quantity: int
    vat_rate_bp: int
    weight_g: int
    size_class: SizeClass

    @property
    def total_ore(self) -> int:
        return self.unit_price_ore * self.quantity

    @property
    def vat_ore(self) -> int:
        """VAT in the line total, rounded per line (T2.1)."""
        return vat_of_gross(self.total_ore, self.vat_rate_bp)


@dataclass(frozen=True)
class Quote:
    """What the order will cost: lines, fees as their own lines, VAT per rate, total."""

    lines: tuple[QuotedLine, ...]
    fees: tuple[FeeLine, ...]
    vat: VatSummary
    #: The delivery methods on offer for these lines, cheapest first; empty when nothing ships.
    delivery_options: tuple[DeliveryOption, ...]
    delivery_method: str | None
    payment_method: str | None

    @property
    def needs_delivery(self) -> bool:
        """False for an order of only downloads and codes (T2.3)."""
        return any(line.kind.is_shipped for line in self.lines)

    @property
    def goods_total_ore(self) -> int:
        return sum(line.total_ore for line in self.lines)

    @property
    def total_ore(self) -> int:
        return self.vat.total_gross_ore

    @property
    def vat_ore(self) -> int:
        return self.vat.total_vat_ore

    @property
    def delivery_option(self) -> DeliveryOption | None:
        return next((o for o in self.delivery_options if o.method == self.delivery_method), None)


def as_quote_lines(cart_lines: Mapping[int, int] | Iterable[QuoteLine]) -> list[QuoteLine]:
    """Cart lines (``{product_id: quantity}`` as the cart service keeps them) as quote lines."""
    if isinstance(cart_lines, Mapping):
        return [QuoteLine(int(pid), int(qty)) for pid, qty in cart_lines.items()]
    return list(cart_lines)


def _load_lines(lines: list[QuoteLine]) -> tuple[QuotedLine, ...]:
    if not lines:
        raise CheckoutError(_("Varukorgen är tom."), field="cart")
    wanted: dict[int, int] = {}
    for line in lines:
        if type(line.quantity) is not int or not 0 < line.quantity <= MAX_QUANTITY:
            raise CheckoutError(
                _("Ange ett antal från 1 till %(max)d.", max=MAX_QUANTITY), field="cart"
            )
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    products = products_by_id(wanted)
    quoted: list[QuotedLine] = []
    for product_id, quantity in wanted.items():
        product = products.get(product_id)
        if product is None or not product.active:
            title = product.title if product is not None else _("en vara")
            raise CheckoutError(
                _(
                    "%(title)s finns inte längre att köpa. Ta bort varan ur varukorgen.",
                    title=title,
                ),
                field="cart",
            )
        quoted.append(
            QuotedLine(
                product_id=product.id,
                sku=product.sku,
                title=product.title,
                slug=product.slug,
                kind=ProductKind(product.kind),
                unit_price_ore=product.price_ore,
                quantity=quantity,
                vat_rate_bp=product.vat_rate_bp,
                weight_g=product.weight_g,
                size_class=SizeClass(product.size_class),
            )
        )
    return tuple(quoted)


def _delivery_items(lines: Iterable[QuotedLine]) -> list[DeliveryItem]:
    return [
        DeliveryItem(
            kind=line.kind,
            weight_g=line.weight_g,
            size_class=line.size_class,
            quantity=line.quantity,
        )
        for line in lines
    ]


def quote(
    lines: Mapping[int, int] | Iterable[QuoteLine],
    *,
    buyer_kind: BuyerKind | str,
    delivery_method: str | None,
    payment_method: str | None,
    policy: Policy = DEFAULT_POLICY,
) -> Quote:
    """Price ``lines`` from the database with their fees and VAT per rate (T2.1–T2.3, T3.3).

    The delivery fee is the chosen method's fee from the rate table; none when
    nothing is shipped (T2.3) or no method is chosen yet. Invoice (organisations
    only, T3.2) adds the invoice fee as its own line (T3.3). Raises
    :class:`CheckoutError` for an empty cart, a product no longer sold, an
    unknown delivery method or invoice for a consumer.
    """
    kind = BuyerKind(buyer_kind)
    quoted = _load_lines(as_quote_lines(lines))
    options = delivery_options(_delivery_items(quoted), policy.delivery)
    fees: list[FeeLine] = []
    chosen: str | None = None
    if options and delivery_method is not None:
        option = next((o for o in options if o.method == delivery_method), None)
        if option is None:
            raise CheckoutError(_("Välj ett av leveranssätten i listan."), field="delivery_method")
        fees.append(option.fee_line)
        chosen = option.method
    if payment_method == "invoice":
        if not invoice_offered(kind):
            raise CheckoutError(REASON_INVOICE_ORGANISATIONS_ONLY, field="payment_method")
        fees.append(invoice_fee_line(policy=policy))
    vat_lines = [VatLine(line.total_ore, line.vat_rate_bp) for line in quoted]
    vat_lines += [fee.vat_line for fee in fees]
    return Quote(
        lines=quoted,
        fees=tuple(fees),
        vat=split_vat(vat_lines),
        delivery_options=options,
        delivery_method=chosen,
        payment_method=payment_method,
    )


# --- Buyer details -----------------------------------------------------------------------


@dataclass(frozen=True)
class PostalAddress:
    name: str
    street: str
    postcode: str
    city: str


@dataclass(frozen=True)
class CheckoutDetails:
    """What the checkout steps collected (re-validated by :func:`check_details`)."""

    buyer_kind: BuyerKind
    email: str
    name: str
    phone: str | None
    billing: PostalAddress
    payment_method: str
    #: None for a digital-only order (T2.3).
    delivery: PostalAddress | None = None
    delivery_method: str | None = None
    organisation_name: str | None = None
    organisation_number: str | None = None
    #: T1.1: the buyer ticked "Jag är 18 år eller äldre" (or is a customer who confirmed it).
    adult_confirmed: bool = False
    birth_date: date | None = None
    #: "Jag har läst och godkänner köpvillkoren".
    accepted_terms: bool = False
    language: str = "sv"


def postcode(raw: str, *, field: str = "postcode") -> str:
    """A Swedish postcode (5 digits, optional space) normalised to ``NNN NN``."""
    try:
        return normalise_postcode(raw or "")
    except AccountError as error:
        raise CheckoutError(error.message, field=field) from None


def _address(address: PostalAddress | None, prefix: str) -> PostalAddress:
    if address is None:
        raise CheckoutError(_("Ange en adress."), field=f"{prefix}_street")
    values = {}
    for name in ("name", "street", "city"):
        value = (getattr(address, name) or "").strip()
        if not value:
            raise CheckoutError(_("Fyll i hela adressen."), field=f"{prefix}_{name}")
        values[name] = value
    return PostalAddress(
        name=values["name"][:200],
        street=values["street"][:200],
        postcode=postcode(address.postcode, field=f"{prefix}_postcode"),
        city=values["city"][:100],
    )


def check_details(
    details: CheckoutDetails, *, needs_delivery: bool, today: date
) -> CheckoutDetails:
    """The details, normalised, or :class:`CheckoutError` (T1.1, T1.2, T3.2, postcodes, terms)."""
    kind = BuyerKind(details.buyer_kind)
    email = (details.email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise CheckoutError(_("Ange en giltig e-postadress, t.ex. namn@exempel.se."), field="email")
    name = (details.name or "").strip()
    if not name:
        raise CheckoutError(_("Ange ditt namn."), field="name")
    try:
        require_adult_buyer(details.birth_date, details.adult_confirmed, today)
    except DomainError as error:
        raise CheckoutError(error.message, field="adult_confirmed") from None
    organisation_name = organisation_number = None
    if kind is BuyerKind.ORGANISATION:
        organisation_name = (details.organisation_name or "").strip()
        if not organisation_name:
            raise CheckoutError(_("Ange organisationens namn."), field="organisation_name")
        try:
            organisation_number = normalise_org_number(details.organisation_number or "")
        except InvalidOrganisationNumber as error:
            raise CheckoutError(error.message, field="organisation_number") from None
    if details.payment_method not in PAYMENT_METHODS:
        raise CheckoutError(_("Välj ett av betalsätten i listan."), field="payment_method")
    if details.payment_method == "invoice" and not invoice_offered(kind):
        raise CheckoutError(REASON_INVOICE_ORGANISATIONS_ONLY, field="payment_method")
    if not details.accepted_terms:
        raise CheckoutError(
            _("Du måste godkänna köpvillkoren för att slutföra köpet."), field="accept_terms"
        )
    return CheckoutDetails(
        buyer_kind=kind,
        email=email,
        name=name[:200],
        phone=(details.phone or "").strip()[:40] or None,
        billing=_address(details.billing, "billing"),
        delivery=_address(details.delivery, "delivery") if needs_delivery else None,
        delivery_method=details.delivery_method if needs_delivery else None,
        payment_method=details.payment_method,
        organisation_name=organisation_name,
        organisation_number=organisation_number,
        adult_confirmed=details.adult_confirmed,
        birth_date=details.birth_date,
        accepted_terms=True,
        language=details.language if details.language in ("sv", "en") else "sv",
    )


# --- Placing the order -------------------------------------------------------------------


def order_for_checkout_key(checkout_key: str) -> Order | None:
    """The order already placed with this checkout key (a double-clicked "Slutför köp")."""
    return db.session.scalar(select(Order).where(Order.checkout_key == checkout_key))


def payment_timeout() -> timedelta:
    minutes = current_app.config.get(
        "ORDER_PAYMENT_TIMEOUT_MINUTES", DEFAULT_PAYMENT_TIMEOUT_MINUTES
    )
    return timedelta(minutes=int(minutes))


def _reserve_stock(lines: tuple[QuotedLine, ...]) -> list[tuple[int, int]]:
    """Reserve the shipped lines' stock under row locks in product-id order.

    Returns ``(product_id, quantity)`` per reservation, or raises :class:`SoldOut`
    (the caller rolls back). Downloads and codes have no stock limit.
    """
    shipped = sorted((line for line in lines if line.kind.is_shipped), key=lambda x: x.product_id)
    if not shipped:
        return []
    ids = [line.product_id for line in shipped]
    levels = stock.lock_levels(ids)
    for line in shipped:
        level = levels.get(line.product_id)
        if level is None or level.on_hand - level.reserved < line.quantity:
            raise SoldOut(line.title)
    for line in shipped:
        # Conditional, so stock is never oversold even where FOR UPDATE is a no-op (SQLite).
        result = db.session.execute(
            update(StockLevel)
            .where(
                StockLevel.product_id == line.product_id,
                StockLevel.on_hand - StockLevel.reserved >= line.quantity,
            )
            .values(reserved=StockLevel.reserved + line.quantity)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise SoldOut(line.title)
    for level in levels.values():
        db.session.expire(level)
    return [(line.product_id, line.quantity) for line in shipped]


def place_order(
    *,
    customer: Customer | None,
    cart_lines: Mapping[int, int] | Iterable[QuoteLine],
    details: CheckoutDetails,
    checkout_key: str,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> Order:
    """Place the order in one transaction and commit; returns it (status pending_payment).

    Re-reads prices, re-validates the details, locks and reserves stock
    (:class:`SoldOut` otherwise, nothing written), numbers the order, writes
    lines and fees as snapshots, and empties the customer's cart (a guest's
    session cart is emptied by the view). The same ``checkout_key`` again
    returns the order already placed: a double click makes one order.
    """
    if not checkout_key or len(checkout_key) > 64:
        raise CheckoutError(_("Kassan har löpt ut. Gå igenom sammanfattningen igen."))
    existing = order_for_checkout_key(checkout_key)
    if existing is not None:
        return _same_buyer(existing, customer)
    today = clock.local_date(now)
    quoted = quote(
        cart_lines,
        buyer_kind=details.buyer_kind,
        delivery_method=details.delivery_method,
        payment_method=details.payment_method,
        policy=policy,
    )
    if quoted.needs_delivery and quoted.delivery_method is None:
        raise CheckoutError(_("Välj ett leveranssätt."), field="delivery_method")
    clean = check_details(details, needs_delivery=quoted.needs_delivery, today=today)
    try:
        reserved = _reserve_stock(quoted.lines)
        order = _build_order(customer, quoted, clean, checkout_key, now, policy)
        order.number = str(numbering.next_number(ORDER_SERIES, start=ORDER_NUMBER_START))
        db.session.add(order)
        db.session.flush()
        for product_id, quantity in reserved:
            db.session.add(
                StockMovement(
                    product_id=product_id,
                    order_id=order.id,
                    kind="reserve",
                    quantity=quantity,
                    at=now,
                )
            )
        if customer is not None:
            ordered = [line.product_id for line in quoted.lines]
            db.session.execute(
                delete(CartLine).where(
                    CartLine.customer_id == customer.id, CartLine.product_id.in_(ordered)
                )
            )
            customer.last_activity_on = today
        db.session.flush()
    except SoldOut:
        db.session.rollback()
        raise
    except IntegrityError:
        # The same checkout key was placed by a parallel request (a double click).
        db.session.rollback()
        existing = order_for_checkout_key(checkout_key)
        if existing is None:
            raise
        return _same_buyer(existing, customer)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return order


def _same_buyer(order: Order, customer: Customer | None) -> Order:
    if order.customer_id != (customer.id if customer is not None else None):
        raise CheckoutError(_("Kassan har löpt ut. Gå igenom sammanfattningen igen."))
    return order


def _build_order(
    customer: Customer | None,
    quoted: Quote,
    details: CheckoutDetails,
    checkout_key: str,
    now: datetime,
    policy: Policy,
) -> Order:
    delivery = details.delivery
    order = Order(
        customer_id=customer.id if customer is not None else None,
        checkout_key=checkout_key,
        buyer_kind=details.buyer_kind.value,
        email=details.email,
        name=details.name,
        phone=details.phone,
        organisation_name=details.organisation_name,
        organisation_number=details.organisation_number,
        delivery_name=delivery.name if delivery else None,
        delivery_street=delivery.street if delivery else None,
        delivery_postcode=delivery.postcode if delivery else None,
        delivery_city=delivery.city if delivery else None,
        billing_name=details.billing.name,
        billing_street=details.billing.street,
        billing_postcode=details.billing.postcode,
        billing_city=details.billing.city,
        country="SE",
        language=details.language,
        status=OrderStatus.PENDING_PAYMENT.value,
        payment_method=details.payment_method,
        delivery_method=quoted.delivery_method,
        terms_version=policy.terms_version,
        total_ore=quoted.total_ore,
        vat_ore=quoted.vat_ore,
        placed_at=now,
        expires_at=now + payment_timeout(),
    )
    for line in quoted.lines:
        order.lines.append(
            OrderLine(
                product_id=line.product_id,
                sku=line.sku,
                title=line.title,
                kind=line.kind.value,
                unit_price_ore=line.unit_price_ore,
                quantity=line.quantity,
                total_ore=line.total_ore,
                vat_rate_bp=line.vat_rate_bp,
                vat_ore=line.vat_ore,
            )
        )
    for fee in quoted.fees:
        order.fees.append(
            OrderFee(
                kind=fee.kind.value,
                label=fee.label_sv,
                amount_ore=fee.amount_ore,
                vat_rate_bp=fee.vat_rate_bp,
                vat_ore=fee.vat_line.vat_ore,
                created_at=now,
            )
        )
    return order


def order_vat(order: Order) -> VatSummary:
    """VAT per rate of a placed order from its snapshot lines and fees (T2.1)."""
    lines: list[Any] = [VatLine(line.total_ore, line.vat_rate_bp) for line in order.lines]
    lines += [VatLine(fee.amount_ore, fee.vat_rate_bp) for fee in order.fees]
    return split_vat(lines)
