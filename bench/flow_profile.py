"""In-process cost of the purchase flow, step by step (no server, no network, no load).

``.venv/bin/python bench/flow_profile.py`` runs the very flow of bench/orders.py
(16 requests: product page, "Lägg i varukorgen", every checkout step, "Slutför
köp", the test payment and the return page) through the Flask test client
against a throwaway PostgreSQL database (``BENCH_DATABASE_URL``, default the
local test server), with the settings bench/orders.py gives gunicorn
(``SHOP_ENV=testing``, a generated secret, CSRF on, rate limits off).

For each request it prints the median wall time and CPU time of this process
(the database server's work is not in it) over ``--purchases`` purchases (after
``--warmup`` unmeasured ones) and the number of SQL statements. On a
busy machine wall time is noisy; ``--profile FILE`` writes a cProfile of the
measured purchases instead (open it with ``python -m pstats FILE``), and
``--purchases 1 --warmup 3`` under ``valgrind --tool=callgrind`` gives
instruction counts that repeat from run to run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from orders import (  # noqa: E402
    _CSRF_RE,
    _DELIVERY_RE,
    _KEY_RE,
    _PRODUCT_ID_RE,
    STOCK,
    _route,
    _token,
)
from run import admin_database_url, throwaway_database  # noqa: E402


def build_app(database_url: str, instance: Path) -> Any:
    """The shop as bench/orders.py serves it (``SHOP_ENV=testing``, sandbox on)."""
    os.environ["SHOP_INSTANCE_PATH"] = str(instance)
    from flask_migrate import upgrade
    from sqlalchemy import select, update

    from shop import create_app
    from shop.demo import generate_products, insert_products
    from shop.extensions import db
    from shop.models import Category, Product, StockLevel

    app = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_ENABLED": False,
            "PAYMENT_SANDBOX": True,
        }
    )
    with app.app_context():
        upgrade()
        insert_products(generate_products(300, 2026))
        db.session.execute(update(StockLevel).values(on_hand=STOCK, reserved=0))
        db.session.commit()
        slug = db.session.scalar(
            select(Product.slug)
            .join(Category, Product.category_id == Category.id)
            .join(StockLevel)
            .where(Product.active, Product.kind == "physical", Category.slug == "noter")
            .order_by(Product.id)
            .limit(1)
        )
        db.session.remove()
    assert slug, "no printed sheet music generated"
    app.config["BENCH_SLUG"] = slug
    return app


class Recorder:
    """Wall time and SQL statements of each request, by route."""

    def __init__(self, app: Any) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.queries: dict[str, list[int]] = defaultdict(list)
        self.order: list[str] = []
        self._count = 0
        from shop.extensions import db

        with app.app_context():
            engine = db.engine

        def count(*_args: Any) -> None:
            self._count += 1

        event.listen(engine, "before_cursor_execute", count)

    def call(self, label: str, fn: Callable[[], Any]) -> Any:
        self._count = 0
        started, cpu = time.perf_counter(), time.process_time()
        response = fn()
        self.times[label].append(time.perf_counter() - started)
        self.cpu[label].append(time.process_time() - cpu)
        self.queries[label].append(self._count)
        if label not in self.order:
            self.order.append(label)
        return response


def purchase(app: Any, recorder: Recorder, number: int) -> None:
    """One guest buys one printed item with the sandbox: the 16 requests of bench/orders.py."""
    client = app.test_client()
    slug = app.config["BENCH_SLUG"]
    headers = {"Accept-Language": "sv", "Origin": "http://localhost"}

    def get(path: str) -> Any:
        return recorder.call(f"GET {_route(path)}", lambda: client.get(path, headers=headers))

    def post(path: str, form: dict[str, str]) -> str:
        response = recorder.call(
            f"POST {_route(path)}", lambda: client.post(path, data=form, headers=headers)
        )
        assert response.status_code in (302, 303), (path, response.status_code)
        return str(response.headers["Location"])

    page = get(f"/produkt/{slug}").get_data(as_text=True)
    csrf = _token(_CSRF_RE, page, "product", "csrf")
    product_id = _token(_PRODUCT_ID_RE, page, "product", "product_id")
    post("/varukorg/lagg-till", {"csrf_token": csrf, "product_id": product_id, "quantity": "1"})
    get("/kassa/")
    page = get("/kassa/kopare").get_data(as_text=True)
    post(
        "/kassa/kopare",
        {
            "csrf_token": _token(_CSRF_RE, page, "buyer", "csrf"),
            "kind": "consumer",
            "email": f"kopare{number}@example.se",
            "name": f"Köpare {number}",
            "adult_confirmed": "y",
        },
    )
    page = get("/kassa/adress").get_data(as_text=True)
    post(
        "/kassa/adress",
        {
            "csrf_token": _token(_CSRF_RE, page, "address", "csrf"),
            "delivery_name": f"Köpare {number}",
            "delivery_street": "Vasagatan 12",
            "delivery_postcode": "411 24",
            "delivery_city": "Göteborg",
            "billing_same": "y",
        },
    )
    page = get("/kassa/leverans").get_data(as_text=True)
    post(
        "/kassa/leverans",
        {
            "csrf_token": _token(_CSRF_RE, page, "delivery", "csrf"),
            "delivery_method": _token(_DELIVERY_RE, page, "delivery", "method"),
        },
    )
    page = get("/kassa/betalning").get_data(as_text=True)
    post(
        "/kassa/betalning",
        {"csrf_token": _token(_CSRF_RE, page, "payment", "csrf"), "payment_method": "sandbox"},
    )
    page = get("/kassa/sammanfattning").get_data(as_text=True)
    target = post(
        "/kassa/slutfor",
        {
            "csrf_token": _token(_CSRF_RE, page, "summary", "csrf"),
            "checkout_key": _token(_KEY_RE, page, "summary", "key"),
            "accept_terms": "y",
        },
    )
    page = get(target).get_data(as_text=True)
    back = post(target, {"csrf_token": _token(_CSRF_RE, page, "sandbox", "csrf"), "outcome": "pay"})
    page = get(back).get_data(as_text=True)
    assert 'data-payment-state="paid"' in page, "the return page does not say paid"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--purchases", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of the measured purchases here")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="shop-flow-") as tmp,
        throwaway_database(admin_database_url(), prefix="shop_flow") as url,
    ):
        app = build_app(url, Path(tmp) / "instance")
        recorder = Recorder(app)
        for n in range(args.warmup):
            purchase(app, recorder, n)
        recorder = Recorder(app)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        for n in range(args.purchases):
            purchase(app, recorder, 1000 + n)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        from shop.extensions import db

        with app.app_context():
            db.engine.dispose()

    totals = [0.0, 0.0, 0]
    print(f"{'request':32} {'wall ms':>8} {'CPU ms':>8} {'queries':>8}")
    for label in recorder.order:
        per_purchase = len(recorder.times[label]) / args.purchases
        wall = statistics.median(recorder.times[label]) * 1000
        cpu = statistics.median(recorder.cpu[label]) * 1000
        queries = max(recorder.queries[label])
        totals[0] += wall * per_purchase
        totals[1] += cpu * per_purchase
        totals[2] += round(statistics.mean(recorder.queries[label]) * per_purchase)
        print(f"{label:32} {wall:8.2f} {cpu:8.2f} {queries:8d}")
    print(f"{'whole purchase':32} {totals[0]:8.2f} {totals[1]:8.2f} {totals[2]:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
