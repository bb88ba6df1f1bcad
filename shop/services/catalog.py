"""The catalogue: categories, products, listings with filters, stock state and delivery notes.

Every product's ``search_text`` is kept here (:func:`search_text_for`), so a
product created or changed through this module is always findable by the
search service. Prices include VAT (T2.1); how an item travels comes from the
domain's delivery rules (T2.2, T2.3) and the dispatch window from the policy
(T4.1).

Facets (the top-level categories, the instruments offered in a filter, how
many products a listing has) may come from a per-process
:class:`~shop.services.cache.TTLCache` the caller passes in: they are the
same for every visitor and may lag other processes' changes by the cache's
time to live; every create and update here invalidates them in this process
at once. Product rows themselves (price, stock, active) are always read
fresh.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager, lazyload

from shop.domain.catalog import DeliveryMode, ProductKind, SizeClass
from shop.domain.delivery import delivery_mode_for
from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.extensions import db
from shop.models import Category, Product, StockLevel
from shop.services import cache as facet_cache
from shop.services.cache import TTLCache

T = TypeVar("T")

#: Units left at or under which a product page says "Få kvar".
LOW_STOCK_THRESHOLD = 3

#: The top-level categories every shop starts with: (slug, Swedish, English).
STANDARD_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("noter", "Noter", "Sheet music"),
    ("bocker", "Böcker", "Books"),
    ("programvara", "Programvara", "Software"),
    ("instrument", "Instrument", "Instruments"),
    ("tillbehor", "Tillbehör", "Accessories"),
    ("kurser", "Kurser", "Courses"),
)

DIGITAL_KINDS = tuple(kind.value for kind in ProductKind if kind.is_digital)


class PageNotFound(Exception):
    """A page number outside the listing (the view answers 404)."""


# --------------------------------------------------------------------------- text folding

#: Letters that Unicode decomposition does not take apart.
_SPECIAL_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ð": "d", "đ": "d", "þ": "th", "ł": "l", "ı": "i"}
)
_TOKEN_RE = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents: "Björk Ålänge Alfvén" → "bjork alange alfven"."""
    lowered = text.casefold().translate(_SPECIAL_LETTERS)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold_tokens(text: str) -> list[str]:
    """The folded words of ``text``: letters and digits only, everything else separates."""
    return _TOKEN_RE.findall(fold(text))


class Searchable(Protocol):
    """What :func:`search_text_for` reads from a product (a row dict works via ``vars``)."""

    title: str
    composer: str | None
    arranger: str | None
    publisher: str | None
    description: str | None


def search_text_from(fields: dict[str, Any]) -> str:
    """``search_text`` from a mapping of product fields (see :func:`search_text_for`)."""
    title = " ".join(fold_tokens(str(fields.get("title") or "")))
    rest_fields = (
        "composer",
        "arranger",
        "author",
        "publisher",
        "instrumentation",
        "edition_number",
        "description",
    )
    rest = " ".join(str(fields.get(name) or "") for name in rest_fields)
    return title + "\n" + " ".join(fold_tokens(rest))


def search_text_for(product: Searchable) -> str:
    """The text search matches for a product: folded words, title on the first line.

    Line one holds the title's words, line two the composer, arranger,
    author, publisher, instrumentation, edition number and description. Both
    are lower-case and accent-folded (å/ä → a, ö → o, é → e) and reduced to
    words separated by single spaces, so PostgreSQL, SQLite and the query
    folding (:func:`fold_tokens`) agree on what a word is. Search ranks title
    matches above the rest by reading the first line separately.
    """
    fields = {
        name: getattr(product, name, None)
        for name in (
            "title",
            "composer",
            "arranger",
            "author",
            "publisher",
            "instrumentation",
            "edition_number",
            "description",
        )
    }
    return search_text_from(fields)


def sort_title_for(title: str) -> str:
    """The key products are sorted by name with: lower-case, independent of collation."""
    return title.strip().casefold()[:200]


def slugify(text: str) -> str:
    """``"Sånger för Kör (SATB)"`` → ``"sanger-for-kor-satb"``."""
    return "-".join(fold_tokens(text))[:120] or "produkt"


# --------------------------------------------------------------------------- categories


def ensure_standard_categories() -> dict[str, Category]:
    """Create the six standard categories that are missing; all of them by slug."""
    existing = {c.slug: c for c in db.session.scalars(select(Category))}
    for position, (slug, name_sv, name_en) in enumerate(STANDARD_CATEGORIES, start=1):
        if slug not in existing:
            category = Category(slug=slug, name_sv=name_sv, name_en=name_en, position=position)
            db.session.add(category)
            existing[slug] = category
    db.session.commit()
    facet_cache.invalidate(facet_cache.CATALOGUE)
    return existing


@dataclass(frozen=True)
class CategoryInfo:
    """A category as listings and menus need it: plain values, safe to keep between requests."""

    id: int
    slug: str
    name_sv: str
    name_en: str
    parent_id: int | None = None
    position: int = 0

    @classmethod
    def of(cls, category: Category) -> CategoryInfo:
        return cls(
            id=category.id,
            slug=category.slug,
            name_sv=category.name_sv,
            name_en=category.name_en,
            parent_id=category.parent_id,
            position=category.position,
        )

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_sv


