"""Benchmark: the retention sweeper on 1,000,000 customers, next to a hand-written SQL floor.

``make bench-retention`` (or ``.venv/bin/python bench/retention.py [--customers N]``):

1. creates a throwaway PostgreSQL database next to ``BENCH_DATABASE_URL``
   (default ``postgresql://postgres@127.0.0.1:5432/test``), migrates it and
   loads, with set-based ``INSERT … SELECT generate_series``, N customers
   (``BENCH_CUSTOMERS`` or ``--customers``, default 1,000,000) with 3 orders
   each, an address each, a paid invoice for every tenth order and a
   newsletter consent for every second customer. 30 % of the customers were
   last active in 2022 and are due for anonymisation (R2.1); 5 % more were
   last active then too but have an order still on its way (held, R3.1);
   the other 65 % are active (2025);
2. copies that database (``CREATE DATABASE … TEMPLATE``), so both runs start
   from the same rows;
3. runs the real sweep, ``flask retention sweep --date 2026-11-20``, in a
   subprocess on one copy, and measures its wall time and peak memory
   (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``);
4. runs the floor on the other copy: the same anonymisation written by hand
   as a handful of set-based statements over all due customers at once (one
   transaction, no batches, no log per record beyond one INSERT … SELECT);
5. checks both copies anonymised exactly the expected customers and orders,
   left the held and the active ones alone, and prints the figures.

Goals (issue 7): sweep ≤ 120 s, peak memory < 300 MB, within 3× the floor.
Exit status 1 when a goal is missed or a check fails. Both databases are
dropped at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shop.testing import psycopg_url, scratch_postgres_database  # noqa: E402

SWEEP_DAY = "2026-11-20"
DUE_PERCENT = 30
HELD_PERCENT = 5
BATCH_SIZE = 5000


def migrate(url: str) -> None:
    """Alembic to head, in this process (a child would count in the sweep's peak memory)."""
    from flask_migrate import upgrade

    from shop import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": psycopg_url(url), "ENV": "testing"})
    with app.app_context():
        upgrade()
        from shop.extensions import db

        db.engine.dispose()


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "FLASK_APP": "shop",
        "DATABASE_URL": url,
        "SHOP_RETENTION_BATCH_SIZE": str(BATCH_SIZE),
    }


LOAD = [
    # group: 0–29 due, 30–34 held (an order still on its way), 35–99 active
    """
    INSERT INTO customer (id, email, password_hash, name, phone, kind, language, created_at,
        last_login_at, last_activity_on, session_version, login_disabled, pseudonym)
    SELECT g, 'kund' || g || '@bench.example', NULL, 'Kund ' || g, '070-' || g, 'consumer',
        'sv', timestamptz '2020-01-01 10:00+00',
        CASE WHEN g % 100 < 35 THEN timestamptz '2022-06-01 10:00+00'
             ELSE timestamptz '2025-06-01 10:00+00' END,
        CASE WHEN g % 100 < 35 THEN date '2022-06-01' ELSE date '2025-06-01' END,
        1, false, 'K-' || upper(lpad(to_hex(g), 8, '0'))
    FROM generate_series(1, :n) AS g
    """,
    """
    INSERT INTO address (id, customer_id, kind, name, street, postcode, city, country)
    SELECT g, g, 'delivery', 'Kund ' || g, 'Gatan ' || g, '12345', 'Staden', 'SE'
    FROM generate_series(1, :n) AS g
    """,
    """
    INSERT INTO shop_order (id, number, customer_id, checkout_key, buyer_kind, email, name,
        phone, delivery_name, delivery_street, delivery_postcode, delivery_city, billing_name,
        billing_street, billing_postcode, billing_city, country, language, status,
        payment_method, delivery_method, terms_version, total_ore, vat_ore, placed_at)
    SELECT o, 'B' || o, c, 'ck-' || o, 'consumer', 'kund' || c || '@bench.example',
        'Kund ' || c, '070-' || c, 'Kund ' || c, 'Gatan ' || c, '12345', 'Staden',
        'Kund ' || c, 'Gatan ' || c, '12345', 'Staden', 'SE', 'sv',
        CASE WHEN c % 100 BETWEEN 30 AND 34 AND k = 2 THEN 'shipped' ELSE 'completed' END,
        'card', 'postnord_parcel', '2026-11-01', 29900, 5980,
        CASE WHEN c % 100 < 35 THEN timestamptz '2022-06-01 10:00+00'
             ELSE timestamptz '2025-06-01 10:00+00' END - make_interval(days => k)
    FROM generate_series(1, :n) AS c, generate_series(0, 2) AS k, LATERAL (
        SELECT (c - 1) * 3 + k + 1 AS o) AS ids
    """,
    """
    INSERT INTO invoice (id, number, order_id, ocr, issued_on, due_on, total_ore, paid_ore,
        status, paid_on, created_at)
    SELECT o, o, o, 'OCR' || o, date '2022-06-01', date '2022-07-01', 29900, 29900, 'paid',
        date '2022-06-20', timestamptz '2022-06-01 10:00+00'
    FROM generate_series(10, :n * 3, 10) AS o
    """,
    """
    INSERT INTO consent (id, customer_id, email, purpose, action, at, source, wording_version)
    SELECT g / 2, g, 'kund' || g || '@bench.example', 'newsletter', 'given',
        timestamptz '2020-01-01 10:00+00', 'registration', '1'
    FROM generate_series(2, :n, 2) AS g
    """,
]

