"""Backup and restore (issue 8, docs/operations.md): a ``pg_dump -Fc`` of a shop with
orders and bookkeeping records, restored with ``pg_restore`` into a fresh database,
holds the same rows, and the shop runs on it (numbering and ids go on)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask_migrate import upgrade

from shop import create_app
from shop.extensions import db
from shop.models import BookkeepingRecord, Invoice, Order
from shop.testing import scratch_postgres_database
from tests.conftest import TEST_DATABASE_URL, make_test_config
from tests.services.fulfilment_helpers import invoice_order
from tests.services.test_returns import LATER, paid_order, withdraw

pytestmark = pytest.mark.postgres


def libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore read it (no SQLAlchemy driver name)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (and the migration version), in primary-key order."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = {
                table.name: [
                    tuple(row)
                    for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                ]
                for table in db.metadata.sorted_tables
            }
            rows["alembic_version"] = [
                tuple(row) for row in conn.execute(sa.text("SELECT * FROM alembic_version"))
            ]
    finally:
        engine.dispose()
    return rows


def shop_on(url: str, tmp_path: Path) -> Flask:
    return create_app(make_test_config(url, tmp_path))


@pytest.mark.skipif(not shutil.which("pg_dump"), reason="pg_dump is not installed")
def test_a_dump_restores_into_a_fresh_database_with_the_same_data(tmp_path: Path) -> None:
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests are off")
    dump = tmp_path / "shop.dump"
    with (
        scratch_postgres_database(TEST_DATABASE_URL, prefix="shop_backup") as source_url,
        scratch_postgres_database(TEST_DATABASE_URL, prefix="shop_restore") as target_url,
        time_machine.travel(LATER, tick=False),
    ):
        source = shop_on(source_url, tmp_path)
        with source.app_context():
            upgrade()
            order = paid_order()  # paid in the sandbox: receipt, stock movements, payment
            withdraw(order)
            invoice_order()  # an organisation's invoice (a bookkeeping record)
            assert db.session.query(BookkeepingRecord).count() >= 2
            assert db.session.query(Invoice).count() == 1
            db.session.remove()
            db.engine.dispose()

        run("pg_dump", "--format=custom", "--no-owner", "--no-acl",
            f"--file={dump}", f"--dbname={libpq_url(source_url)}")  # fmt: skip
        run("pg_restore", "--no-owner", "--no-acl", "--exit-on-error",
            f"--dbname={libpq_url(target_url)}", str(dump))  # fmt: skip

        before, after = table_rows(source_url), table_rows(target_url)
        for table in ("shop_order", "bookkeeping_record", "stock_movement", "payment"):
            assert before[table], f"the test made no {table} rows"
        for table, rows in before.items():
            assert after[table] == rows, f"table {table} differs after the restore"

        restored = shop_on(target_url, tmp_path)
        with restored.app_context():
            assert restored.test_client().get("/healthz").status_code == 200
            # The shop goes on where it left off: new ids and numbers, no collision.
            last_order = max(row[0] for row in before["shop_order"])
            receipt_numbers = sa.select(sa.func.max(BookkeepingRecord.number)).where(
                BookkeepingRecord.kind == "receipt"
            )
            last_receipt = db.session.scalar(receipt_numbers)
            new = paid_order()
            assert new.id > last_order
            assert db.session.query(Order).count() == len(before["shop_order"]) + 1
            assert db.session.scalar(receipt_numbers) == last_receipt + 1  # gap-free series
            db.session.remove()
            db.engine.dispose()
