"""The checkout service: quotes, buyer details and placing orders.

Rules: T1.1 (18+), T1.2 (organisation number), T2.1 (VAT per rate, per-line
rounding), T2.2 (delivery fee from the rate table), T2.3 (no delivery fee for
downloads and codes), T3.2 (invoice for organisations only), T3.3 (invoice fee).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from shop.domain.buyers import BuyerKind
from shop.domain.fees import FeeKind
from shop.domain.policy import DEFAULT_POLICY
from shop.extensions import db
from shop.models import CartLine, Order, OrderFee, OrderLine, StockLevel, StockMovement
from shop.services import checkout
from shop.services.checkout import CheckoutError, QuoteLine, SoldOut
from tests.factories import NOW, checkout_details, make_customer, make_product


def stock(product_id: int) -> tuple[int, int]:
    level = db.session.get(StockLevel, product_id, populate_existing=True)
    assert level is not None
    return level.on_hand, level.reserved


# --- quote ------------------------------------------------------------------------------


def test_quote_splits_vat_per_rate_with_per_line_rounding_and_odd_ore_T2_1(app: Flask) -> None:
    book = make_product(title="Partitur", price_ore=12345, vat_rate_bp=600, stock=5)
    strings = make_product(title="Strängar", price_ore=9999, vat_rate_bp=2500, stock=5)
    quote = checkout.quote(
        [QuoteLine(book.id, 1), QuoteLine(strings.id, 3)],
        buyer_kind="consumer",
        delivery_method=None,
        payment_method=None,
    )
    # 12 345 öre at 6 %: 12345 × 600 / 10600 = 698.77 → 699 öre
    # 3 × 9 999 = 29 997 öre at 25 %: 29997 / 5 = 5999.4 → 5 999 öre
    rates = {rate.rate_bp: rate for rate in quote.vat.rates}
    assert rates[600].vat_ore == 699
    assert rates[600].net_ore == 12345 - 699
    assert rates[2500].vat_ore == 5999
    assert rates[2500].gross_ore == 29997
    assert quote.total_ore == 12345 + 29997 == quote.goods_total_ore
    assert quote.vat_ore == 699 + 5999
    assert quote.vat.total_net_ore + quote.vat_ore == quote.total_ore
    assert [line.vat_ore for line in quote.lines] == [699, 5999]


def test_quote_adds_the_chosen_delivery_fee_as_its_own_line_T2_2(app: Flask) -> None:
    product = make_product(price_ore=24900, vat_rate_bp=600, weight_g=300, size_class="thin")
    quote = checkout.quote(
        {product.id: 1}, buyer_kind="consumer", delivery_method="letter", payment_method=None
    )
    assert [o.method for o in quote.delivery_options][0] == "letter"
    assert [(f.kind, f.amount_ore, f.vat_rate_bp) for f in quote.fees] == [
        (FeeKind.DELIVERY, 5900, 2500)
    ]
    assert quote.total_ore == 24900 + 5900
    assert {r.rate_bp: r.vat_ore for r in quote.vat.rates} == {2500: 1180, 600: 1409}


def test_quote_for_downloads_and_codes_only_has_no_delivery_fee_T2_3(app: Flask) -> None:
    download = make_product(kind="download", price_ore=9900, vat_rate_bp=600)
    code = make_product(kind="software_code", price_ore=49900, vat_rate_bp=2500)
    quote = checkout.quote(
        {download.id: 1, code.id: 2},
        buyer_kind="consumer",
        delivery_method="letter",  # ignored: nothing is shipped
        payment_method="card",
    )
    assert not quote.needs_delivery
    assert quote.delivery_options == ()
    assert quote.fees == ()
    assert quote.delivery_method is None
    assert quote.total_ore == 9900 + 2 * 49900


def test_quote_adds_the_invoice_fee_line_for_organisations_T3_3(app: Flask) -> None:
    product = make_product(price_ore=10000, vat_rate_bp=600)
    quote = checkout.quote(
        {product.id: 1},
        buyer_kind=BuyerKind.ORGANISATION,
        delivery_method="letter",
        payment_method="invoice",
    )
    invoice_fee = [f for f in quote.fees if f.kind is FeeKind.INVOICE]
    assert len(invoice_fee) == 1
    assert invoice_fee[0].amount_ore == DEFAULT_POLICY.invoice_fee_ore == 1900
    assert invoice_fee[0].vat_rate_bp == 2500
    assert invoice_fee[0].label_sv == "Fakturaavgift"
    assert quote.total_ore == 10000 + 5900 + 1900


def test_quote_refuses_invoice_for_a_consumer_T3_2(app: Flask) -> None:
    product = make_product()
    with pytest.raises(CheckoutError) as error:
        checkout.quote(
            {product.id: 1}, buyer_kind="consumer", delivery_method=None, payment_method="invoice"
        )
    assert error.value.field == "payment_method"
    assert "endast väljas av organisationer" in error.value.message


def test_quote_refuses_an_unknown_delivery_method_and_products_no_longer_sold(app: Flask) -> None:
    product = make_product()
    with pytest.raises(CheckoutError) as error:
        checkout.quote(
            {product.id: 1}, buyer_kind="consumer", delivery_method="drone", payment_method=None
        )
    assert error.value.field == "delivery_method"
    gone = make_product(title="Utgången", active=False)
    with pytest.raises(CheckoutError, match="Utgången finns inte längre att köpa"):
        checkout.quote(
            {gone.id: 1}, buyer_kind="consumer", delivery_method=None, payment_method=None
        )
    with pytest.raises(CheckoutError, match="Varukorgen är tom"):
        checkout.quote({}, buyer_kind="consumer", delivery_method=None, payment_method=None)
    with pytest.raises(CheckoutError, match="Ange ett antal"):
        checkout.quote(
            {product.id: 0}, buyer_kind="consumer", delivery_method=None, payment_method=None
        )


# --- details ----------------------------------------------------------------------------


def test_details_need_an_age_confirmation_T1_1(app: Flask) -> None:
    details = checkout_details(adult_confirmed=False)
    with pytest.raises(CheckoutError) as error:
        checkout.check_details(details, needs_delivery=True, today=date(2026, 11, 23))
    assert error.value.field == "adult_confirmed"
    assert "18" in error.value.message
    minor = checkout_details(adult_confirmed=True, birth_date=date(2010, 1, 1))
    with pytest.raises(CheckoutError):
        checkout.check_details(minor, needs_delivery=True, today=date(2026, 11, 23))


def test_details_validate_and_normalise_the_organisation_number_T1_2(app: Flask) -> None:
    details = checkout_details(buyer_kind="organisation", organisation_number="5560360793")
    clean = checkout.check_details(details, needs_delivery=True, today=date(2026, 11, 23))
    assert clean.organisation_number == "556036-0793"
    bad = checkout_details(buyer_kind="organisation", organisation_number="556036-0794")
    with pytest.raises(CheckoutError) as error:
        checkout.check_details(bad, needs_delivery=True, today=date(2026, 11, 23))
    assert error.value.field == "organisation_number"


def test_details_normalise_swedish_postcodes_and_refuse_bad_ones(app: Flask) -> None:
    details = checkout_details()
    moved = replace(details, billing=replace(details.billing, postcode="41101"))
    clean = checkout.check_details(moved, needs_delivery=False, today=date(2026, 11, 23))
    assert clean.billing.postcode == "411 01"
    assert clean.delivery is None  # digital-only orders keep no delivery address (T2.3)
    for bad in ("4110", "411 0A", "123456", ""):
        broken = replace(details, delivery=replace(details.billing, postcode=bad))
        with pytest.raises(CheckoutError) as error:
            checkout.check_details(broken, needs_delivery=True, today=date(2026, 11, 23))
        assert error.value.field == "delivery_postcode"


def test_details_need_the_terms_accepted(app: Flask) -> None:
    with pytest.raises(CheckoutError) as error:
        checkout.check_details(
            checkout_details(accepted_terms=False), needs_delivery=True, today=date(2026, 11, 23)
        )
    assert error.value.field == "accept_terms"
    assert error.value.message == "Du måste godkänna köpvillkoren för att slutföra köpet."


# --- place_order ------------------------------------------------------------------------


def place(customer=None, cart=None, key="key-1", **overrides):  # type: ignore[no-untyped-def]
    details = checkout_details(customer=customer, **overrides)
    return checkout.place_order(
        customer=customer, cart_lines=cart, details=details, checkout_key=key, now=NOW
    )


def test_place_order_snapshots_lines_fees_terms_and_reserves_stock_T2_1(app: Flask) -> None:
    customer = make_customer()
    product = make_product(title="Bach: Cellosviter", price_ore=24900, vat_rate_bp=600, stock=4)
    db.session.add(
        CartLine(customer_id=customer.id, product_id=product.id, quantity=2, updated_at=NOW)
    )
    db.session.commit()
    order = place(customer, {product.id: 2}, delivery_method="letter", payment_method="card")

    assert order.number == "100001"
    assert order.status == "pending_payment"
    assert order.customer_id == customer.id
    assert order.terms_version == DEFAULT_POLICY.terms_version
    assert order.placed_at == NOW
    assert order.expires_at == NOW + timedelta(minutes=60)
    assert order.billing_postcode == "111 22"
    [line] = order.lines
    assert (line.title, line.sku, line.kind) == ("Bach: Cellosviter", product.sku, "physical")
    assert (line.unit_price_ore, line.quantity, line.total_ore) == (24900, 2, 49800)
    assert (line.vat_rate_bp, line.vat_ore) == (600, 2819)
    [fee] = order.fees
    # 2 × 300 g by letter: the 501–1000 g step (T2.2).
    assert (fee.kind, fee.amount_ore, fee.vat_rate_bp, fee.vat_ore) == (
        "delivery",
        7900,
        2500,
        1580,
    )
    assert order.total_ore == 49800 + 7900
    assert order.vat_ore == 2819 + 1580
    assert stock(product.id) == (4, 2)
    movement = db.session.scalars(select(StockMovement)).one()
    assert (movement.kind, movement.quantity, movement.order_id) == ("reserve", 2, order.id)
    assert db.session.scalar(select(func.count()).select_from(CartLine)) == 0

    # The catalogue changes later; the order does not.
    product.price_ore = 1
    product.title = "Nytt namn"
    product.vat_rate_bp = 2500
    db.session.commit()
    db.session.expire_all()
    line = db.session.scalars(select(OrderLine)).one()
    assert (line.title, line.unit_price_ore, line.vat_rate_bp) == ("Bach: Cellosviter", 24900, 600)


def test_the_same_checkout_key_twice_makes_one_order(app: Flask) -> None:
    product = make_product(stock=5)
    first = place(cart={product.id: 1}, key="double-click", delivery_method="letter")
    second = place(cart={product.id: 1}, key="double-click", delivery_method="letter")
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert stock(product.id) == (5, 1)


def test_a_checkout_key_of_another_buyer_gives_nothing(app: Flask) -> None:
    product = make_product(stock=5)
    place(cart={product.id: 1}, key="someone-elses", delivery_method="letter")
    intruder = make_customer()
    with pytest.raises(CheckoutError):
        place(intruder, {product.id: 1}, key="someone-elses", delivery_method="letter")


def test_sold_out_refuses_with_the_title_and_writes_nothing(app: Flask) -> None:
    customer = make_customer()
    product = make_product(title="Sista exemplaret", stock=1)
    other = make_product(title="Annan vara", stock=9)
    db.session.add(
        CartLine(customer_id=customer.id, product_id=product.id, quantity=2, updated_at=NOW)
    )
    db.session.commit()
    with pytest.raises(SoldOut) as error:
        place(customer, {other.id: 1, product.id: 2}, delivery_method="postnord_parcel")
    assert error.value.message == "Slut i lager: Sista exemplaret"
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0
    assert stock(product.id) == (1, 0)
    assert stock(other.id) == (9, 0)  # the first line's reservation rolled back too
    assert db.session.scalar(select(func.count()).select_from(CartLine)) == 1  # cart kept


def test_reserved_stock_counts_against_the_next_buyer(app: Flask) -> None:
    product = make_product(title="Två kvar", stock=2)
    place(cart={product.id: 2}, key="a", delivery_method="letter")
    with pytest.raises(SoldOut):
        place(cart={product.id: 1}, key="b", delivery_method="letter")
    assert stock(product.id) == (2, 2)


def test_downloads_have_no_stock_limit_and_no_delivery_T2_3(app: Flask) -> None:
    download = make_product(kind="download", price_ore=9900)
    order = place(cart={download.id: 3}, delivery_method="letter")
    assert order.delivery_method is None
    assert order.delivery_street is None
    assert order.fees == []
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_invoice_order_has_the_fee_row_T3_3(app: Flask) -> None:
    customer = make_customer(kind="organisation")
    product = make_product(price_ore=10000)
    order = place(customer, {product.id: 1}, delivery_method="letter", payment_method="invoice")
    kinds = db.session.scalars(select(OrderFee.kind).where(OrderFee.order_id == order.id)).all()
    assert sorted(kinds) == ["delivery", "invoice"]
    assert order.total_ore == 10000 + 5900 + 1900
    assert order.organisation_number == "556036-0793"


def test_place_order_rechecks_everything_tampered_details_change_nothing_T3_2(app: Flask) -> None:
    product = make_product(stock=3)
    with pytest.raises(CheckoutError):
        place(cart={product.id: 1}, delivery_method="letter", payment_method="invoice")
    with pytest.raises(CheckoutError):
        place(cart={product.id: 1}, delivery_method="letter", payment_method="bitcoin")
    with pytest.raises(CheckoutError):
        place(cart={product.id: 1}, delivery_method=None)  # a shipped order needs a method
    with pytest.raises(CheckoutError):
        place(cart={product.id: 1}, delivery_method="letter", accepted_terms=False)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert stock(product.id) == (3, 0)


def test_order_numbers_follow_each_other(app: Flask) -> None:
    product = make_product(stock=10)
    numbers = [
        place(cart={product.id: 1}, key=f"k{n}", delivery_method="letter").number for n in range(3)
    ]
    assert numbers == ["100001", "100002", "100003"]
