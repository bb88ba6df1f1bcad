"""The catalogue: categories, products and stock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.domain.catalog import ProductKind, SizeClass
from shop.extensions import db
from shop.models.types import UTCDateTime


class Category(db.Model):  # type: ignore[name-defined,misc]
    """Noter, Böcker, Programvara, Instrument, Tillbehör, Kurser (and sub-categories)."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_sv: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    position: Mapped[int] = mapped_column(default=0)

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_sv


class Product(db.Model):  # type: ignore[name-defined,misc]
    """Something the shop sells. Prices include VAT, in öre (T2.1)."""

    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("price_ore >= 0", name="price_ore_non_negative"),
        CheckConstraint("vat_rate_bp IN (0, 600, 2500)", name="vat_rate_bp"),
        CheckConstraint(
            "kind IN ('physical', 'software_boxed', 'software_code', 'download')", name="kind"
        ),
        CheckConstraint("size_class IN ('thin', 'small', 'large', 'oversize')", name="size_class"),
        CheckConstraint("weight_g >= 0", name="weight_g_non_negative"),
        CheckConstraint("difficulty IS NULL OR difficulty BETWEEN 1 AND 5", name="difficulty"),
        Index("ix_product_category_active", "category_id", "active"),
        Index("ix_product_created_at", "created_at"),
        Index("ix_product_price_ore", "price_ore"),
        Index("ix_product_sort_title", "sort_title"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Lower-case title for sorting by name, independent of database collation.
    sort_title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default=ProductKind.PHYSICAL.value)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    #: Price including VAT, in öre (T2.1).
    price_ore: Mapped[int]
    #: VAT rate in basis points: 2500, 600 or 0 (T2.1).
    vat_rate_bp: Mapped[int] = mapped_column(default=2500)
    #: Shipping weight in grams (T2.2).
    weight_g: Mapped[int] = mapped_column(default=0)
    size_class: Mapped[str] = mapped_column(String(10), default=SizeClass.SMALL.value)
    #: Boxed software ships sealed; a broken seal ends the right of withdrawal (T5.4).
    sealed: Mapped[bool] = mapped_column(default=False)
    composer: Mapped[str | None] = mapped_column(String(200))
    arranger: Mapped[str | None] = mapped_column(String(200))
    #: Instrument or ensemble the music is for, e.g. "Piano", "Stråkkvartett".
    instrumentation: Mapped[str | None] = mapped_column(String(100), index=True)
    #: 1 (beginner) to 5 (professional).
    difficulty: Mapped[int | None]
    publisher: Mapped[str | None] = mapped_column(String(200))
    edition_number: Mapped[str | None] = mapped_column(String(40))
    author: Mapped[str | None] = mapped_column(String(200))
    isbn: Mapped[str | None] = mapped_column(String(17))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Lower-case, accent-folded text of title, composer, arranger, publisher and
    #: description: what search matches (å/ä→a, ö→o), kept by the catalogue service.
    search_text: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[Category] = relationship(lazy="joined")
    stock: Mapped[StockLevel | None] = relationship(
        back_populates="product",
        uselist=False,
        lazy="joined",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def product_kind(self) -> ProductKind:
        return ProductKind(self.kind)

    @property
    def available(self) -> int | None:
        """Units that can be sold now; None for goods without a stock limit (downloads)."""
        if not self.product_kind.is_shipped and self.stock is None:
            return None
        if self.stock is None:
            return 0
        return self.stock.on_hand - self.stock.reserved


class StockLevel(db.Model):  # type: ignore[name-defined,misc]
    """Units on the shelf and units reserved by placed, unpaid orders; row-locked at checkout."""

    __tablename__ = "stock_level"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), primary_key=True
    )
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="stock")
