"""Load test: browsing, search, carts and sandbox checkouts on PostgreSQL with 4 gunicorn workers.

``make bench-load`` (or ``.venv/bin/python bench/load.py --duration 120``):

1. creates a throwaway PostgreSQL database next to ``BENCH_DATABASE_URL``
   (default ``postgresql://postgres@127.0.0.1:5432/test``), migrates it and
   loads generated products (bench/orders.py's ``prepare_database``): plenty of
   stock everywhere except a few "hot" items with :data:`HOT_STOCK` each, which
   a quarter of the checkouts go for, so that buyers really compete for the
   last copies (the sold-out answer, 409, is an expected outcome there);
2. serves the shop (``wsgi:app``) with gunicorn, 4 sync workers, as
   bench/orders.py does (``SHOP_ENV=testing`` for the sandbox payment, page
   cache on as in production);
3. runs ``--users`` virtual visitors in a closed loop on loopback (no think
   time: the machine is kept busy) for ``--duration`` seconds. Each turn a
   visitor picks a task by weight:

   - 80 % browsing and search: one page, a new anonymous visitor each time
     (home 10, catalogue 15, a category 15, a product 35, a search 25);
   - 15 % carts: a product page, "Lägg i varukorgen", the cart page;
   - 5 % checkouts: a whole guest purchase with the sandbox payment (the 16
     requests of bench/orders.py: product, cart, every checkout step, "Slutför
     köp", the test payment page, "Genomför testbetalning", the return page).

   The weights are per task (as locust's task weights), so checkouts make a
   larger share of the requests than 5 %; the report gives both;
4. reports throughput, p50/p95/p99 per page and the error count (5xx answers,
   refused or broken connections, flows that went wrong; a sold-out hot item
   is counted apart, not as an error), then checks the database: no 5xx, no
   oversold or negative stock, ``reserved`` equal to the reserve/release
   movements, every order with its payment and its reserve movements, every
   paid order with a captured payment of its total and its confirmation mail,
   as many paid orders as the buyers saw;
5. writes bench/results/load-latest.md. Exit status 1 when a goal (p95 under
   200 ms per page, under 400 ms for the checkout's "Slutför köp" and payment
   POSTs) or a check is missed.

Why our own client and not locust: bench/orders.py already speaks the whole
purchase flow (cookies, CSRF tokens, checkout keys, the sandbox page) and
checks the database afterwards; locust would add gevent and a second copy of
that flow for no gain in what is measured. The client is threads in one
Python process, like the orders benchmark: on a small machine it competes
with the servers for the CPUs, which the report states.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import random
import re
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orders import (
    _CSRF_RE,
    _PRODUCT_ID_RE,
    STOCK,
    FlowError,
    Guest,
    _token,
    prepare_database,
    purchase,
    verify_database,
)
from run import (
    BENCH,
    ROOT,
    admin_database_url,
    gunicorn,
    percentile,
    shop_environment,
    throwaway_database,
)

RESULTS = BENCH / "results" / "load-latest.md"
GOAL_PAGE_P95_MS = 200.0
GOAL_CHECKOUT_P95_MS = 400.0
#: The requests held to the checkout goal: placing the order, and paying it.
CHECKOUT_LABELS = ("POST /kassa/slutfor", "POST /betalning/sandbox/<ref>")
HOT_ITEMS = 5
HOT_STOCK = 12
TASKS = {"browse": 80, "cart": 15, "checkout": 5}
PAGES = {"home": 10, "catalogue": 15, "category": 15, "product": 35, "search": 25}
HOT_CHECKOUT_SHARE = 0.25


# --------------------------------------------------------------------------- database


@dataclass(frozen=True)
class Catalogue:
    slugs: list[str]
    hot: list[str]
    categories: list[str]
    terms: list[str]


def prepare(url: str, products: int, seed: int) -> Catalogue:
    """The orders benchmark's database, a few hot items with little stock, categories, terms."""
    import sqlalchemy as sa

    slugs = prepare_database(url, products, seed)
    hot, slugs = slugs[:HOT_ITEMS], slugs[HOT_ITEMS:]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE stock_level SET on_hand = :n FROM product "
                    "WHERE product.id = stock_level.product_id AND product.slug = ANY(:slugs)"
                ),
                {"n": HOT_STOCK, "slugs": hot},
            )
            categories = list(conn.scalars(sa.text("SELECT slug FROM category ORDER BY id")))
            titles = list(conn.scalars(sa.text("SELECT title FROM product ORDER BY id LIMIT 3000")))
    finally:
        engine.dispose()
    words = collections.Counter(
        w.lower() for t in titles for w in t.split() if len(w) >= 4 and w.isalpha()
    )
    terms = [w for w, _ in words.most_common(30)] or ["noter"]
    print(f"database: {len(hot)} hot items with {HOT_STOCK} in stock; {len(categories)} categories")
    return Catalogue(slugs, hot, categories, terms)


