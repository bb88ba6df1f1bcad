"""Accounts: register, log in and out, password reset, contact details."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/konto")


@bp.get("/")
def overview() -> str:
    return ""


@bp.get("/logga-in")
def login() -> str:
    return ""


@bp.post("/logga-ut")
def logout() -> str:
    return ""


@bp.get("/skapa")
def register() -> str:
    return ""
