"""Shared test factories for issue 4 (checkout, payments, fulfilment).

Names and keyword arguments are stable: ``make_product``, ``make_customer``,
``make_order``. Everything is committed, so tests can use the rows from a
request or another thread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from typing import Any

from shop.domain.buyers import BuyerKind
from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import Category, Customer, Order, Product, StockLevel
from shop.services import checkout, orders
from shop.services.checkout import CheckoutDetails, PostalAddress
from shop.services.customers import hash_password, new_pseudonym

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PASSWORD = "ett-bra-losenord"
_seq = count(1)


def make_category(slug: str = "noter") -> Category:
    category = db.session.query(Category).filter_by(slug=slug).one_or_none()
    if category is None:
        category = Category(slug=slug, name_sv=slug.capitalize(), name_en=slug.capitalize())
        db.session.add(category)
        db.session.flush()
    return category


def make_product(
    *,
    title: str = "Bach: Cellosviter",
    price_ore: int = 24900,
    vat_rate_bp: int = 600,
    kind: str = "physical",
    stock: int | None = 10,
    weight_g: int = 300,
    size_class: str = "thin",
    active: bool = True,
    **extra: Any,
) -> Product:
    """A product (with a stock level of ``stock`` on hand unless None), committed.

    Downloads and software codes default to no stock level (no stock limit).
    """
    n = next(_seq)
    if kind in ("download", "software_code") and stock == 10:
        stock = None
    product = Product(
        sku=f"SKU-{n}",
        slug=f"produkt-{n}",
        title=title,
        sort_title=title.lower(),
        kind=kind,
        category=make_category(),
        price_ore=price_ore,
        vat_rate_bp=vat_rate_bp,
        weight_g=weight_g,
        size_class=size_class,
        active=active,
        created_at=NOW,
        **extra,
    )
    if stock is not None:
        product.stock = StockLevel(on_hand=stock, reserved=0)
    db.session.add(product)
    db.session.commit()
    return product


def make_customer(
    email: str | None = None,
    password: str = PASSWORD,
    *,
    kind: str = "consumer",
    name: str = "Kim Kund",
    organisation_name: str | None = None,
    organisation_number: str | None = None,
    **extra: Any,
) -> Customer:
    """A customer who can log in with ``password``, committed."""
    n = next(_seq)
    if email is None:
        email = f"kund{n}@example.se"
    if kind == "organisation":
        organisation_name = organisation_name or "Musikskolan AB"
        organisation_number = organisation_number or "556036-0793"
    customer = Customer(
        email=email.lower(),
        name=name,
        password_hash=hash_password(password),
        kind=kind,
        organisation_name=organisation_name,
        organisation_number=organisation_number,
        created_at=NOW,
        adult_confirmed_at=NOW,
        pseudonym=new_pseudonym(),
        **extra,
    )
    db.session.add(customer)
    db.session.commit()
    return customer


#: The path from a placed order to each status (through the transition table).
_STATUS_PATH: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    OrderStatus.PENDING_PAYMENT: (),
    OrderStatus.CONFIRMED: (OrderStatus.CONFIRMED,),
    OrderStatus.CANCELLED: (OrderStatus.CANCELLED,),
    OrderStatus.SHIPPED: (OrderStatus.CONFIRMED, OrderStatus.SHIPPED),
    OrderStatus.PARTLY_SHIPPED: (OrderStatus.CONFIRMED, OrderStatus.PARTLY_SHIPPED),
    OrderStatus.DELIVERED: (OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.DELIVERED),
    OrderStatus.COMPLETED: (
        OrderStatus.CONFIRMED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
    ),
}


def checkout_details(
    *,
    customer: Customer | None = None,
    buyer_kind: str | None = None,
    email: str | None = None,
    payment_method: str = "sandbox",
    delivery_method: str | None = None,
    **overrides: Any,
) -> CheckoutDetails:
    """Valid checkout details for a customer or a guest (an adult; an organisation if asked)."""
    if buyer_kind is None:
        buyer_kind = customer.kind if customer is not None else "consumer"
    organisation = buyer_kind == "organisation"
    address = PostalAddress(
        name="Gösta Gäst", street="Storgatan 1", postcode="111 22", city="Stockholm"
    )
    values: dict[str, Any] = {
        "buyer_kind": BuyerKind(buyer_kind),
        "email": email or (customer.email if customer is not None else "gast@example.se"),
        "name": customer.name if customer is not None else "Gösta Gäst",
        "phone": "070-123 45 67",
        "billing": address,
        "delivery": address,
        "delivery_method": delivery_method,
        "payment_method": payment_method,
        "organisation_name": (
            (customer.organisation_name if customer else None) or "Musikskolan AB"
            if organisation
            else None
        ),
        "organisation_number": (
            (customer.organisation_number if customer else None) or "556036-0793"
            if organisation
            else None
        ),
        "adult_confirmed": True,
        "accepted_terms": True,
    }
    values.update(overrides)
    return CheckoutDetails(**values)


def make_order(
    *,
    customer: Customer | None = None,
    lines: list[tuple[Product, int]] | None = None,
    status: str | OrderStatus = OrderStatus.PENDING_PAYMENT,
    payment_method: str = "sandbox",
    buyer_kind: str | None = None,
    email: str | None = None,
    delivery_method: str | None = None,
    now: datetime = NOW,
    checkout_key: str | None = None,
    **extra: Any,
) -> Order:
    """An order placed through ``checkout.place_order`` (stock reserved), committed.

    ``lines`` defaults to one physical product (2 st). ``delivery_method``
    defaults to the cheapest offered when something ships. ``status`` other
    than pending_payment is reached through ``orders.record_transition``
    (actor "system") with no fulfilment side effects (no receipt, no mail).
    ``extra`` sets further Order attributes afterwards (e.g. ``expires_at``).
    """
    if lines is None:
        lines = [(make_product(), 2)]
    if buyer_kind is None:
        buyer_kind = customer.kind if customer is not None else "consumer"
    cart = {product.id: quantity for product, quantity in lines}
    if delivery_method is None:
        options = checkout.quote(
            cart, buyer_kind=buyer_kind, delivery_method=None, payment_method=None
        ).delivery_options
        delivery_method = options[0].method if options else None
    details = checkout_details(
        customer=customer,
        buyer_kind=buyer_kind,
        email=email,
        payment_method=payment_method,
        delivery_method=delivery_method,
    )
    order = checkout.place_order(
        customer=customer,
        cart_lines=cart,
        details=details,
        checkout_key=checkout_key or f"test-key-{next(_seq)}",
        now=now,
    )
    for step in _STATUS_PATH[OrderStatus(status)]:
        orders.record_transition(order, step, actor="system", now=now)
    for name, value in extra.items():
        setattr(order, name, value)
    db.session.commit()
    return order
