"""The layer table (docs: architecture), enforced on the source with ``ast``.

shop/domain has its own test (tests/test_architecture_domain.py); this one
covers the other rows:

- shop/models imports neither ``flask_login.current_user`` nor ``flask.request``,
  ``smtplib``, ``requests`` or ``stripe``;
- shop/services imports neither ``flask.request`` nor ``current_user`` nor ``stripe``;
- shop/web imports neither ``stripe`` nor ``requests`` and never calls
  ``db.session.commit()`` (views stay thin; services own the transaction);
- at most one module, shop/payments/stripe.py, imports ``stripe``;
- only shop/clock.py reads the wall clock (``datetime.now()``, ``date.today()``,
  ``datetime.utcnow()``).

Every failure names the file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest

from shop.config import PROJECT_ROOT

STRIPE_MODULE = "shop/payments/stripe.py"
CLOCK_MODULE = "shop/clock.py"


@dataclass(frozen=True)
class Use:
    """One imported name (``module`` or ``module.name``) at a line."""

    name: str
    line: int


def _imports(tree: ast.AST) -> list[Use]:
    """Every module and module attribute the source imports or reaches through a module.

    ``import flask`` + ``flask.request`` and ``from flask import request`` both
    give ``flask.request``; ``import stripe.checkout`` gives ``stripe.checkout``.
    """
    uses: list[Use] = []
    module_aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                uses.append(Use(alias.name, node.lineno))
                if alias.asname:
                    module_aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    module_aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            uses.append(Use(node.module, node.lineno))
            for alias in node.names:
                uses.append(Use(f"{node.module}.{alias.name}", node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = module_aliases.get(node.value.id)
            if module:
                uses.append(Use(f"{module}.{node.attr}", node.lineno))
    return uses


def _matches(name: str, forbidden: str) -> bool:
    return name == forbidden or name.startswith(forbidden + ".")


def forbidden_imports(tree: ast.AST, forbidden: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, forbidden name) for each use of a forbidden module or module attribute."""
    found = {
        (use.line, rule) for use in _imports(tree) for rule in forbidden if _matches(use.name, rule)
    }
    return sorted(found)


def session_commits(tree: ast.AST) -> list[int]:
    """Lines calling ``<something>.session.commit()`` (e.g. ``db.session.commit()``)."""
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit"
        ):
            owner = node.func.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "session") or (
                isinstance(owner, ast.Name) and owner.id == "session"
            ):
                lines.append(node.lineno)
    return sorted(lines)


_CLOCK_READS = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
}


