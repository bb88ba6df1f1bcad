"""Stock rows, locked and changed the same way by every desk.

Checkout reserves, releasing an order frees the reservation, dispatch takes
goods off the shelf, and returns put them back. Each locks the stock rows it
touches in product-id order (one order everywhere, so two desks never
deadlock) with ``FOR UPDATE`` on PostgreSQL, and records every change as a
StockMovement row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from shop.extensions import db
from shop.models import Shipment, StockLevel, StockMovement


def lock_row(model: Any, row_id: int) -> Any:
    """The row, re-read and locked for this transaction (``FOR UPDATE`` on PostgreSQL)."""
    query = select(model).where(model.id == row_id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).one()


def lock_levels(product_ids: Iterable[int]) -> dict[int, StockLevel]:
    """The stock rows of these products, re-read and locked in product-id order."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    query = (
        select(StockLevel)
        .where(StockLevel.product_id.in_(ids))
        .order_by(StockLevel.product_id)
        .with_for_update()  # SQLite has no row locks; its write lock serialises instead
        .execution_options(populate_existing=True)
    )
    return {level.product_id: level for level in db.session.scalars(query)}


def quantities_in(shipment: Shipment) -> dict[int, int]:
    """Units per product in a shipment (lines of deleted products have none)."""
    per_product: dict[int, int] = {}
    for item in shipment.lines:
        product_id = item.order_line.product_id
        if product_id is not None:
            per_product[product_id] = per_product.get(product_id, 0) + item.quantity
    return per_product


def restock(
    quantities: Mapping[int, int],
    *,
    order_id: int,
    now: datetime,
    create_missing: bool = False,
) -> None:
    """Put goods back on the shelf, with a 'restock' movement per product.

    A product without a stock row is skipped (no stock keeping), unless
    ``create_missing`` gives it one.
    """
    levels = lock_levels(quantities)
    for product_id, quantity in sorted(quantities.items()):
        level = levels.get(product_id)
        if level is None:
            if not create_missing:
                continue
            level = StockLevel(product_id=product_id, on_hand=0, reserved=0)
            db.session.add(level)
        level.on_hand += quantity
        db.session.add(
            StockMovement(
                product_id=product_id, order_id=order_id, kind="restock", quantity=quantity, at=now
            )
        )