FLOOR = [
    """
    CREATE TEMP TABLE due ON COMMIT DROP AS
    SELECT c.id FROM customer c
    WHERE c.anonymised_at IS NULL AND c.last_activity_on < date '2023-11-20'
      AND NOT EXISTS (SELECT 1 FROM role_grant r WHERE r.customer_id = c.id)
      AND NOT EXISTS (SELECT 1 FROM legal_hold h WHERE h.customer_id = c.id
                      AND h.released_at IS NULL)
      AND NOT EXISTS (
        SELECT 1 FROM shop_order o WHERE o.customer_id = c.id AND (
          o.status IN ('pending_payment', 'confirmed', 'partly_shipped', 'shipped',
                       'returned_to_sender')
          OR EXISTS (SELECT 1 FROM shipment s WHERE s.order_id = o.id
                     AND s.delivered_on >= date '2026-11-06')
          OR EXISTS (SELECT 1 FROM withdrawal w WHERE w.order_id = o.id
                     AND w.status <> 'refunded')
          OR EXISTS (SELECT 1 FROM refund f WHERE f.order_id = o.id
                     AND f.status IN ('pending', 'sent', 'failed'))
          OR EXISTS (SELECT 1 FROM invoice i WHERE i.order_id = o.id
                     AND i.status IN ('open', 'reminded', 'collection'))))
    """,
    "DELETE FROM address a USING due WHERE a.customer_id = due.id",
    "DELETE FROM cart_line x USING due WHERE x.customer_id = due.id",
    "DELETE FROM password_reset_token t USING due WHERE t.customer_id = due.id",
    """
    UPDATE consent x SET email = lower(c.pseudonym) || '@anonymiserad.invalid'
    FROM customer c JOIN due ON due.id = c.id WHERE x.customer_id = c.id
    """,
    """
    UPDATE shop_order o SET email = lower(c.pseudonym) || '@anonymiserad.invalid',
        name = c.pseudonym, phone = NULL, organisation_name = NULL,
        organisation_number = NULL, delivery_name = NULL, delivery_street = NULL,
        delivery_postcode = NULL, delivery_city = NULL, billing_name = c.pseudonym,
        billing_street = '', billing_postcode = '', billing_city = '', anonymised_at = now()
    FROM customer c JOIN due ON due.id = c.id
    WHERE o.customer_id = c.id AND o.anonymised_at IS NULL
    """,
    """
    UPDATE customer c SET email = lower(c.pseudonym) || '@anonymiserad.invalid',
        name = c.pseudonym, phone = NULL, organisation_name = NULL,
        organisation_number = NULL, birth_date = NULL, password_hash = NULL,
        login_disabled = true, session_version = c.session_version + 1, anonymised_at = now()
    FROM due WHERE c.id = due.id
    """,
    """
    INSERT INTO retention_run (sweep_on, dry_run, status, started_at, runner, counts)
    VALUES (date '2026-11-20', false, 'finished', now(), 'floor', '{}')
    """,
    """
    INSERT INTO retention_log (run_id, at, rule_id, action, subject_type, subject)
    SELECT currval('retention_run_id_seq'), now(), 'R2.1', 'anonymise', 'customer', c.pseudonym
    FROM customer c JOIN due ON due.id = c.id
    """,
]


