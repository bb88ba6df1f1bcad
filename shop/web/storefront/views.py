"""Storefront: home, catalogue, product pages, search."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("storefront", __name__)


@bp.get("/")
def home() -> str:
    return render_template("storefront/home.html")


@bp.get("/sok")
def search() -> str:
    return render_template("storefront/home.html")
