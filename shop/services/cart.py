"""The cart: guests' carts in the signed session, customers' carts in the database.

A guest cart is a plain mapping ``{"<product_id>": quantity}`` that the view
keeps in the session; the functions here take it and return the new one
(they never touch the session themselves). A customer's cart is rows of
:class:`~shop.models.CartLine`, so it follows them across devices; at login
the guest cart is merged into it (quantities summed, capped at what is in
stock).

Prices always come from the database, never from a form. Totals show the
VAT per rate (T2.1) and an estimated delivery fee, none when only downloads
and codes are in the cart (T2.2, T2.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, inspect, select
from sqlalchemy.exc import IntegrityError

from shop.domain.catalog import ProductKind, SizeClass
from shop.domain.delivery import DeliveryItem, estimate_delivery_fee
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.domain.vat import VatLine, VatSummary, split_vat
from shop.extensions import db
from shop.models import CartLine, Product

#: The most of one product a cart may hold.
MAX_QUANTITY = 99

GuestCart = dict[str, int]


class CartError(Exception):
    """A cart change was refused; ``message`` says why, in Swedish."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProductNotAvailable(CartError):
    """The product does not exist or is no longer sold."""


class InvalidQuantity(CartError):
    """The quantity is out of range (negative, zero when adding, over the maximum)."""


class NotEnoughStock(CartError):
    """More than is in stock."""


# --- Rules shared by both kinds of cart ------------------------------------------


#: ``Session.info`` key: the products :func:`products_by_id` loaded in this session.
_LOADED_PRODUCTS = "shop.cart.products"


def products_by_id(ids: Iterable[int]) -> dict[int, Product]:
    """The products with these ids (missing ones left out), read once per request.

    The cart check, the quote and placing the order each need the cart's
    products, several times in one request. A product this session loaded
    already through here, still in the session and not expired, is reused: a
    second ``SELECT`` would not change it anyway (SQLAlchemy keeps the loaded
    attributes of an object when a query meets its row again). The session
    holds them in ``Session.info`` (its identity map alone keeps only weak
    references). A commit or rollback expires them, so they are read afresh
    after it; a new request has a new session.
    """
    loaded: dict[int, Product] = db.session.info.setdefault(_LOADED_PRODUCTS, {})
    found: dict[int, Product] = {}
    missing: list[int] = []
    for product_id in dict.fromkeys(ids):
        known = loaded.get(product_id)
        if known is not None and known in db.session and not inspect(known).expired_attributes:
            found[product_id] = known
        else:
            missing.append(product_id)
    if missing:
        for product in db.session.scalars(select(Product).where(Product.id.in_(missing))).unique():
            found[product.id] = loaded[product.id] = product
    return found


def get_product(product_id: int) -> Product:
    """An active product, or :class:`ProductNotAvailable`."""
    product = db.session.get(Product, product_id)
    if product is None or not product.active:
        raise ProductNotAvailable(_("Varan finns inte längre att köpa."))
    return product


def check_quantity(product: Product, total: int, *, already: int = 0) -> None:
    """Refuse a cart quantity (the line's new total) that is too big for the product."""
    if total > MAX_QUANTITY:
        raise InvalidQuantity(_("Du kan köpa högst %(max)d st av samma vara.", max=MAX_QUANTITY))
    available = product.available
    if available is None or total <= available:
        return
    if available <= 0:
        raise NotEnoughStock(_("%(title)s är tyvärr slut i lager.", title=product.title))
    message = _(
        "Det finns bara %(count)d st i lager av %(title)s.",
        count=available,
        title=product.title,
    )
    if already:
        message += " " + _("Du har redan %(count)d st i varukorgen.", count=already)
    raise NotEnoughStock(message)


def _require_add_quantity(quantity: int) -> None:
    if quantity < 1 or quantity > MAX_QUANTITY:
        raise InvalidQuantity(_("Ange ett antal från 1 till %(max)d.", max=MAX_QUANTITY))


def _require_update_quantity(quantity: int) -> None:
    if quantity < 0 or quantity > MAX_QUANTITY:
        raise InvalidQuantity(
            _("Ange ett antal från 0 till %(max)d (0 tar bort varan).", max=MAX_QUANTITY)
        )


# --- Guest carts (kept by the view in the session) --------------------------------------


