"""Demo data: ``flask demo load`` fills an empty shop with a realistic catalogue and logins.

Prices follow T2.1 (incl. VAT, 6 % for sheet music and books, 25 % for
instruments, accessories and software); the organisation has a valid
organisation number (T1.2).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from shop.demo import DEMO_LOGINS, DEMO_PRODUCT_COUNT, generate_products, insert_products
from shop.domain.buyers import normalise_org_number
from shop.extensions import db
from shop.models import Category, Customer, Product, StockLevel
from shop.models.customer import Role
from shop.services import catalog, courses, customers, search
from shop.services.catalog import search_text_from

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_generate_products_is_deterministic_and_unique() -> None:
    first = generate_products(500, seed=7, now=NOW)
    assert first == generate_products(500, seed=7, now=NOW)
    assert first != generate_products(500, seed=8, now=NOW)
    assert len({row["sku"] for row in first}) == 500
    assert len({row["slug"] for row in first}) == 500
    other_seed = {row["sku"] for row in generate_products(500, seed=8, now=NOW)}
    assert not other_seed & {row["sku"] for row in first}


def test_generated_prices_and_vat_rates_follow_t2_1() -> None:
    rows = generate_products(2000, seed=1, now=NOW)
    for row in rows:
        category, kind, price_kr = row["category_slug"], row["kind"], row["price_ore"] / 100
        assert row["price_ore"] % 100 == 0
        assert row["search_text"] == search_text_from(row)
        if category in ("noter", "bocker"):
            assert row["vat_rate_bp"] == 600
        else:
            assert row["vat_rate_bp"] == 2500
        if category == "noter" and kind == "physical":
            assert 89 <= price_kr <= 495
            assert 1 <= row["difficulty"] <= 5
            assert row["instrumentation"]
            assert row["publisher"]
        if category == "instrument":
            assert 1295 <= price_kr <= 34900
        if kind in ("download", "software_code"):
            assert row["on_hand"] is None
            assert row["weight_g"] == 0
        else:
            assert row["on_hand"] >= 0
            assert row["weight_g"] > 0
    stock = [row["on_hand"] for row in rows if row["on_hand"] is not None]
    assert 0 in stock
    assert any(1 <= n <= 3 for n in stock)
    assert {row["kind"] for row in rows} == {
        "physical",
        "download",
        "software_boxed",
        "software_code",
    }


def test_insert_products_bulk_loads_rows_with_stock(app: Flask) -> None:
    rows = generate_products(40, seed=3, now=NOW)
    assert insert_products(rows) == 40
    assert db.session.scalar(select(func.count(Product.id))) == 40
    stocked = sum(1 for row in rows if row["on_hand"] is not None)
    assert db.session.scalar(select(func.count()).select_from(StockLevel)) == stocked
    first = rows[0]
    product = catalog.product_by_slug(first["slug"])
    assert product is not None
    assert product.category.slug == first["category_slug"]
    assert search.search_products(first["title"], 1, 50).page.total >= 1


def test_demo_load_fills_every_category_and_creates_logins(
    app: Flask, runner: FlaskCliRunner
) -> None:
    started = time.perf_counter()
    result = runner.invoke(args=["demo", "load"])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 10
    for login in DEMO_LOGINS:
        assert login.email in result.output
        assert login.password in result.output

    total = db.session.scalar(select(func.count(Product.id)))
    assert total == DEMO_PRODUCT_COUNT >= 300
    per_category = dict(
        db.session.execute(
            select(Category.slug, func.count(Product.id))
            .outerjoin(Product, Product.category_id == Category.id)
            .group_by(Category.slug)
        ).all()
    )
    # Courses get their own pages later; the category exists and says so.
    assert per_category.pop("kurser") == 0
    assert set(per_category) == {"noter", "bocker", "programvara", "instrument", "tillbehor"}
    assert all(n >= 10 for n in per_category.values()), per_category

    composers = set(db.session.scalars(select(Product.composer).distinct()))
    assert {"Hugo Alfvén", "Johann Sebastian Bach", "Evert Taube"} <= composers
    assert search.search_products("alfven", 1, 24).page.total > 0

    consumer, organisation, staff, teacher = (customers.find_by_email(x.email) for x in DEMO_LOGINS)
    assert consumer
    assert organisation
    assert staff
    assert consumer.kind == "consumer"
    assert not consumer.is_staff
    assert organisation.kind == "organisation"
    assert organisation.organisation_number == normalise_org_number(
        organisation.organisation_number or ""
    )
    assert staff.roles == {Role.STAFF, Role.FINANCE, Role.ADMIN}
    assert teacher
    assert teacher.roles == {Role.TEACHER}
    assert len(courses.upcoming_courses(NOW.date())) == 4
    for person, login in zip((consumer, organisation, staff, teacher), DEMO_LOGINS, strict=True):
        assert customers.password_matches(person, login.password)


def test_demo_load_if_empty_is_idempotent(app: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["demo", "load", "--if-empty"]).exit_code == 0
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0
    assert "no demo data loaded" in again.output
    assert db.session.scalar(select(func.count(Product.id))) == DEMO_PRODUCT_COUNT
    assert db.session.scalar(select(func.count(Customer.id))) == len(DEMO_LOGINS)
    refused = runner.invoke(args=["demo", "load"])
    assert refused.exit_code != 0
    assert "already has" in refused.output
