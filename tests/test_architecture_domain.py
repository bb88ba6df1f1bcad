"""The domain layer stays pure: no framework, database, SDK, network or clock.

Walks every module of ``shop/domain`` with ``ast`` (shared/spec/architecture.md,
"Layers and what each may import").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parent.parent / "shop" / "domain"
BANNED_MODULES = {"flask", "sqlalchemy", "flask_sqlalchemy", "stripe", "requests"}
BANNED_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
}


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def violations(source: str) -> list[str]:
    """The banned imports and clock calls in ``source``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.extend(f"imports {name}" for name in names if name.split(".")[0] in BANNED_MODULES)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else None
            )
            if (owner_name, node.func.attr) in BANNED_CALLS:
                found.append(f"line {node.lineno}: calls {owner_name}.{node.func.attr}()")
    return found


def test_the_domain_has_modules() -> None:
    names = {path.name for path in domain_modules()}
    assert {"money.py", "vat.py", "calendar.py", "policy.py", "withdrawal.py"} <= names


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: p.name)
def test_domain_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import flask",
        "from sqlalchemy.orm import Session",
        "import flask_sqlalchemy as fsa",
        "import stripe",
        "from requests import get",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "import datetime\nx = datetime.date.today()",
        "import time\nx = time.time()",
    ],
)
def test_the_checker_catches_violations(source: str) -> None:
    assert violations(source) != []


def test_the_checker_accepts_pure_code() -> None:
    assert violations("from datetime import date, timedelta\nx = date(2026, 1, 1)") == []