def guest_lines(raw: object) -> dict[int, int]:
    """The valid lines of a session cart as ``{product_id: quantity}``; junk is dropped."""
    lines: dict[int, int] = {}
    if not isinstance(raw, Mapping):
        return lines
    for key, value in raw.items():
        try:
            product_id = int(key)
        except (TypeError, ValueError):
            continue
        if type(value) is int and 0 < value <= MAX_QUANTITY and product_id > 0:
            lines[product_id] = value
    return lines


def _as_guest_cart(lines: Mapping[int, int]) -> GuestCart:
    return {str(product_id): quantity for product_id, quantity in lines.items()}


def guest_add(raw: object, product_id: int, quantity: int) -> tuple[GuestCart, Product]:
    """Add ``quantity`` of a product to a guest cart; returns the new cart and the product."""
    _require_add_quantity(quantity)
    product = get_product(product_id)
    lines = guest_lines(raw)
    already = lines.get(product_id, 0)
    check_quantity(product, already + quantity, already=already)
    lines[product_id] = already + quantity
    return _as_guest_cart(lines), product


def guest_update(raw: object, product_id: int, quantity: int) -> GuestCart:
    """Set a guest cart line's quantity; 0 removes the line."""
    _require_update_quantity(quantity)
    lines = guest_lines(raw)
    if quantity == 0:
        lines.pop(product_id, None)
        return _as_guest_cart(lines)
    product = get_product(product_id)
    check_quantity(product, quantity)
    lines[product_id] = quantity
    return _as_guest_cart(lines)


def guest_remove(raw: object, product_id: int) -> GuestCart:
    """Remove a line from a guest cart (any product, also one no longer sold)."""
    lines = guest_lines(raw)
    lines.pop(product_id, None)
    return _as_guest_cart(lines)


def guest_item_count(raw: object) -> int:
    """Number of items in a guest cart (for the header)."""
    return sum(guest_lines(raw).values())


# --- Customers' carts (in the database) ---------------------------------------------------


def customer_lines(customer_id: int) -> dict[int, int]:
    """A customer's cart as ``{product_id: quantity}``, oldest line first."""
    rows = db.session.execute(
        select(CartLine.product_id, CartLine.quantity)
        .where(CartLine.customer_id == customer_id)
        .order_by(CartLine.id)
    ).all()
    return {product_id: quantity for product_id, quantity in rows}


def customer_item_count(customer_id: int) -> int:
    """Number of items in a customer's cart: one query (for the header)."""
    count = db.session.scalar(
        select(func.coalesce(func.sum(CartLine.quantity), 0)).where(
            CartLine.customer_id == customer_id
        )
    )
    return int(count or 0)


def _line(customer_id: int, product_id: int) -> CartLine | None:
    return db.session.scalar(
        select(CartLine).where(
            CartLine.customer_id == customer_id, CartLine.product_id == product_id
        )
    )


def _set_line(customer_id: int, product_id: int, quantity: int, *, now: datetime) -> None:
    line = _line(customer_id, product_id)
    if line is None:
        db.session.add(
            CartLine(
                customer_id=customer_id, product_id=product_id, quantity=quantity, updated_at=now
            )
        )
    else:
        line.quantity = quantity
        line.updated_at = now


def customer_add(customer_id: int, product_id: int, quantity: int, *, now: datetime) -> Product:
    """Add ``quantity`` of a product to a customer's cart and commit."""
    _require_add_quantity(quantity)
    product = get_product(product_id)
    line = _line(customer_id, product_id)
    already = line.quantity if line is not None else 0
    check_quantity(product, already + quantity, already=already)
    _set_line(customer_id, product_id, already + quantity, now=now)
    try:
        db.session.commit()
    except IntegrityError:
        # The same product was added from another device at the same moment.
        db.session.rollback()
        raise CartError(_("Varukorgen ändrades samtidigt. Försök igen.")) from None
    return product


def customer_update(customer_id: int, product_id: int, quantity: int, *, now: datetime) -> None:
    """Set a customer's cart line quantity (0 removes it) and commit."""
    _require_update_quantity(quantity)
    if quantity == 0:
        customer_remove(customer_id, product_id)
        return
    product = get_product(product_id)
    check_quantity(product, quantity)
    _set_line(customer_id, product_id, quantity, now=now)
    db.session.commit()


def customer_remove(customer_id: int, product_id: int) -> None:
    """Remove a line from a customer's cart and commit."""
    db.session.execute(
        delete(CartLine).where(
            CartLine.customer_id == customer_id, CartLine.product_id == product_id
        )
    )
    db.session.commit()