def _cached(cache: TTLCache | None, key: tuple[Any, ...], compute: Any) -> Any:
    return compute() if cache is None else cache.get_or_compute(key, compute)


def nav_categories(cache: TTLCache | None = None) -> list[CategoryInfo]:
    """The top-level categories in menu order, as :class:`CategoryInfo` (one query or none)."""
    result: list[CategoryInfo] = _cached(
        cache,
        ("nav_categories",),
        lambda: [CategoryInfo.of(c) for c in top_level_categories()],
    )
    return result


def top_level_categories() -> list[Category]:
    """Categories without a parent, in menu order (one query)."""
    return list(
        db.session.scalars(
            select(Category).where(Category.parent_id.is_(None)).order_by(Category.position)
        )
    )


def category_by_slug(slug: str) -> Category | None:
    return db.session.scalar(select(Category).where(Category.slug == slug))


# --------------------------------------------------------------------------- products


def _unique_slug(title: str, exclude_id: int | None = None) -> str:
    base = slugify(title)
    candidate, n = base, 1
    while True:
        query = select(Product.id).where(Product.slug == candidate)
        if exclude_id is not None:
            query = query.where(Product.id != exclude_id)
        if db.session.scalar(query) is None:
            return candidate
        n += 1
        candidate = f"{base}-{n}"


def _refresh_derived(product: Product) -> None:
    product.sort_title = sort_title_for(product.title)
    product.search_text = search_text_for(product)


def create_product(
    *,
    sku: str,
    title: str,
    category: Category,
    price_ore: int,
    vat_rate_bp: int,
    kind: ProductKind = ProductKind.PHYSICAL,
    now: datetime,
    on_hand: int | None = None,
    slug: str | None = None,
    **attributes: Any,
) -> Product:
    """Add a product (price incl. VAT, T2.1) with its search text; stock when ``on_hand`` given."""
    product = Product(
        sku=sku,
        slug=slug or _unique_slug(title),
        title=title,
        category=category,
        price_ore=price_ore,
        vat_rate_bp=vat_rate_bp,
        kind=ProductKind(kind).value,
        created_at=now,
        **attributes,
    )
    product.description = product.description or ""
    if on_hand is not None:
        product.stock = StockLevel(on_hand=on_hand, reserved=0)
    _refresh_derived(product)
    db.session.add(product)
    db.session.commit()
    facet_cache.invalidate(facet_cache.CATALOGUE)
    return product


def update_product(product: Product, **changes: Any) -> Product:
    """Change product fields; sort key and search text follow."""
    for name, value in changes.items():
        if not hasattr(Product, name) or name in {"id", "search_text", "sort_title"}:
            raise AttributeError(f"Product has no editable field {name!r}")
        setattr(product, name, value)
    _refresh_derived(product)
    db.session.commit()
    facet_cache.invalidate(facet_cache.CATALOGUE)
    return product


def product_by_slug(slug: str) -> Product | None:
    """An active product with its category and stock (one query)."""
    return db.session.scalar(select(Product).where(Product.slug == slug, Product.active))


def new_products(limit: int) -> list[Product]:
    """The newest active products, for the home page (one query)."""
    query = (
        select(Product)
        .where(Product.active)
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query).unique())


# --------------------------------------------------------------------------- listing


class SortOrder(StrEnum):
    """How a listing is ordered; the value is the ``sort`` query parameter."""

    NAME = "name"
    PRICE = "price"
    PRICE_DESC = "price_desc"
    NEWEST = "newest"


_ORDER_BY = {
    SortOrder.NAME: (Product.sort_title.asc(), Product.id.asc()),
    SortOrder.PRICE: (Product.price_ore.asc(), Product.sort_title.asc(), Product.id.asc()),
    SortOrder.PRICE_DESC: (Product.price_ore.desc(), Product.sort_title.asc(), Product.id.asc()),
    SortOrder.NEWEST: (Product.created_at.desc(), Product.id.desc()),
}


