"""Whole rendered storefront pages, kept per process for anonymous visitors.

The home page, the catalogue, product pages and search answer an anonymous
visitor from memory for ``PAGE_CACHE_SECONDS`` (default 10 s; 0 turns the
cache off; off under ``TESTING`` unless a test sets it). Rendering is what
these pages cost, so this is what brings them near the bare framework's speed.

Safe by construction — a page is served from, or stored in, the cache only when
all of these hold, checked before the view runs and again after it rendered:

* the request is a GET or HEAD;
* nobody is logged in: the session holds no login (``_user_id``), there is no
  "remember me" cookie and no ``Authorization`` header, so no customer can be
  loaded (see :func:`_logged_in`); after rendering, ``current_user.is_authenticated``
  is False as well;
* the session holds nothing that a page could show for this visitor alone: no
  items in a guest cart, no flashed messages, and no key outside
  :data:`HARMLESS_SESSION_KEYS` (anything unknown, say a guest's orders or a
  checkout in progress, means "render afresh");
* the answer is a 200 HTML page that sets no cookie of its own (the session
  cookie is added later, by Flask, for this visitor only);
* the URL (host, path and query string) is at most :data:`MAX_KEY_LENGTH`
  characters, so hostile query strings cannot grow the keys; the cache holds
  at most :data:`MAX_ENTRIES` pages and :data:`MAX_BYTES` in all per process,
  least recently used going first.

The key is the host, the path with its raw query string (pages echo the URL
back, e.g. the language switch's ``next``, so ``?a=1&b=2`` and ``?b=2&a=1``
are kept apart) and the language. The one thing in a page that differs between
anonymous visitors, the CSRF token, is replaced by :data:`CSRF_PLACEHOLDER`
when the page is stored and by the current visitor's own token
(``generate_csrf()``) when it is served; a page in which any token field holds
anything else is not stored. Security headers are added after the view, so
cached answers get them too. ``X-Cache: hit|miss`` tells which it was.

Staleness, the trade made: prices, stock state ("I lager", "Få kvar", "Slut i
lager") and which products are listed may lag the database by up to
``PAGE_CACHE_SECONDS`` in the other worker processes (a change made through
the catalogue service empties this process's cache at once, the same hook as
the facet cache). Nothing is sold at a cached price: the cart, the checkout
and the order always recompute prices and stock from the database.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from shop.extensions import login_manager
from shop.services import cache
from shop.services.cache import CATALOGUE, BoundedCache

F = TypeVar("F", bound=Callable[..., Any])

#: Seconds a page is kept when ``PAGE_CACHE_SECONDS`` is unset (None).
DEFAULT_PAGE_CACHE_SECONDS = 10
#: Pages kept per process, and their total size.
MAX_ENTRIES = 2000
MAX_BYTES = 32 * 1024 * 1024
#: Longest host + path + query string whose page is kept.
MAX_KEY_LENGTH = 512
#: Session keys that do not change what a storefront page shows (the language is
#: part of the key; the CSRF secret is swapped for the visitor's own token; Flask-Login
#: marks anonymous sessions not fresh). An empty cart or flash list is harmless too.
HARMLESS_SESSION_KEYS = frozenset({"csrf_token", "lang", "_fresh"})
#: Session keys that may be present when empty.
EMPTY_SESSION_KEYS = frozenset({"cart", "_flashes"})
#: Stands in for the CSRF token in a stored page; it holds "<", which escaped
#: content can never produce, so it only ever replaces a token.
CSRF_PLACEHOLDER = "<page-cache:csrf-token>"
#: A CSRF token as Flask-WTF makes them (URL-safe base64 and dots).
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.\-]+\Z")
#: Every value of a hidden CSRF field in a page.
_CSRF_FIELD_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]*)"')

EXTENSION = "shop.page_cache"
_extension_lock = threading.Lock()


@dataclass(frozen=True)
class CachedPage:
    body: str  # with CSRF_PLACEHOLDER for every token
    content_type: str


def page_store() -> BoundedCache:
    """This application's page cache (made on first use)."""
    store = current_app.extensions.get(EXTENSION)
    if store is None:
        with _extension_lock:
            store = current_app.extensions.setdefault(
                EXTENSION,
                BoundedCache(topic=CATALOGUE, max_entries=MAX_ENTRIES, max_bytes=MAX_BYTES),
            )
    assert isinstance(store, BoundedCache)
    return store


