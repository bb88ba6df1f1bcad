"""``flask retention sweep``: bad input, the report, a sweep killed mid-batch (S5), and two
sweeps at once on PostgreSQL (S4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from shop.config import PROJECT_ROOT
from shop.extensions import db
from shop.models import Customer, Order, RetentionLogEntry, RetentionRun
from shop.services import retention
from shop.testing import psycopg_url
from tests.services.test_retention import buyer


def test_s1_a_date_in_the_future_is_refused_with_a_sentence(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["retention", "sweep", "--date", "2999-01-01"])
    assert result.exit_code != 0
    assert "is in the future" in result.output


def test_s1_a_date_that_is_no_date_is_refused(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["retention", "sweep", "--date", "1 juni"])
    assert result.exit_code != 0
    assert "YYYY-MM-DD" in result.output


def test_s1_an_unknown_option_is_refused(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["retention", "sweep", "--everything"])
    assert result.exit_code != 0
    assert "No such option" in result.output


def test_r2_3_settings_under_the_law_are_refused_with_a_sentence(
    app: Flask, runner: FlaskCliRunner
) -> None:
    """R2.3: bookkeeping is kept at least 7 years, whatever the configuration says."""
    app.config["RETENTION_BOOKKEEPING_YEARS"] = 5
    result = runner.invoke(args=["retention", "sweep"])
    assert result.exit_code != 0
    assert "not lawful" in result.output


def test_s2_the_dry_run_prints_each_record_and_the_counts(
    app: Flask, runner: FlaskCliRunner
) -> None:
    customer = buyer(date(2022, 1, 1))
    result = runner.invoke(args=["retention", "sweep", "--date", "2026-06-01", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"R2.1\tanonymise\tcustomer\t{customer.pseudonym}" in result.output
    assert "Dry run (nothing changed)" in result.output
    assert "R2.1 anonymise: 1" in result.output
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).anonymised_at is None  # type: ignore[union-attr]


def test_s4_a_locked_sweep_says_so_and_exits_0(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object, **kwargs: object) -> retention.SweepResult:
        raise retention.SweepLocked

    monkeypatch.setattr(retention, "sweep", locked)
    result = runner.invoke(args=["retention", "sweep"])
    assert result.exit_code == 0
    assert "Another retention sweep is running" in result.output


def _sweep_process(app: Flask, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "FLASK_APP": "shop",
        "SHOP_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "retention", "sweep", "--date", "2026-06-01", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _consistent(customer_ids: list[int]) -> int:
    """Every customer wholly anonymised (account, orders, one log row) or wholly untouched."""
    db.session.expire_all()
    done = 0
    for customer_id in customer_ids:
        customer = db.session.get(Customer, customer_id)
        assert customer is not None
        order_rows = list(db.session.scalars(select(Order).where(Order.customer_id == customer_id)))
        logged = db.session.scalar(
            select(func.count())
            .select_from(RetentionLogEntry)
            .where(RetentionLogEntry.subject == customer.pseudonym)
        )
        if customer.anonymised_at is None:
            assert customer.name == "Kim Kund"
            assert not customer.login_disabled
            assert all(o.anonymised_at is None and o.name == "Kim Kund" for o in order_rows)
            assert logged == 0
        else:
            assert customer.name == customer.pseudonym
            assert customer.login_disabled
            assert all(
                o.anonymised_at is not None and o.name == customer.pseudonym for o in order_rows
            )
            assert logged == 1
            done += 1
    return done


def test_s5_a_sweep_killed_mid_batch_leaves_no_half_record_and_the_next_run_finishes(
    app: Flask, tmp_path: Path
) -> None:
    """S5: SIGKILL inside batch 3 (after its UPDATEs, before its commit): batches 1–2 stay
    done, batch 3 is untouched, and the next run finishes the job."""
    ids = [buyer(date(2022, 1, 1)).id for _ in range(10)]
    db.session.commit()
    killed = _sweep_process(
        app, tmp_path, "--batch-size", "3", SHOP_RETENTION_TEST_KILL_IN_BATCH="3"
    )
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert _consistent(ids) == 6
    interrupted = db.session.scalars(select(RetentionRun)).one()
    assert interrupted.status == "running"
    assert interrupted.counts == {"R2.1 anonymise": 6}

    again = _sweep_process(app, tmp_path, "--batch-size", "3")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "R2.1 anonymise: 4" in out
    assert _consistent(ids) == 10


@pytest.mark.postgres
def test_s4_two_sweeps_at_once_on_postgresql_one_runs_the_other_says_so(
    app: Flask, tmp_path: Path
) -> None:
    """S4: while one sweep holds the advisory lock, another says so and exits 0; two started
    together both exit 0 and each customer is anonymised once."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    ids = [buyer(date(2022, 1, 1)).id for _ in range(6)]
    holder = sa.create_engine(psycopg_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    try:
        with holder.connect() as conn:
            assert conn.scalar(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": retention.ADVISORY_KEY}
            )
            second = _sweep_process(app, tmp_path)
            out, err = second.communicate(timeout=120)
            assert second.returncode == 0, err
            assert "Another retention sweep is running" in out
            assert _consistent(ids) == 0
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": retention.ADVISORY_KEY})
    finally:
        holder.dispose()
    both = [_sweep_process(app, tmp_path, "--batch-size", "1") for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in both]
    assert [proc.returncode for proc in both] == [0, 0], outputs
    assert _consistent(ids) == 6