# --------------------------------------------------------------------------- the visitors


@dataclass
class Stats:
    by_label: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    tasks: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: list[str] = field(default_factory=list)
    sold_out: int = 0
    paid: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.by_label.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def add(self, guest: Guest) -> None:
        for label, seconds, status in zip(guest.labels, guest.timings, guest.statuses, strict=True):
            self.by_label[label].append(seconds)
            self.statuses[status] += 1

    def fail(self, what: str, detail: str) -> None:
        self.errors[what] += 1
        if len(self.samples) < 8:
            self.samples.append(f"{what}: {detail}")


def _category_path(slug: str) -> str:
    """Where a category link leads: the course category is the course list (T9), which
    /katalog/kurser redirects to; a visitor following the link lands there."""
    return "/kurser/" if slug == "kurser" else f"/katalog/{slug}"


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def browse(guest: Guest, rng: random.Random, shop: Catalogue) -> None:
    """One page, as a new anonymous visitor sees it."""
    page = _weighted(rng, PAGES)
    path = {
        "home": lambda: "/",
        "catalogue": lambda: "/katalog",
        "category": lambda: _category_path(rng.choice(shop.categories)),
        "product": lambda: f"/produkt/{rng.choice(shop.slugs + shop.hot)}",
        "search": lambda: f"/sok?q={urllib.parse.quote(rng.choice(shop.terms))}",
    }[page]()
    guest.get(page, path)


def cart(guest: Guest, rng: random.Random, shop: Catalogue) -> None:
    """A product into the cart, then the cart page."""
    page = guest.get("product", f"/produkt/{rng.choice(shop.slugs)}").body
    product_id = _token(_PRODUCT_ID_RE, page, "product", "product_id")
    csrf = _token(_CSRF_RE, page, "product", "CSRF token")
    guest.post(
        "add to cart",
        "/varukorg/lagg-till",
        {"csrf_token": csrf, "product_id": product_id, "quantity": str(rng.randint(1, 3))},
    )
    if "product_id" not in guest.get("cart", "/varukorg/").body:
        raise FlowError("cart", "the cart page shows no line")


