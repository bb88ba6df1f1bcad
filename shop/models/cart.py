"""A logged-in customer's cart, kept in the database so it follows them across devices.

Guests' carts live in the signed session cookie and are merged here at login.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.catalog import Product
from shop.models.types import UTCDateTime


class CartLine(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "cart_line"
    __table_args__ = (
        UniqueConstraint("customer_id", "product_id", name="customer_product"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    product: Mapped[Product] = relationship(lazy="joined")