def page_cache_seconds(config_key: str = "PAGE_CACHE_SECONDS") -> float:
    """The configured time to live; None means the default (0 under ``TESTING``)."""
    value = current_app.config.get(config_key)
    if value is None:
        return 0.0 if current_app.testing else float(DEFAULT_PAGE_CACHE_SECONDS)
    return max(0.0, float(value))


def _anonymous_and_impersonal() -> bool:
    """Nobody logged in, and nothing in the session a page could show for them alone."""
    if request.method not in ("GET", "HEAD"):
        return False
    config = current_app.config
    if config.get("AUTH_HEADER_NAME", "Authorization") in request.headers:
        return False
    if config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return False
    for key in session:
        if key in HARMLESS_SESSION_KEYS:
            continue
        if key in EMPTY_SESSION_KEYS and not session[key]:
            continue
        return False  # "_user_id", a cart, flashes, anything unknown
    return not _logged_in()


def _logged_in() -> bool:
    """``current_user.is_authenticated``, without loading the user when it cannot be anyone.

    Flask-Login finds a user only through the session's ``_user_id``, the remember
    cookie, the ``Authorization`` header or a request loader. With the first three
    ruled out above and no request or header loader registered, the visitor is
    anonymous for certain; otherwise (or when the user was loaded already, as while
    rendering) Flask-Login is asked.
    """
    if "_login_user" in g or _has_request_loader():
        return bool(current_user.is_authenticated)
    return False


def _has_request_loader() -> bool:
    return (
        getattr(login_manager, "_request_callback", None) is not None
        or getattr(login_manager, "_header_callback", None) is not None
    )


def _cache_key() -> tuple[str, ...] | None:
    url = request.host + request.script_root + request.path
    query = request.query_string.decode("latin-1")
    if len(url) + len(query) > MAX_KEY_LENGTH:
        return None
    return (url, query, _anonymous_locale())


def _anonymous_locale() -> str:
    """The language an anonymous visitor gets (:func:`shop.web.i18n.select_locale`: the
    session's choice, else the first language), without loading a user or a Locale.
    A page is stored only if it was rendered in this language (see :func:`_storable`)."""
    languages: list[str] = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    return str(chosen) if chosen in languages else languages[0]


def _csrf_field_name() -> str:
    return str(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))


def _storable(response: Response, key: tuple[str, ...]) -> CachedPage | None:
    """The page with its CSRF token taken out, or None when it must not be kept."""
    if (
        response.status_code != 200
        or response.mimetype != "text/html"
        or response.is_streamed
        or response.direct_passthrough
        or "Set-Cookie" in response.headers
        or "Cache-Control" in response.headers
        or not _anonymous_and_impersonal()  # the view changed nothing on the way
        or current_user.is_authenticated  # loaded while rendering: free to ask
        or str(get_locale()) != key[2]  # rendered in the language of its key
    ):
        return None
    body = response.get_data(as_text=True)
    token = g.get(_csrf_field_name())
    if token is not None:
        if not isinstance(token, str) or not _TOKEN_RE.match(token):
            return None
        body = body.replace(token, CSRF_PLACEHOLDER)
    if any(value != CSRF_PLACEHOLDER for value in _CSRF_FIELD_RE.findall(body)):
        return None
    return CachedPage(body=body, content_type=response.content_type or "text/html")


def _serve(page: CachedPage) -> Response:
    body = page.body
    if CSRF_PLACEHOLDER in body:
        body = body.replace(CSRF_PLACEHOLDER, generate_csrf())
    response = current_app.response_class(body, status=200, content_type=page.content_type)
    response.headers["X-Cache"] = "hit"
    return response


def anonymous_page_cache(seconds_config_key: str = "PAGE_CACHE_SECONDS") -> Callable[[F], F]:
    """Serve the view's page from the per-process cache to anonymous visitors."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            ttl = page_cache_seconds(seconds_config_key)
            if ttl <= 0 or not _anonymous_and_impersonal():
                return view(*args, **kwargs)
            key = _cache_key()
            if key is None:
                return view(*args, **kwargs)
            store = page_store()
            cached = store.get(key)
            if isinstance(cached, CachedPage):
                return _serve(cached)
            generation = cache.generation(store.topic)  # before reading the database
            response = current_app.make_response(view(*args, **kwargs))
            page = _storable(response, key)
            if page is not None:
                size = len(page.body.encode())
                store.put(key, page, ttl=ttl, size=size, generation=generation)
                response.headers["X-Cache"] = "miss"
            return response

        return cast(F, wrapped)

    return decorator
