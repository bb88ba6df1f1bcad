"""The cart service: quantities, stock, guest and customer carts, merging, totals.

Rules: T2.1 (VAT per rate, per-line rounding), T2.2 (delivery fee estimate),
T2.3 (no delivery fee for downloads and codes).
"""

from __future__ import annotations

import pytest
from flask import Flask

from shop.extensions import db
from shop.models import CartLine, Customer
from shop.services import cart
from tests import factories
from tests.factories import NOW, PASSWORD, make_product


def make_customer(email: str = "kund@example.se", password: str = PASSWORD) -> Customer:
    """The one customer these tests log in as (the factory numbers its e-mails)."""
    return factories.make_customer(email, password)


# --- Guest carts ----------------------------------------------------------------


def test_guest_add_stores_product_id_and_quantity(app: Flask) -> None:
    product = make_product()
    new_cart, added = cart.guest_add({}, product.id, 2)
    assert new_cart == {str(product.id): 2}
    assert added.id == product.id


def test_guest_add_sums_with_what_is_already_in_the_cart(app: Flask) -> None:
    product = make_product()
    new_cart, _ = cart.guest_add({str(product.id): 2}, product.id, 3)
    assert new_cart == {str(product.id): 5}


def test_adding_more_than_in_stock_is_refused_with_the_count(app: Flask) -> None:
    product = make_product(title="Bach: Cellosviter", stock=3)
    with pytest.raises(cart.NotEnoughStock) as refused:
        cart.guest_add({}, product.id, 4)
    assert refused.value.message == "Det finns bara 3 st i lager av Bach: Cellosviter."


def test_adding_over_stock_counts_what_is_already_in_the_cart(app: Flask) -> None:
    product = make_product(stock=3)
    with pytest.raises(cart.NotEnoughStock) as refused:
        cart.guest_add({str(product.id): 2}, product.id, 2)
    assert "Det finns bara 3 st i lager" in refused.value.message
    assert "Du har redan 2 st i varukorgen." in refused.value.message


def test_reserved_units_are_not_available(app: Flask) -> None:
    product = make_product(stock=3)
    product.stock.reserved = 2
    db.session.commit()
    with pytest.raises(cart.NotEnoughStock, match="bara 1 st"):
        cart.guest_add({}, product.id, 2)


def test_sold_out_product_is_refused(app: Flask) -> None:
    product = make_product(title="Slutsåld", stock=0)
    with pytest.raises(cart.NotEnoughStock, match="Slutsåld är tyvärr slut i lager."):
        cart.guest_add({}, product.id, 1)


@pytest.mark.parametrize("quantity", [0, -1, -100, 100, 10**9])
def test_add_refuses_quantities_out_of_range(app: Flask, quantity: int) -> None:
    product = make_product(stock=1000)
    with pytest.raises(cart.InvalidQuantity):
        cart.guest_add({}, product.id, quantity)


def test_at_most_99_of_one_product_even_with_more_in_stock(app: Flask) -> None:
    product = make_product(stock=500)
    with pytest.raises(cart.InvalidQuantity, match="högst 99 st"):
        cart.guest_add({str(product.id): 90}, product.id, 10)


def test_downloads_without_stock_row_have_no_stock_limit(app: Flask) -> None:
    product = make_product(kind="download", stock=None, weight_g=0)
    new_cart, _ = cart.guest_add({}, product.id, 99)
    assert new_cart == {str(product.id): 99}


def test_inactive_and_unknown_products_cannot_be_added(app: Flask) -> None:
    inactive = make_product(active=False)
    with pytest.raises(cart.ProductNotAvailable):
        cart.guest_add({}, inactive.id, 1)
    with pytest.raises(cart.ProductNotAvailable):
        cart.guest_add({}, 999_999, 1)


def test_guest_update_sets_quantity_and_zero_removes(app: Flask) -> None:
    product = make_product(stock=5)
    raw = {str(product.id): 1}
    assert cart.guest_update(raw, product.id, 4) == {str(product.id): 4}
    assert cart.guest_update(raw, product.id, 0) == {}


@pytest.mark.parametrize("quantity", [-1, 100])
def test_guest_update_refuses_out_of_range(app: Flask, quantity: int) -> None:
    product = make_product(stock=500)
    with pytest.raises(cart.InvalidQuantity):
        cart.guest_update({str(product.id): 1}, product.id, quantity)


def test_guest_update_refuses_more_than_stock(app: Flask) -> None:
    product = make_product(stock=3)
    with pytest.raises(cart.NotEnoughStock, match="bara 3 st"):
        cart.guest_update({str(product.id): 1}, product.id, 4)


def test_guest_remove_works_for_a_product_no_longer_sold(app: Flask) -> None:
    product = make_product(active=False)
    assert cart.guest_remove({str(product.id): 1, "77": 2}, product.id) == {"77": 2}


def test_guest_lines_drop_junk_from_the_session() -> None:
    raw = {"1": 2, "x": 3, "2": -1, "3": 0, "4": 1000, "5": "2", "6": 1.5, "7": True, "8": 99}
    assert cart.guest_lines(raw) == {1: 2, 8: 99}
    assert cart.guest_lines(None) == {}
    assert cart.guest_lines(["1", 2]) == {}
    assert cart.guest_item_count({"1": 2, "8": 3}) == 5