def load(url: str, customers: int) -> float:
    started = time.perf_counter()
    engine = sa.create_engine(psycopg_url(url))
    with engine.begin() as conn:
        for statement in LOAD:
            conn.execute(sa.text(statement), {"n": customers})
        for table in ("customer", "address", "shop_order", "invoice", "consent"):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(psycopg_url(url))
    with engine.connect() as conn:
        result = {
            "customers anonymised": conn.scalar(
                sa.text("SELECT count(*) FROM customer WHERE anonymised_at IS NOT NULL")
            ),
            "orders anonymised": conn.scalar(
                sa.text("SELECT count(*) FROM shop_order WHERE anonymised_at IS NOT NULL")
            ),
            "addresses left": conn.scalar(sa.text("SELECT count(*) FROM address")),
            "log rows": conn.scalar(
                sa.text("SELECT count(*) FROM retention_log WHERE action = 'anonymise'")
            ),
        }
    engine.dispose()
    return {key: int(value or 0) for key, value in result.items()}


def floor(url: str) -> float:
    engine = sa.create_engine(psycopg_url(url))
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in FLOOR:
            conn.execute(sa.text(statement))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def sweep(url: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the sweep subprocess, and its summary."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flask", "retention", "sweep", "--date", SWEEP_DAY],
        cwd=ROOT,
        env=_env(url),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the sweep failed ({result.returncode}):\n{result.stderr}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = "\n".join(
        line for line in result.stdout.splitlines() if not line.startswith(("R2", "R3", "R4"))
    )
    return elapsed, peak_mb, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--customers", type=int, default=int(os.environ.get("BENCH_CUSTOMERS", "1000000"))
    )
    args = parser.parse_args()
    n = args.customers
    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    admin = sa.create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    with scratch_postgres_database(admin_url, prefix="shop_retention") as url:
        copy_name = sa.engine.make_url(url).database + "_floor"
        try:
            print(f"Loading {n:,} customers, {3 * n:,} orders …", flush=True)
            migrate(url)
            loaded = load(url, n)
            print(f"  loaded in {loaded:.1f} s", flush=True)
            with admin.connect() as conn:
                source = sa.engine.make_url(url).database
                conn.execute(sa.text(f'CREATE DATABASE "{copy_name}" TEMPLATE "{source}"'))
            copy_url = (
                sa.engine.make_url(url)
                .set(database=copy_name)
                .render_as_string(hide_password=False)
            )

            sweep_s, peak_mb, summary = sweep(url)
            floor_s = floor(copy_url)
            swept, floored = counts(url), counts(copy_url)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{copy_name}"'))
            admin.dispose()

    due = sum(1 for g in range(1, n + 1) if g % 100 < DUE_PERCENT)
    expected = {
        "customers anonymised": due,
        "orders anonymised": 3 * due,
        "addresses left": n - due,
        "log rows": due,
    }
    ratio = sweep_s / floor_s if floor_s else float("inf")
    print(summary)
    print()
    print("| figure | sweep | floor (hand-written SQL) | goal |")
    print("|---|---:|---:|---|")
    print(f"| wall time | {sweep_s:.1f} s | {floor_s:.1f} s | sweep ≤ 120 s, ≤ 3× floor |")
    print(f"| sweep / floor | {ratio:.2f}× | | ≤ 3× |")
    print(f"| peak memory (sweep process) | {peak_mb:.0f} MB | | < 300 MB |")
    for key, value in expected.items():
        print(f"| {key} | {swept[key]:,} | {floored[key]:,} | {value:,} |")
    problems = []
    if swept != expected or floored != expected:
        problems.append("the counts differ from the expected ones")
    if n >= 1_000_000 and sweep_s > 120:
        problems.append("the sweep took more than 120 s")
    if peak_mb >= 300:
        problems.append("the sweep used 300 MB or more")
    if ratio > 3:
        problems.append("the sweep is more than 3× the floor")
    for problem in problems:
        print(f"MISSED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