@dataclass(frozen=True)
class ListingFilters:
    """What a customer narrowed the listing to. ``None`` means "any"."""

    category: CategoryInfo | None = None
    instrument: str | None = None
    difficulty: int | None = None
    in_stock: bool = False
    sort: SortOrder = SortOrder.NAME


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``page`` counts from 1."""

    items: Sequence[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def check_page_number(page: int, total: int, per_page: int) -> None:
    """Raise :class:`PageNotFound` for a page before the first or after the last."""
    pages = max(1, math.ceil(total / per_page))
    if page < 1 or page > pages:
        raise PageNotFound(page)


def _available_expr() -> Any:
    return StockLevel.on_hand - StockLevel.reserved


def _in_category(category: CategoryInfo) -> Any:
    """The category itself or one of its sub-categories."""
    category_ids = select(Category.id).where(
        or_(Category.id == category.id, Category.parent_id == category.id)
    )
    return Product.category_id.in_(category_ids)


def _filtered(query: Select[Any], filters: ListingFilters, *, join_stock: bool) -> Select[Any]:
    """Active products narrowed by ``filters``; stock is joined when asked or when filtered on."""
    if join_stock or filters.in_stock:
        query = query.outerjoin(Product.stock)
    query = query.where(Product.active)
    if filters.category is not None:
        query = query.where(_in_category(filters.category))
    if filters.instrument:
        query = query.where(Product.instrumentation == filters.instrument)
    if filters.difficulty is not None:
        query = query.where(Product.difficulty == filters.difficulty)
    if filters.in_stock:
        query = query.where(or_(Product.kind.in_(DIGITAL_KINDS), _available_expr() > 0))
    return query


def listing_count(filters: ListingFilters, cache: TTLCache | None = None) -> int:
    """How many active products match ``filters`` (one query, none when cached)."""
    key = (
        "listing_count",
        filters.category.id if filters.category else None,
        filters.instrument,
        filters.difficulty,
        filters.in_stock,
    )

    def count() -> int:
        query = _filtered(select(func.count()).select_from(Product), filters, join_stock=False)
        return db.session.scalar(query) or 0

    total: int = _cached(cache, key, count)
    return total


def page_total(page: int, per_page: int, shown: int, count: Callable[[], int]) -> int:
    """The size of a listing, asking ``count()`` only when the page alone cannot tell.

    A page that is not full is the last one, so its rows give the total
    exactly; a full page needs ``count()`` (which may come from a cache and
    lag: it is never taken below what the page itself proves). An empty page
    after the first is beyond the last: :class:`PageNotFound`.
    """
    offset = (page - 1) * per_page
    if shown == 0 and page > 1:
        raise PageNotFound(page)
    if shown < per_page:
        return offset + shown
    total: int = count()
    return max(total, offset + shown)


def list_products(
    filters: ListingFilters, page: int, per_page: int, cache: TTLCache | None = None
) -> Page[Product]:
    """One page of active products with their stock: one query, two when the page is full.

    The total comes from the rows when the page is not full, else from
    :func:`listing_count` (a facet: cached in ``cache`` when one is given).
    Raises :class:`PageNotFound` for a page beyond the last (page 1 always exists).
    """
    if page < 1:
        raise PageNotFound(page)
    query = (
        _filtered(select(Product), filters, join_stock=True)
        .options(contains_eager(Product.stock), lazyload(Product.category))
        .order_by(*_ORDER_BY[filters.sort])
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = list(db.session.scalars(query).unique())
    total = page_total(page, per_page, len(items), lambda: listing_count(filters, cache))
    return Page(items=items, page=page, per_page=per_page, total=total)


def instrument_choices(category: CategoryInfo | None, cache: TTLCache | None = None) -> list[str]:
    """The instruments/ensembles present among active products, sorted (a facet, see above)."""

    def compute() -> list[str]:
        query = (
            select(Product.instrumentation)
            .where(Product.active, Product.instrumentation.is_not(None))
            .distinct()
        )
        if category is not None:
            query = query.where(_in_category(category))
        names = [name for name in db.session.scalars(query) if name]
        return sorted(names, key=fold)

    names: list[str] = _cached(cache, ("instruments", category.id if category else None), compute)
    return list(names)


# --------------------------------------------------------------------------- product page


class StockState(StrEnum):
    """What the product page says about availability."""

    IN_STOCK = "in_stock"
    LOW = "low"
    OUT = "out"


def stock_state(product: Product) -> StockState:
    """Downloads and codes are always available; shipped goods by units left."""
    available = product.available
    if available is None or product.product_kind.is_digital:
        return StockState.IN_STOCK
    if available <= 0:
        return StockState.OUT
    if available <= LOW_STOCK_THRESHOLD:
        return StockState.LOW
    return StockState.IN_STOCK


def max_orderable(product: Product, cap: int = 99) -> int:
    """The largest quantity the add-to-cart form offers (0 when out of stock)."""
    available = product.available
    if available is None or product.product_kind.is_digital:
        return cap
    return max(0, min(cap, available))


@dataclass(frozen=True)
class DeliveryNote:
    """How an item travels (T2.2, T2.3) and, for shipped goods, the dispatch window (T4.1)."""

    mode: DeliveryMode
    dispatch_working_days: tuple[int, int] | None


def delivery_note(product: Product, policy: Policy = DEFAULT_POLICY) -> DeliveryNote:
    """Letter, parcel, download or code from the delivery rules and the policy's price list."""
    kind = product.product_kind
    mode = delivery_mode_for(kind, product.weight_g, SizeClass(product.size_class), policy.delivery)
    window = policy.dispatch_working_days if kind.is_shipped else None
    return DeliveryNote(mode=mode, dispatch_working_days=window)


def vat_percent_label(rate_bp: int) -> str:
    """``2500`` → ``"25 %"``, ``600`` → ``"6 %"``, ``1250`` → ``"12,5 %"`` (non-breaking space)."""
    whole, rest = divmod(rate_bp, 100)
    number = str(whole) if rest == 0 else f"{whole},{rest:02d}".rstrip("0")
    return f"{number}\u00a0%"
