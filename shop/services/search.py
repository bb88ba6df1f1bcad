"""Product search: one box over title, composer, arranger, publisher and description.

The query is folded exactly like ``Product.search_text``
(:func:`shop.services.catalog.fold_tokens`: lower case, å/ä → a, ö → o,
é → e) and cut into plain words; the raw input never reaches the full-text
syntax, so quotes, ``%``, ``*``, ``NEAR``, ``OR`` or stray parentheses are
just separators or ordinary words. Every word must match, as a prefix
("beeth" finds Beethoven). Title matches rank above matches elsewhere.

PostgreSQL uses a stored, weighted ``tsvector`` column with a GIN index and
``ts_rank``; SQLite uses the FTS5 table ``product_fts`` and ``bm25`` (both
made by migration 0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, column, func, literal_column, select, table
from sqlalchemy.orm import contains_eager, lazyload

from shop.extensions import db
from shop.models import Product
from shop.services.cache import TTLCache
from shop.services.catalog import Page, check_page_number, fold_tokens, page_total

#: Longest query taken into account; the rest is ignored.
MAX_QUERY_LENGTH = 200
#: At most this many words are searched for.
MAX_TERMS = 8
#: Words are cut to this length (a prefix of a long word still finds it).
MAX_TERM_LENGTH = 40

#: PostgreSQL: the stored, weighted tsvector of migration 0002 (GIN-indexed).
PG_VECTOR_COLUMN = "product.fts_vector"

_product_fts = table("product_fts", column("rowid"))


def query_terms(raw: str | None) -> list[str]:
    """The safe search words of a raw query: folded, letters and digits, no duplicates."""
    if not raw:
        return []
    terms: list[str] = []
    for token in fold_tokens(raw[:MAX_QUERY_LENGTH]):
        term = token[:MAX_TERM_LENGTH]
        if term not in terms:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return terms


@dataclass(frozen=True)
class SearchResult:
    """The words searched for and one page of matching products."""

    terms: list[str]
    page: Page[Product]


def _pg_query(terms: list[str]) -> tuple[Any, Any]:
    tsquery_text = " & ".join(f"'{term}':*" for term in terms)
    tsquery = func.to_tsquery(
        literal_column("'simple'::regconfig"), bindparam("tsquery", tsquery_text)
    )
    vector: Any = literal_column(PG_VECTOR_COLUMN)
    # Lower is better, like bm25: the best match first in ascending order.
    return vector.op("@@")(tsquery), -func.ts_rank(vector, tsquery)


def _sqlite_query(terms: list[str]) -> tuple[Any, Any]:
    match_text = " ".join(f'"{term}"*' for term in terms)
    fts: Any = literal_column("product_fts")
    condition = fts.op("MATCH")(bindparam("match", match_text))
    return condition, func.bm25(fts, 10.0, 1.0)


def _matching(query: Select[Any], terms: list[str], dialect: str) -> tuple[Select[Any], Any]:
    """``query`` narrowed to active matches, and the match's score (lower is better)."""
    if dialect == "postgresql":
        condition, score = _pg_query(terms)
        return query.where(condition, Product.active), score
    condition, score = _sqlite_query(terms)
    query = query.join(_product_fts, _product_fts.c.rowid == Product.id)
    return query.where(condition, Product.active), score


def search_count(terms: list[str], cache: TTLCache | None = None) -> int:
    """How many active products match every word (one query; a facet, cached when given)."""

    def count() -> int:
        dialect = db.engine.dialect.name
        query, _ = _matching(select(func.count()).select_from(Product), terms, dialect)
        return db.session.scalar(query) or 0

    if cache is None:
        return count()
    total: int = cache.get_or_compute(("search_count", tuple(terms)), count)
    return total


def search_products(
    raw_query: str | None, page: int, per_page: int, cache: TTLCache | None = None
) -> SearchResult:
    """Active products matching every word of the query, best first.

    One query, and a second for the number of matches only when the page is
    full (that count is a facet: kept in ``cache`` when one is given, see
    :mod:`shop.services.cache`). An empty query (or one with no words) gives
    no results. Raises :class:`~shop.services.catalog.PageNotFound` for a
    page beyond the last.
    """
    terms = query_terms(raw_query)
    if not terms or page < 1:
        check_page_number(page, 0, per_page)
        return SearchResult(terms=[], page=Page(items=[], page=1, per_page=per_page, total=0))
    # Rank narrow rows (id, score, sort key) and read whole products for one page only:
    # carrying every column of every match through the sort costs more than the ranking.
    ranked_query, score = _matching(select(Product.id), terms, db.engine.dialect.name)
    ranked = (
        ranked_query.add_columns(score.label("score"), Product.sort_title.label("sort_title"))
        .order_by(score, Product.sort_title, Product.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("ranked")
    )
    rows_query = (
        select(Product)
        .join(ranked, ranked.c.id == Product.id)
        .outerjoin(Product.stock)
        .options(contains_eager(Product.stock), lazyload(Product.category))
        .order_by(ranked.c.score, ranked.c.sort_title, ranked.c.id)
    )
    items = list(db.session.scalars(rows_query).unique())
    total = page_total(page, per_page, len(items), lambda: search_count(terms, cache))
    return SearchResult(
        terms=terms, page=Page(items=items, page=page, per_page=per_page, total=total)
    )