def run_visitors(
    base: str, shop: Catalogue, users: int, duration: float, seed: int, stats: Stats
) -> None:
    lock = threading.Lock()
    numbers = iter(range(1, 10**9))
    deadline = time.perf_counter() + duration

    def visitor(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        while time.perf_counter() < deadline:
            task = _weighted(rng, TASKS)
            if task == "checkout":
                with lock:
                    number = next(numbers)
                hot = rng.random() < HOT_CHECKOUT_SHARE
                slug = rng.choice(shop.hot if hot else shop.slugs)
                done, guest, error = purchase(base, slug, number)
            else:
                guest, done, error = Guest(base), None, None
                try:
                    (browse if task == "browse" else cart)(guest, rng, shop)
                except FlowError as failed:
                    error = failed
                except OSError as failed:
                    error = FlowError("connection", repr(failed))
                except Exception as failed:  # noqa: BLE001 - a bug in the client is counted
                    error = FlowError("client", repr(failed))
            with lock:
                stats.tasks[task] += 1
                stats.add(guest)
                if task == "checkout" and done is not None:
                    stats.paid += 1
                if error is not None:
                    if task == "checkout" and hot and _refused(error):
                        stats.sold_out += 1
                    else:
                        stats.fail(f"{task}: {error.step}", str(error))

    started = time.perf_counter()
    threads = [threading.Thread(target=visitor, args=(n,), daemon=True) for n in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 16 * 30 + 10)
    stats.seconds = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        stats.fail("visitor still running at the end", "")


def _refused(error: FlowError) -> bool:
    """A hot item's checkout that the shop turned away politely (sold out): a 4xx answer or
    a redirect back, never a 5xx or a broken connection."""
    return error.step != "connection" and not re.search(r"answered 5\d\d", str(error))


# --------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _goal(label: str) -> float:
    return GOAL_CHECKOUT_P95_MS if label in CHECKOUT_LABELS else GOAL_PAGE_P95_MS


def report(
    stats: Stats, checks: list[tuple[str, int, int]], settings: dict[str, str]
) -> tuple[str, bool]:
    rows = []
    goals_ok = True
    for label in sorted(stats.by_label, key=lambda x: -len(stats.by_label[x])):
        times = sorted(stats.by_label[label])
        p95 = percentile(times, 0.95) * 1000
        ok = p95 < _goal(label)
        goals_ok = goals_ok and ok
        rows.append(
            f"| `{label}` | {len(times):,} | {len(times) / stats.seconds:,.1f} "
            f"| {_ms(percentile(times, 0.5))} | {p95:.0f} ms | {_ms(percentile(times, 0.99))} "
            f"| < {_goal(label):.0f} ms: {'pass' if ok else 'FAIL'} |"
        )
    every = sorted(t for times in stats.by_label.values() for t in times)
    failures = sum(stats.errors.values())
    checks_ok = all(found == expected for _, found, expected in checks)
    passed = goals_ok and checks_ok and failures == 0 and stats.server_errors == 0
    task_total = sum(stats.tasks.values()) or 1
    tasks = ", ".join(
        f"{name} {n:,} ({n / task_total * 100:.0f} %)" for name, n in stats.tasks.most_common()
    )
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(stats.statuses.items()))
    error_lines = (
        "\n".join(f"- {what}: {n}" for what, n in stats.errors.most_common())
        + "\n"
        + "\n".join(f"  - e.g. {s}" for s in stats.samples)
        if failures
        else "- none"
    )
    check_rows = "\n".join(
        f"| {what} | {found:,} | {expected:,} | {'pass' if found == expected else 'FAIL'} |"
        for what, found, expected in checks
    )
    details = "\n".join(f"- {key}: {value}" for key, value in settings.items())
    text = (
        f"# Load test {settings['date']}\n\n"
        f"Throughput: **{stats.requests / stats.seconds:,.1f} requests/s** "
        f"({stats.requests:,} requests in {stats.seconds:.1f} s; p50 "
        f"{_ms(percentile(every, 0.5))}, p95 {_ms(percentile(every, 0.95))}, p99 "
        f"{_ms(percentile(every, 0.99))}), **{stats.paid / stats.seconds:.2f} paid orders/s** "
        f"({stats.paid:,}; {stats.sold_out} checkouts found a hot item sold out).\n\n"
        f"Errors: **{failures + stats.server_errors}** ({stats.server_errors} answers 5xx; "
        f"{failures} failed tasks). Answers by status: {statuses}.\n\n"
        f"Tasks: {tasks}.\n\n"
        "| request | count | per s | p50 | p95 | p99 | goal (p95) |\n"
        "|---|---:|---:|---:|---:|---:|---|\n" + "\n".join(rows) + "\n\n"
        f"Failed tasks:\n{error_lines}\n\n"
        "Database after the run:\n\n| check | found | expected | result |\n|---|---:|---:|---|\n"
        f"{check_rows}\n\nSettings:\n{details}\n\nResult: **{'pass' if passed else 'FAIL'}**\n"
    )
    return text, passed


