"""Language: Swedish first, English second; the choice is kept in the session.

Swedish is the source language (the msgids are Swedish), so the shop speaks
Swedish even when no compiled catalog (``.mo``) exists. English comes from
``shop/translations/en/LC_MESSAGES/messages.po`` (compiled by
``make translations``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, session
from flask_babel import get_locale, get_translations
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


def current_translations() -> Any:
    """The translations of the current locale, looked up once per locale and app context.

    Templates call ``_()`` dozens of times per page, and flask-babel's own
    lookup walks the context proxies and formats the locale on every call. The
    locale object is the cache key, so :func:`flask_babel.force_locale` (a mail
    in the recipient's language) gets its own translations, and the request's
    come back afterwards. The locale is read where flask-babel keeps it for the
    context (``g._flask_babel.babel_locale``), else asked of flask-babel.
    """
    if not has_app_context():
        return get_translations()
    store = g._get_current_object()
    locale = getattr(getattr(store, "_flask_babel", None), "babel_locale", None) or get_locale()
    cached = getattr(store, "_shop_translations", None)
    if cached is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    store._shop_translations = (locale, translations)
    return translations


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Europe/Stockholm")
    app.add_template_global(language_choices, "language_choices")
    # flask-babel's callables, with the translations looked up once (see current_translations).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: current_translations().ugettext(s),
        ngettext=lambda s, p, n: current_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: current_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: current_translations().unpgettext(c, s, p, n),
    )
