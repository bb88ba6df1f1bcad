"""The data map (shop/models/datamap.py) covers every column that may hold personal data.

privacy.md section 1: every table and column holding personal data names its
category, so the retention rules of section 2 reach it. A column "may hold
personal data" when its name says so (name, e-mail, phone, address, birth
date, personal or organisation number, IP address, free text) or when it is
of a text kind at all (strings, free text, JSON, binary files): each such
column is either personal (with a category) or listed as not personal.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

import shop.models  # noqa: F401 - registers every model
from shop.extensions import db
from shop.models.datamap import (
    CATEGORIES,
    DATA_MAP,
    Category,
    TableEntry,
    personal,
    personal_columns,
    tables_in,
)

#: Column names that say "a person's data", whatever their type.
PERSONAL_NAME = re.compile(
    r"(^|_)(name|e?mail|email|phone|mobile|tel|address|street|postcode|zip|city|birth"
    r"|born|personal_number|personnummer|ssn|organisation_number|org_number|ip"
    r"|description|note|notes|comment|message|text|reason|body)(_|$)"
)
TEXT_KINDS = (sa.String, sa.Text, sa.JSON, sa.LargeBinary, sa.PickleType)
RULE_IDS = {f"R2.{n}" for n in range(1, 9)}


def _tables() -> dict[str, sa.Table]:
    return {
        mapper.local_table.name: mapper.local_table
        for mapper in db.Model.registry.mappers
        if isinstance(mapper.local_table, sa.Table)
    }


def may_hold_personal_data(column: sa.Column[object]) -> bool:
    """A text-kind column, or one named like personal data (keys and references are not)."""
    if isinstance(column.type, TEXT_KINDS):
        return True
    if column.primary_key or column.foreign_keys:
        return False
    return bool(PERSONAL_NAME.search(column.name))


def _references_customer(table: sa.Table) -> bool:
    return any(fk.column.table.name == "customer" for fk in table.foreign_keys)


def _suggested_line(table: sa.Table, columns: list[str]) -> str:
    named = " ".join(c for c in columns if PERSONAL_NAME.search(c))
    other = " ".join(c for c in columns if not PERSONAL_NAME.search(c))
    return (
        f'    "{table.name}": personal(Category.<CATEGORY>, "{named}", not_personal="{other}"),\n'
        f'  or, if it is about no person: "{table.name}": no_personal_data("{named} {other}"),'
    )


def unclassified() -> list[str]:
    """One instruction per table or column the data map misses."""
    problems = []
    for name, table in sorted(_tables().items()):
        suspects = [c.name for c in table.columns if may_hold_personal_data(c)]
        item = DATA_MAP.get(name)
        if item is None:
            problems.append(
                f"Table {name!r} is not in DATA_MAP (shop/models/datamap.py). Add one line:\n"
                + _suggested_line(table, suspects)
            )
            continue
        for column in suspects:
            if column not in item.classified:
                kind = type(table.columns[column].type).__name__
                problems.append(
                    f"Column {name}.{column} ({kind}) may hold personal data and has no "
                    f'category: in DATA_MAP["{name}"] (shop/models/datamap.py) add '
                    f'"{column}" to the personal columns (with its category from privacy.md '
                    f'section 1), or to not_personal="…" if it holds no personal data.'
                )
    return problems


def test_every_column_that_may_hold_personal_data_is_classified() -> None:
    problems = unclassified()
    assert not problems, "\n".join(
        ["The data map misses personal data (privacy.md section 1):", *problems]
    )


def test_the_map_names_only_tables_and_columns_that_exist() -> None:
    tables = _tables()
    stale = []
    for name, item in DATA_MAP.items():
        if name not in tables:
            stale.append(f'DATA_MAP["{name}"]: there is no such table; remove the line.')
            continue
        for column in sorted(item.classified - set(tables[name].columns.keys())):
            stale.append(f'DATA_MAP["{name}"]: {name} has no column {column!r}; remove it.')
    assert not stale, "\n".join(stale)


def test_no_column_is_both_personal_and_not_personal() -> None:
    both = {
        name: sorted(set(item.personal) & item.not_personal)
        for name, item in DATA_MAP.items()
        if set(item.personal) & item.not_personal
    }
    assert not both


def test_tables_about_a_customer_have_a_category_and_a_retention_rule() -> None:
    """A table that points at a customer holds data about that person (R2)."""
    for name, table in _tables().items():
        item = DATA_MAP[name]
        if _references_customer(table) or item.personal:
            assert item.category is not None, f'DATA_MAP["{name}"] needs a category'
            assert item.rules, f'DATA_MAP["{name}"] needs a retention rule'
        assert set(item.rules) <= RULE_IDS, f'DATA_MAP["{name}"]: unknown rule {item.rules}'


def test_every_category_has_a_basis_and_a_rule() -> None:
    assert set(CATEGORIES) == set(Category)
    for info in CATEGORIES.values():
        assert info.basis
        assert set(info.rules) <= RULE_IDS


def test_the_core_personal_columns_have_the_category_of_section_1() -> None:
    assert DATA_MAP["customer"].personal["email"] is Category.ACCOUNT
    assert DATA_MAP["customer"].personal["birth_date"] is Category.ACCOUNT
    assert DATA_MAP["shop_order"].personal["billing_street"] is Category.ACCOUNT
    assert DATA_MAP["shop_order"].category is Category.ORDER_HISTORY
    assert DATA_MAP["consent"].personal["email"] is Category.NEWSLETTER_CONSENT
    assert DATA_MAP["credit_check"].personal["organisation_number"] is Category.CREDIT_DATA
    assert DATA_MAP["bookkeeping_record"].rules == ("R2.3",)
    assert DATA_MAP["customer"].rules == ("R2.1", "R2.2")


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (sa.Column("notes", sa.Text), True),
        (sa.Column("status", sa.String(10)), True),
        (sa.Column("payload", sa.JSON), True),
        (sa.Column("birth_date", sa.Date), True),
        (sa.Column("ip_address", sa.Integer), True),
        (sa.Column("personal_number", sa.Integer), True),
        (sa.Column("quantity", sa.Integer), False),
        (sa.Column("message_id", sa.Integer, sa.ForeignKey("outbox_message.id")), False),
        (sa.Column("created_at", sa.DateTime), False),
    ],
)
def test_detection_by_name_and_by_type(column: sa.Column[object], expected: bool) -> None:
    assert may_hold_personal_data(column) is expected


def test_a_new_unclassified_column_fails_with_what_to_add(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message says which line to change and how."""
    shortened = dict(DATA_MAP)
    customer = DATA_MAP["customer"]
    shortened["customer"] = TableEntry(
        category=customer.category,
        rules=customer.rules,
        personal={k: v for k, v in customer.personal.items() if k != "phone"},
        not_personal=customer.not_personal,
    )
    del shortened["consent"]
    monkeypatch.setattr("tests.test_datamap.DATA_MAP", shortened)
    problems = unclassified()
    assert any(
        "Column customer.phone (String) may hold personal data" in p and 'DATA_MAP["customer"]' in p
        for p in problems
    )
    assert any(
        "Table 'consent' is not in DATA_MAP" in p
        and '"consent": personal(Category.<CATEGORY>, "email", '
        'not_personal="purpose action source wording_version")'
        in p
        for p in problems
    )
    assert len(problems) == 2


def test_personal_builds_a_one_line_entry() -> None:
    item = personal(Category.COURSE_PARTICIPANTS, "name birth_date", not_personal="status")
    assert item.personal == {
        "name": Category.COURSE_PARTICIPANTS,
        "birth_date": Category.COURSE_PARTICIPANTS,
    }
    assert item.rules == ("R2.5",)
    assert item.not_personal == {"status"}


def test_lookups_for_the_sweeper_and_the_back_office() -> None:
    assert "consent" in tables_in(Category.NEWSLETTER_CONSENT)
    assert "product" not in tables_in(Category.ACCOUNT)
    assert personal_columns("withdrawal", Category.ACCOUNT) == ["name", "email"]
    assert "billing_city" in personal_columns("shop_order")
    assert personal_columns("product") == []
