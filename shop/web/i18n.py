"""Language: Swedish first, English second; the choice is kept in the session.

Swedish is the source language (the msgids are Swedish), so the shop speaks
Swedish even when no compiled catalog (``.mo``) exists. English comes from
``shop/translations/en/LC_MESSAGES/messages.po`` (compiled by
``make translations``).
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, session
from flask_login import current_user

from shop.extensions import babel

#: Each language named in itself, for the language switch (never translated).
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}


def select_locale() -> str:
    """The session's choice, else a logged-in customer's language, else Swedish."""
    languages: list[str] = current_app.config["LANGUAGES"]
    if not has_request_context():
        return languages[0]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if getattr(current_user, "is_authenticated", False) and current_user.language in languages:
        return str(current_user.language)
    return languages[0]


def language_choices() -> list[tuple[str, str]]:
    """``(code, name)`` for every configured language, for the language switch."""
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]]


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Europe/Stockholm")
    app.add_template_global(language_choices, "language_choices")