def extra_checks(url: str) -> list[tuple[str, int, int]]:
    """Every order (paid or not) has its payment attempt and its reserve movements."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            no_payment = conn.execute(
                sa.text(
                    "SELECT count(*) FROM shop_order o WHERE NOT EXISTS "
                    "(SELECT 1 FROM payment p WHERE p.order_id = o.id)"
                )
            ).scalar_one()
            no_movement = conn.execute(
                sa.text(
                    "SELECT count(*) FROM order_line l WHERE l.kind = 'physical' AND l.quantity "
                    "<> COALESCE((SELECT sum(m.quantity) FROM stock_movement m WHERE "
                    "m.order_id = l.order_id AND m.product_id = l.product_id "
                    "AND m.kind = 'reserve'), 0)"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return [
        ("orders without a payment", int(no_payment), 0),
        ("order lines (any status) without their reserve movements", int(no_movement), 0),
    ]


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=32, help="concurrent visitors")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    stats = Stats()
    with tempfile.TemporaryDirectory(prefix="shop-bench-load-") as tmp:
        tmp_path = Path(tmp)
        instance = tmp_path / "instance"
        os.environ["SHOP_INSTANCE_PATH"] = str(instance)
        with throwaway_database(admin_database_url(), prefix="shop_load") as database_url:
            shop = prepare(database_url, args.products, args.seed)
            env = shop_environment(
                database_url,
                instance,
                ENV="testing",
                PAYMENT_SANDBOX="true",
                PAYMENT_SANDBOX_STATE_FILE=str(instance / "sandbox-payments.json"),
                PAGE_CACHE_SECONDS="10",
            )
            with gunicorn("shop", "wsgi:app", env, args.workers, tmp_path, ROOT) as base:
                warm = Stats()
                run_visitors(base, shop, args.users, args.warmup, args.seed + 1, warm)
                print(f"warm-up: {warm.requests} requests, {warm.paid} paid orders")
                run_visitors(base, shop, args.users, args.duration, args.seed, stats)
                print(
                    f"measured: {stats.requests:,} requests in {stats.seconds:.1f} s, "
                    f"{stats.paid} paid orders, {sum(stats.errors.values())} failed tasks, "
                    f"{stats.server_errors} answers 5xx"
                )
            checks = verify_database(database_url, warm.paid + stats.paid, (STOCK, HOT_STOCK))
            checks += extra_checks(database_url)
            checks.append(
                ("answers 5xx (warm-up and run)", warm.server_errors + stats.server_errors, 0)
            )

    settings = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mix": "tasks by weight: "
        + ", ".join(f"{k} {v} %" for k, v in TASKS.items())
        + "; browse pages by weight: "
        + ", ".join(f"{k} {v}" for k, v in PAGES.items()),
        "products": f"{args.products:,} generated; {HOT_ITEMS} hot items with {HOT_STOCK} "
        f"in stock that {HOT_CHECKOUT_SHARE * 100:.0f} % of the checkouts go for",
        "gunicorn": f"{args.workers} sync workers, PostgreSQL, SHOP_ENV=testing (the "
        "sandbox payment), page cache 10 s per worker",
        "load": f"{args.users} visitors in a closed loop (no think time), threads of one "
        f"Python process, {args.duration:g} s after {args.warmup:g} s warm-up, loopback",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()} (client and servers share the CPUs)",
    }
    text, passed = report(stats, checks, settings)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
