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
from sqlalchemy.orm import contains_eager

from shop.extensions import db
from shop.models import Product
from shop.services.catalog import Page, check_page_number, fold_tokens

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
    return vector.op("@@")(tsquery), func.ts_rank(vector, tsquery).desc()


def _sqlite_query(terms: list[str]) -> tuple[Any, Any]:
    match_text = " ".join(f'"{term}"*' for term in terms)
    fts: Any = literal_column("product_fts")
    condition = fts.op("MATCH")(bindparam("match", match_text))
    return condition, func.bm25(fts, 10.0, 1.0).asc()


def _matching(query: Select[Any], terms: list[str], dialect: str) -> tuple[Select[Any], Any]:
    if dialect == "postgresql":
        condition, rank = _pg_query(terms)
        return query.where(condition, Product.active), rank
    condition, rank = _sqlite_query(terms)
    query = query.join(_product_fts, _product_fts.c.rowid == Product.id)
    return query.where(condition, Product.active), rank


def search_products(raw_query: str | None, page: int, per_page: int) -> SearchResult:
    """Active products matching every word of the query, best first (two queries).

    An empty query (or one with no words) gives no results. Raises
    :class:`~shop.services.catalog.PageNotFound` for a page beyond the last.
    """
    terms = query_terms(raw_query)
    if not terms:
        check_page_number(page, 0, per_page)
        return SearchResult(terms=[], page=Page(items=[], page=1, per_page=per_page, total=0))
    dialect = db.engine.dialect.name
    count_query, _ = _matching(select(func.count(Product.id)), terms, dialect)
    total = db.session.scalar(count_query) or 0
    check_page_number(page, total, per_page)
    rows_query, rank = _matching(select(Product), terms, dialect)
    rows_query = (
        rows_query.outerjoin(Product.stock)
        .options(contains_eager(Product.stock))
        .order_by(rank, Product.sort_title, Product.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = list(db.session.scalars(rows_query).unique())
    return SearchResult(
        terms=terms, page=Page(items=items, page=page, per_page=per_page, total=total)
    )