def merge_guest_cart(customer_id: int, raw: object, *, now: datetime) -> list[str]:
    """Merge a guest cart into a customer's cart at login (the caller commits).

    Quantities of the same product are summed and capped at what is in stock
    (and at :data:`MAX_QUANTITY`); products no longer sold are left out.
    Returns a note per line that could not be merged in full.
    """
    notes: list[str] = []
    incoming = guest_lines(raw)
    if not incoming:
        return notes
    products = {
        p.id: p
        for p in db.session.scalars(select(Product).where(Product.id.in_(incoming))).unique()
    }
    for product_id, quantity in incoming.items():
        product = products.get(product_id)
        if product is None or not product.active:
            continue
        line = _line(customer_id, product_id)
        already = line.quantity if line is not None else 0
        wanted = already + quantity
        limit = MAX_QUANTITY
        if product.available is not None:
            limit = min(limit, max(product.available, 0))
        merged = min(wanted, limit)
        if merged < wanted:
            notes.append(
                _(
                    "Varukorgen har %(count)d st av %(title)s: fler finns inte att köpa.",
                    count=merged,
                    title=product.title,
                )
            )
        if merged <= 0:
            if line is not None:
                db.session.delete(line)
            continue
        _set_line(customer_id, product_id, merged, now=now)
    db.session.flush()
    return notes


# --- The cart as shown ---------------------------------------------------------------------


@dataclass(frozen=True)
class CartItem:
    """One line of the cart page, priced from the database."""

    product: Product
    quantity: int
    #: Why the line cannot be bought as it is (sold out, no longer sold), or None.
    problem: str | None = None

    @property
    def unit_price_ore(self) -> int:
        return self.product.price_ore

    @property
    def line_total_ore(self) -> int:
        return self.product.price_ore * self.quantity

    @property
    def purchasable(self) -> bool:
        return self.product.active


@dataclass(frozen=True)
class CartSummary:
    """The cart with its totals: goods, estimated delivery, VAT per rate (T2.1–T2.3)."""

    items: tuple[CartItem, ...]
    goods_total_ore: int
    #: Cheapest delivery fee, or None when nothing is shipped (T2.3).
    delivery_fee_ore: int | None
    vat: VatSummary

    @property
    def total_ore(self) -> int:
        return self.vat.total_gross_ore

    @property
    def item_count(self) -> int:
        return sum(item.quantity for item in self.items)

    @property
    def is_empty(self) -> bool:
        return not self.items

    @property
    def has_problems(self) -> bool:
        return any(item.problem for item in self.items)


def _problem(product: Product, quantity: int) -> str | None:
    if not product.active:
        return _("Varan finns inte längre att köpa. Ta bort den ur varukorgen.")
    try:
        check_quantity(product, quantity)
    except CartError as error:
        return error.message
    return None


def summarise(lines: Mapping[int, int], *, policy: Policy = DEFAULT_POLICY) -> CartSummary:
    """Price a cart (``{product_id: quantity}``) from the database, with VAT and delivery."""
    products = products_by_id(lines)
    items = tuple(
        CartItem(product=products[pid], quantity=qty, problem=_problem(products[pid], qty))
        for pid, qty in lines.items()
        if pid in products and qty > 0
    )
    return price_items(items, policy=policy)


def price_items(items: Iterable[CartItem], *, policy: Policy = DEFAULT_POLICY) -> CartSummary:
    """Totals for cart items: goods, estimated delivery fee (T2.2, T2.3), VAT per rate (T2.1)."""
    items = tuple(items)
    sellable = [item for item in items if item.purchasable]
    vat_lines = [VatLine(item.line_total_ore, item.product.vat_rate_bp) for item in sellable]
    delivery_items = [
        DeliveryItem(
            kind=ProductKind(item.product.kind),
            weight_g=item.product.weight_g,
            size_class=SizeClass(item.product.size_class),
            quantity=item.quantity,
        )
        for item in sellable
    ]
    delivery_fee: int | None = None
    if any(d.kind.is_shipped for d in delivery_items):
        delivery_fee = estimate_delivery_fee(delivery_items, policy.delivery)
        vat_lines.append(VatLine(delivery_fee, policy.delivery.vat_rate_bp))
    return CartSummary(
        items=items,
        goods_total_ore=sum(item.line_total_ore for item in sellable),
        delivery_fee_ore=delivery_fee,
        vat=split_vat(vat_lines),
    )
