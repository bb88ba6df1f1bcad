"""Language: Swedish first, English second; the choice is kept in the session."""

from __future__ import annotations

from flask import Flask, current_app, session
from flask_login import current_user

from shop.extensions import babel


def select_locale() -> str:
    languages: list[str] = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if getattr(current_user, "is_authenticated", False) and current_user.language in languages:
        return str(current_user.language)
    return languages[0]


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Europe/Stockholm")