def clock_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, call) for each wall-clock read: ``datetime.now()``, ``date.today()``, ``….utcnow()``.

    Follows ``import datetime``, ``import datetime as dt`` and
    ``from datetime import datetime as DT`` aliases; the shop's own
    ``clock.now()``/``clock.utcnow()`` are not wall-clock reads.
    """
    classes: dict[str, str] = {}  # local name -> "datetime" | "date"
    modules: set[str] = set()  # local names bound to the datetime module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "datetime":
                    modules.add(alias.asname or "datetime")
        elif isinstance(node, ast.ImportFrom) and node.module == "datetime":
            for alias in node.names:
                if alias.name in _CLOCK_READS:
                    classes[alias.asname or alias.name] = alias.name
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        owner = node.func.value
        cls: str | None = None
        if isinstance(owner, ast.Name) and owner.id in classes:
            cls = classes[owner.id]
        elif (
            isinstance(owner, ast.Attribute)
            and isinstance(owner.value, ast.Name)
            and owner.value.id in modules
            and owner.attr in _CLOCK_READS
        ):
            cls = owner.attr
        if cls and method in _CLOCK_READS[cls]:
            found.append((node.lineno, f"{cls}.{method}()"))
        elif method == "utcnow" and cls is None and not _is_shop_clock(owner):
            found.append((node.lineno, "utcnow()"))
    return sorted(found)


def _is_shop_clock(owner: ast.expr) -> bool:
    return isinstance(owner, ast.Name) and owner.id == "clock"


# --- the source ---------------------------------------------------------------------------------


def _modules(under: str = "shop") -> list[tuple[str, ast.Module]]:
    root = PROJECT_ROOT / under
    result = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(PROJECT_ROOT).as_posix()
        result.append((rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)))
    return result


@pytest.fixture(scope="module")
def sources() -> list[tuple[str, ast.Module]]:
    modules = _modules()
    assert len(modules) > 10, "found too few modules under shop/ to check the layers"
    return modules


def _in_layer(sources: list[tuple[str, ast.Module]], layer: str) -> list[tuple[str, ast.Module]]:
    found = [(rel, tree) for rel, tree in sources if rel.startswith(layer + "/")]
    assert found, f"no modules under {layer}/"
    return found


LAYER_RULES = [
    pytest.param(
        "shop/models",
        ("flask_login.current_user", "flask.request", "smtplib", "requests", "stripe"),
        id="models",
    ),
    pytest.param(
        "shop/services", ("flask.request", "flask_login.current_user", "stripe"), id="services"
    ),
    pytest.param("shop/web", ("stripe", "requests"), id="web"),
]


@pytest.mark.parametrize(("layer", "forbidden"), LAYER_RULES)
def test_layer_does_not_import(
    sources: list[tuple[str, ast.Module]], layer: str, forbidden: tuple[str, ...]
) -> None:
    """Each layer keeps to its row of the layer table."""
    problems = [
        f"{rel}:{line}: {layer} must not use {name}"
        for rel, tree in _in_layer(sources, layer)
        for line, name in forbidden_imports(tree, forbidden)
    ]
    assert not problems, "\n".join(problems)


def test_views_do_not_commit(sources: list[tuple[str, ast.Module]]) -> None:
    """Views stay thin: the transaction is committed in shop/services, never in shop/web."""
    problems = [
        f"{rel}:{line}: shop/web must not call session.commit(); commit in a service"
        for rel, tree in _in_layer(sources, "shop/web")
        for line in session_commits(tree)
    ]
    assert not problems, "\n".join(problems)


def test_only_the_payment_adapter_imports_stripe(sources: list[tuple[str, ast.Module]]) -> None:
    """Stripe is reached through one adapter module only."""
    problems = [
        f"{rel}:{line}: only {STRIPE_MODULE} may import stripe"
        for rel, tree in sources
        if rel != STRIPE_MODULE
        for line, _ in forbidden_imports(tree, ("stripe",))
    ]
    assert not problems, "\n".join(problems)


def test_only_the_clock_reads_the_time(sources: list[tuple[str, ast.Module]]) -> None:
    """One clock (shop/clock.py): everything else takes ``now``/``today`` or calls ``clock``."""
    problems = [
        f"{rel}:{line}: {call} outside {CLOCK_MODULE}; use shop.clock and pass the time down"
        for rel, tree in sources
        if rel != CLOCK_MODULE
        for line, call in clock_reads(tree)
    ]
    assert not problems, "\n".join(problems)


# --- the checkers catch what they must (a checker that finds nothing proves nothing) -----------


def _parse(source: str) -> ast.Module:
    return ast.parse(source)


@pytest.mark.parametrize(
    ("source", "forbidden", "expected"),
    [
        ("import stripe", ("stripe",), [(1, "stripe")]),
        ("import stripe.checkout as sc", ("stripe",), [(1, "stripe")]),
        ("from stripe import Webhook", ("stripe",), [(1, "stripe")]),
        ("from flask import request", ("flask.request",), [(1, "flask.request")]),
        ("import flask\nx = flask.request.args", ("flask.request",), [(2, "flask.request")]),
        ("from flask import g, render_template", ("flask.request",), []),
        (
            "from flask_login import current_user",
            ("flask_login.current_user",),
            [(1, "flask_login.current_user")],
        ),
        ("from flask_login import login_user", ("flask_login.current_user",), []),
        ("import requests_toolbelt", ("requests",), []),
        ("def f():\n    import smtplib", ("smtplib",), [(2, "smtplib")]),
    ],
)
def test_import_checker(
    source: str, forbidden: tuple[str, ...], expected: list[tuple[int, str]]
) -> None:
    assert forbidden_imports(_parse(source), forbidden) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("db.session.commit()", [1]),
        ("from shop import extensions\nextensions.db.session.commit()", [2]),
        ("session = db.session\nsession.commit()", [2]),
        ("db.session.flush()", []),
        ("services.cart.commit_order()", []),
    ],
)
def test_commit_checker(source: str, expected: list[int]) -> None:
    assert session_commits(_parse(source)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from datetime import datetime\ndatetime.now()", [(2, "datetime.now()")]),
        ("from datetime import datetime, UTC\nx = datetime.now(UTC)", [(2, "datetime.now()")]),
        ("from datetime import date\ndate.today()", [(2, "date.today()")]),
        ("import datetime\ndatetime.date.today()", [(2, "date.today()")]),
        ("import datetime as dt\ndt.datetime.utcnow()", [(2, "datetime.utcnow()")]),
        ("from datetime import datetime as DT\nDT.now()", [(2, "datetime.now()")]),
        ("arrow.utcnow()", [(1, "utcnow()")]),
        ("from shop import clock\nclock.now()\nclock.today()\nclock.utcnow()", []),
        ("from datetime import date\ndate(2026, 1, 1)", []),
    ],
)
def test_clock_checker(source: str, expected: list[tuple[int, str]]) -> None:
    assert clock_reads(_parse(source)) == expected
