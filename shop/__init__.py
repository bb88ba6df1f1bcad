"""The shop: a Flask web shop for Nordic music retailers.

``create_app`` lives in :mod:`shop.app`; it is imported lazily here so that
``import shop.domain`` (the pure terms of purchase) never loads Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application (see :func:`shop.app.create_app`)."""
    from shop.app import create_app as _create_app

    return _create_app(test_config)
