"""Search: Swedish folding, ranking, prefixes, safe tokenising, the index kept in sync."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import Flask

from shop.domain.catalog import ProductKind
from shop.extensions import db
from shop.services import catalog, search
from shop.services.catalog import PageNotFound, fold, fold_tokens, search_text_for
from tests.web.test_catalogue import add_product
from tests.web.test_search import HOSTILE_QUERIES


def found(query: str, per_page: int = 50) -> list[str]:
    return [p.title for p in search.search_products(query, 1, per_page).page.items]


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Björk", "bjork"),
        ("BJÖRK", "bjork"),
        ("Ålänge Äng", "alange ang"),
        ("Alfvén", "alfven"),
        ("Bærentsen Søren", "baerentsen soren"),
        ("Straße", "strasse"),
        ("Dvořák", "dvorak"),
    ],
)
def test_fold_lowercases_and_strips_accents(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_tokens_keep_only_letters_and_digits() -> None:
    assert fold_tokens('"Op. 27:2" (Månsken) -- *NEAR* 100% _x_') == [
        "op",
        "27",
        "2",
        "mansken",
        "near",
        "100",
        "x",
    ]


def test_search_text_has_title_words_first_then_the_rest(app: Flask) -> None:
    product = add_product(
        "Sånger för Kör",
        composer="Wilhelm Peterson-Berger",
        arranger="Anders Öhrwall",
        publisher="Gehrmans Musikförlag",
        description="Tio sånger, <b>fint</b>!",
    )
    assert search_text_for(product) == product.search_text
    title_line, rest = product.search_text.split("\n")
    assert title_line == "sanger for kor"
    for word in ("wilhelm", "peterson", "berger", "anders", "ohrwall", "gehrmans", "fint"):
        assert word in rest.split()
    assert product.search_text == product.search_text.lower()


def test_query_terms_are_capped_and_safe() -> None:
    assert search.query_terms(None) == []
    assert search.query_terms('  "(NEAR OR *%_- ') == ["near", "or"]
    assert len(search.query_terms("a b c d e f g h i j k l")) == search.MAX_TERMS
    assert search.query_terms("x" * 500) == ["x" * search.MAX_TERM_LENGTH]
    assert search.query_terms("bach " * 100) == ["bach"]
    long_query = "a" * 199 + " beethoven"
    assert search.query_terms(long_query) == ["a" * search.MAX_TERM_LENGTH]


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize("query", ["bjork", "BJÖRK", "björk", "Björk", "bjö"])
def test_swedish_characters_and_case_do_not_matter(app: Flask, query: str) -> None:
    add_product("Visor", composer="Anna Björk")
    add_product("Sonater", composer="Ludwig van Beethoven")
    assert found(query) == ["Visor"]


def test_folded_text_is_found_by_its_accented_form(app: Flask) -> None:
    add_product("Midsommarvaka", composer="Hugo Alfvén")
    assert found("alfvén") == found("alfven") == found("ALFVEN") == ["Midsommarvaka"]


def test_prefix_finds_the_whole_word(app: Flask) -> None:
    add_product("Månskenssonaten", composer="Ludwig van Beethoven")
    assert found("beeth") == ["Månskenssonaten"]
    assert found("mansk") == ["Månskenssonaten"]


def test_every_word_must_match(app: Flask) -> None:
    add_product("Pianosonater", composer="Ludwig van Beethoven")
    add_product("Pianosonater", composer="Wolfgang Amadeus Mozart")
    assert found("pianosonater mozart") == ["Pianosonater"]
    assert len(found("pianosonater")) == 2
    assert found("pianosonater grieg") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("composer", "Wilhelm Stenhammar"),
        ("arranger", "Robert Sund"),
        ("publisher", "Gehrmans Musikförlag"),
        ("description", "En älskad klassiker från Värmland."),
    ],
)
def test_search_covers_title_composer_arranger_publisher_description(
    app: Flask, field: str, value: str
) -> None:
    add_product("Utgåvan", **{field: value})
    add_product("Något annat")
    word = fold_tokens(value)[-1]
    assert found(word) == ["Utgåvan"]


def test_title_matches_rank_above_description_matches(app: Flask) -> None:
    add_product("Pianoskola", description="Grunderna för nybörjare, med Grieg och Bach.")
    add_product("Lyriska stycken", composer="Edvard Grieg", description="Ett urval.")
    add_product("Grieg för gitarr", description="Enkla arrangemang.")
    results = found("grieg")
    assert results[0] == "Grieg för gitarr"
    assert results[-1] == "Pianoskola"


def test_inactive_products_are_not_found(app: Flask) -> None:
    product = add_product("Aftonen", composer="Hugo Alfvén")
    catalog.update_product(product, active=False)
    assert found("alfven") == []


def test_the_index_follows_updates_and_deletes(app: Flask) -> None:
    product = add_product("Aftonen", composer="Hugo Alfvén", kind=ProductKind.DOWNLOAD)
    catalog.update_product(product, title="Roslagsvår", composer="Wilhelm Stenhammar")
    assert found("aftonen") == []
    assert found("roslagsvar stenhammar") == ["Roslagsvår"]
    db.session.delete(product)
    db.session.commit()
    assert found("roslagsvar") == []


def test_search_pages(app: Flask) -> None:
    for n in range(5):
        add_product(f"Polska {n}", composer="Traditionell")
    result = search.search_products("polska", 2, 2)
    assert result.page.total == 5
    assert result.page.pages == 3
    assert len(result.page.items) == 2
    with pytest.raises(PageNotFound):
        search.search_products("polska", 4, 2)
    with pytest.raises(PageNotFound):
        search.search_products("", 2, 2)


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_input_is_tokenised_not_interpreted(app: Flask, query: str) -> None:
    add_product("Sviter för cello", composer="Johann Sebastian Bach")
    result = search.search_products(query, 1, 24)
    assert len(result.terms) <= search.MAX_TERMS
    if "bach" in result.terms and len(result.terms) == 1:
        assert [p.title for p in result.page.items] == ["Sviter för cello"]


def test_long_input_is_quick(app: Flask) -> None:
    for n in range(30):
        add_product(f"Sonat {n}", composer="Ludwig van Beethoven")
    started = time.perf_counter()
    for _ in range(5):
        search.search_products("beethoven sonat " * 100 + "ö" * 5000, 1, 24)
    assert time.perf_counter() - started < 2.0


def test_postgresql_search_uses_the_fts_index(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    add_product("Sonat", composer="Ludwig van Beethoven")
    query = sa.text(
        f"EXPLAIN SELECT id FROM product WHERE {search.PG_VECTOR_COLUMN} "
        "@@ to_tsquery('simple'::regconfig, 'beeth:*')"
    )
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db.session.execute(query))
    db.session.rollback()
    assert "fts_product_search" in plan
