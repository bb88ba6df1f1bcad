"""Gap-free number series (T3.4: invoice numbers; R2.3 bookkeeping)."""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from shop import create_app
from shop.extensions import db
from shop.models import NumberSeries
from shop.services import numbering
from tests.conftest import make_test_config


def test_numbers_start_at_start_and_count_up_without_gaps_t3_4(app: Flask) -> None:
    assert [numbering.next_number("invoice") for _ in range(3)] == [1, 2, 3]
    assert numbering.next_number("order", start=100001) == 100001
    assert numbering.next_number("order", start=100001) == 100002
    db.session.commit()
    assert numbering.peek("invoice") == 4


def test_a_rolled_back_draw_leaves_no_gap_t3_4(app: Flask) -> None:
    assert numbering.next_number("receipt") == 1
    db.session.commit()
    assert numbering.next_number("receipt") == 2
    db.session.rollback()
    assert numbering.next_number("receipt") == 2
    db.session.commit()
    assert db.session.get(NumberSeries, "receipt").next_value == 3


def test_start_must_be_positive(app: Flask) -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        numbering.next_number("invoice", start=0)


@pytest.mark.postgres
def test_ten_concurrent_drawers_get_one_to_ten_on_postgresql_t3_4(
    postgres_url: str, tmp_path: object
) -> None:
    """T3.4: 10 threads drawing invoice numbers at once get 1..10, no gaps, no duplicates."""
    app = create_app(make_test_config(postgres_url, tmp_path))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.session.execute(db.delete(NumberSeries).where(NumberSeries.name == "concurrency"))
        db.session.add(NumberSeries(name="concurrency", next_value=1))
        db.session.commit()
    barrier = threading.Barrier(10)
    drawn: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def draw() -> None:
        try:
            with app.app_context():
                barrier.wait()
                value = numbering.next_number("concurrency")
                db.session.commit()
                with lock:
                    drawn.append(value)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=draw) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert not errors
        assert sorted(drawn) == list(range(1, 11))
    finally:
        with app.app_context():
            db.session.execute(db.delete(NumberSeries).where(NumberSeries.name == "concurrency"))
            db.session.commit()
            db.engine.dispose()
