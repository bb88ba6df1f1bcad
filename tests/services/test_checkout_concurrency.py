"""20 buyers at once for the last 5 units on PostgreSQL: never oversold, never negative."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import Order, StockLevel
from shop.services import checkout
from shop.services.checkout import SoldOut
from tests.factories import NOW, checkout_details, make_product

BUYERS = 20
UNITS = 5


@pytest.mark.postgres
def test_twenty_concurrent_checkouts_for_the_last_five_units(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    product = make_product(title="Sista upplagan", stock=UNITS)
    product_id = product.id
    barrier = threading.Barrier(BUYERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def buy(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                checkout.place_order(
                    customer=None,
                    cart_lines={product_id: 1},
                    details=checkout_details(
                        email=f"kopare{n}@example.se", delivery_method="letter"
                    ),
                    checkout_key=f"concurrent-{n}",
                    now=NOW,
                )
                outcome = "order"
            except SoldOut as error:
                outcome = error.message
            except Exception as error:  # reported in the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(BUYERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == BUYERS
    assert outcomes.count("order") == UNITS, outcomes
    assert outcomes.count("Slut i lager: Sista upplagan") == BUYERS - UNITS, outcomes
    db.session.expire_all()
    level = db.session.get(StockLevel, product_id)
    assert level is not None
    assert (level.on_hand, level.reserved) == (UNITS, UNITS)
    assert level.on_hand - level.reserved == 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == UNITS
    numbers = sorted(db.session.scalars(select(Order.number)))
    assert numbers == [str(100001 + i) for i in range(UNITS)]
