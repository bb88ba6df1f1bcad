"""Gap-free number series (invoice, receipt, credit_note, order …).

A number is drawn inside the caller's transaction: the series row is locked
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers anyway),
its value taken and the row incremented. If the transaction rolls back, the
number is given back with it, so committed numbers never leave a gap
(bookkeeping, T3.4 / R2.3).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.models import NumberSeries


def next_number(series: str, *, start: int = 1) -> int:
    """Draw the next number of ``series`` (the first is ``start``). Does not commit."""
    if start < 1:
        raise ValueError("A number series starts at 1 or later.")
    row = _locked_row(series)
    if row is None:
        _create_series(series, start)
        row = _locked_row(series)
        if row is None:  # pragma: no cover - created just above
            raise RuntimeError(f"Number series {series!r} could not be created.")
    value = row.next_value
    # A conditional UPDATE, so even without row locks two drawers cannot both win.
    result = db.session.execute(
        update(NumberSeries)
        .where(NumberSeries.name == series, NumberSeries.next_value == value)
        .values(next_value=value + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"Number series {series!r} changed while drawing; retry.")
    db.session.expire(row)
    return value


def peek(series: str, *, start: int = 1) -> int:
    """The number the next draw would give (for display; never reserve with it)."""
    value = db.session.scalar(select(NumberSeries.next_value).where(NumberSeries.name == series))
    return start if value is None else int(value)


def _locked_row(series: str) -> NumberSeries | None:
    query = select(NumberSeries).where(NumberSeries.name == series)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).first()


def _create_series(series: str, start: int) -> None:
    """Insert the series row; a concurrent creator winning the race is fine."""
    try:
        with db.session.begin_nested():
            db.session.add(NumberSeries(name=series, next_value=start))
    except IntegrityError:
        pass