# --- Customer carts ---------------------------------------------------------------


def test_customer_cart_is_kept_in_the_database(app: Flask) -> None:
    customer = make_customer()
    product = make_product(stock=5)
    cart.customer_add(customer.id, product.id, 2, now=NOW)
    cart.customer_add(customer.id, product.id, 1, now=NOW)
    assert cart.customer_lines(customer.id) == {product.id: 3}
    assert cart.customer_item_count(customer.id) == 3
    line = db.session.query(CartLine).one()
    assert line.updated_at == NOW


def test_customer_add_over_stock_is_refused_and_leaves_the_cart(app: Flask) -> None:
    customer = make_customer()
    product = make_product(stock=3)
    cart.customer_add(customer.id, product.id, 2, now=NOW)
    with pytest.raises(cart.NotEnoughStock, match="Du har redan 2 st"):
        cart.customer_add(customer.id, product.id, 2, now=NOW)
    assert cart.customer_lines(customer.id) == {product.id: 2}


def test_customer_update_and_remove(app: Flask) -> None:
    customer = make_customer()
    product = make_product(stock=5)
    other = make_product(stock=5)
    cart.customer_add(customer.id, product.id, 1, now=NOW)
    cart.customer_add(customer.id, other.id, 1, now=NOW)
    cart.customer_update(customer.id, product.id, 5, now=NOW)
    assert cart.customer_lines(customer.id) == {product.id: 5, other.id: 1}
    cart.customer_update(customer.id, product.id, 0, now=NOW)
    cart.customer_remove(customer.id, other.id)
    assert cart.customer_lines(customer.id) == {}
    assert cart.customer_item_count(customer.id) == 0


def test_merge_sums_quantities_and_caps_at_stock(app: Flask) -> None:
    customer = make_customer()
    scarce = make_product(title="Sällsynt", stock=4)
    plenty = make_product(stock=50)
    gone = make_product(active=False)
    cart.customer_add(customer.id, scarce.id, 3, now=NOW)
    notes = cart.merge_guest_cart(
        customer.id, {str(scarce.id): 2, str(plenty.id): 1, str(gone.id): 1}, now=NOW
    )
    db.session.commit()
    assert cart.customer_lines(customer.id) == {scarce.id: 4, plenty.id: 1}
    assert notes == ["Varukorgen har 4 st av Sällsynt: fler finns inte att köpa."]


def test_merge_of_an_empty_guest_cart_changes_nothing(app: Flask) -> None:
    customer = make_customer()
    product = make_product()
    cart.customer_add(customer.id, product.id, 1, now=NOW)
    assert cart.merge_guest_cart(customer.id, None, now=NOW) == []
    assert cart.customer_lines(customer.id) == {product.id: 1}


# --- Totals -----------------------------------------------------------------------


def test_totals_show_vat_per_rate_and_delivery_fee_T2_1_T2_2(app: Flask) -> None:
    book = make_product(price_ore=24900, vat_rate_bp=600, weight_g=300, size_class="thin")
    strings = make_product(price_ore=12500, vat_rate_bp=2500, weight_g=100, size_class="thin")
    summary = cart.summarise({book.id: 2, strings.id: 1})
    assert summary.goods_total_ore == 2 * 24900 + 12500
    # 700 g, all thin: the cheapest is a letter up to 1 000 g: 79 kr.
    assert summary.delivery_fee_ore == 7900
    assert summary.total_ore == 2 * 24900 + 12500 + 7900
    rates = {r.rate_bp: r for r in summary.vat.rates}
    assert rates[600].vat_ore == 2819  # 49 800 * 600 / 10 600, half up
    assert rates[2500].vat_ore == 2500 + 1580  # strings 125 kr + delivery 79 kr at 25 %
    assert summary.vat.total_net_ore + summary.vat.total_vat_ore == summary.total_ore
    assert summary.item_count == 3


def test_digital_only_cart_has_no_delivery_fee_T2_3(app: Flask) -> None:
    download = make_product(kind="download", stock=None, weight_g=0, price_ore=9900)
    code = make_product(kind="software_code", stock=None, weight_g=0, price_ore=49900)
    summary = cart.summarise({download.id: 1, code.id: 1})
    assert summary.delivery_fee_ore is None
    assert summary.total_ore == 9900 + 49900


def test_prices_come_from_the_database(app: Flask) -> None:
    product = make_product(price_ore=10000, kind="download", stock=None)
    assert cart.summarise({product.id: 1}).total_ore == 10000
    product.price_ore = 12000
    db.session.commit()
    assert cart.summarise({product.id: 1}).total_ore == 12000


def test_lines_that_cannot_be_bought_are_flagged_and_left_out_of_totals(app: Flask) -> None:
    gone = make_product(active=False, price_ore=5000)
    short = make_product(stock=1, price_ore=1000, kind="download")
    summary = cart.summarise({gone.id: 1, short.id: 2, 999_999: 1})
    problems = {item.product.id: item.problem for item in summary.items}
    assert "finns inte längre att köpa" in (problems[gone.id] or "")
    assert "bara 1 st" in (problems[short.id] or "")
    assert summary.goods_total_ore == 2000
    assert summary.has_problems
