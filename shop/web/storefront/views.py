"""Storefront: home, catalogue, product pages, placeholder pictures and search."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from werkzeug.routing import UnicodeConverter
from werkzeug.wrappers import Response

from shop.extensions import limiter
from shop.services import catalog, search
from shop.services.cache import TTLCache
from shop.services.catalog import CategoryInfo, ListingFilters, PageNotFound, SortOrder
from shop.web.page_cache import anonymous_page_cache
from shop.web.pages.views import current_policy
from shop.web.storefront.images import product_svg

bp = Blueprint("storefront", __name__)

#: Products shown under "Nyheter" on the home page.
HOME_NEW_PRODUCTS = 8
#: The category whose page is the course list (T9).
COURSE_CATEGORY = "kurser"
#: Longest page number accepted in a query string.
MAX_PAGE_DIGITS = 6
IMAGE_MAX_AGE = 60 * 60 * 24
#: Seconds facets (menu categories, filter instruments, result counts) are kept per
#: process, unless ``CATALOGUE_CACHE_SECONDS`` says otherwise (tests: off by default,
#: since their fixtures empty the database behind the catalogue service's back).
DEFAULT_FACET_CACHE_SECONDS = 30
FACET_CACHE_EXTENSION = "shop.facet_cache"


@bp.record_once
def _set_up_facet_cache(state: BlueprintSetupState) -> None:
    app = state.app
    default = 0 if app.testing else DEFAULT_FACET_CACHE_SECONDS
    ttl = float(app.config.get("CATALOGUE_CACHE_SECONDS", default))
    app.extensions[FACET_CACHE_EXTENSION] = TTLCache(ttl)


def facet_cache() -> TTLCache:
    """This application's per-process facet cache (see :mod:`shop.services.cache`)."""
    cache: TTLCache = current_app.extensions[FACET_CACHE_EXTENSION]
    return cache


def cached_nav_categories() -> list[CategoryInfo]:
    """Top-level categories, read once per request at most (from the facet cache)."""
    if "_nav_categories" not in g:
        g._nav_categories = catalog.nav_categories(facet_cache())
    categories: list[CategoryInfo] = g._nav_categories
    return categories


@bp.app_context_processor
def nav_categories_processor() -> dict[str, Any]:
    return {"nav_categories": cached_nav_categories()}


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or len(raw) > MAX_PAGE_DIGITS or not raw.isascii():
        abort(404)
    return int(raw)


def _page_size() -> int:
    return max(1, int(current_app.config.get("CATALOGUE_PAGE_SIZE", 24)))


def _listing_filters(category: CategoryInfo | None) -> ListingFilters:
    """Filters from the query string; values that make no sense are ignored."""
    args = request.args
    instrument = args.get("instrument", "").strip()[:100] or None
    difficulty_raw = args.get("difficulty", "")
    difficulty = int(difficulty_raw) if difficulty_raw in {"1", "2", "3", "4", "5"} else None
    in_stock = args.get("in_stock", "") in {"1", "on", "true"}
    try:
        sort = SortOrder(args.get("sort", SortOrder.NAME.value))
    except ValueError:
        sort = SortOrder.NAME
    return ListingFilters(
        category=category,
        instrument=instrument,
        difficulty=difficulty,
        in_stock=in_stock,
        sort=sort,
    )


#: Query parameters a pagination link carries over.
KEPT_PARAMETERS = ("q", "instrument", "difficulty", "in_stock", "sort")


def page_url(page: int) -> str:
    """This URL with another page number (the filters and the query kept)."""
    values: dict[str, Any] = {
        name: request.args[name] for name in KEPT_PARAMETERS if request.args.get(name)
    }
    values.update(request.view_args or {})
    values["page"] = page
    return url_for(request.endpoint or "storefront.home", **values)


#: Stands in for the slug while the product URLs' fixed parts are worked out.
_SLUG_MARKER = "slug-marker"


class ProductCardKit:
    """What every product card on a page shares, worked out once per request.

    A grid of 24 cards would otherwise translate the same five labels and
    build the same route 24 times over (``_()`` and ``url_for`` are the
    dearest calls in the template). The product links are built by the URL
    rule's own converter around fixed parts taken from ``url_for``, so they
    equal ``url_for("storefront.product", slug=...)`` exactly.
    """

    def __init__(self) -> None:
        self.add_url = url_for("cart.add")
        self.always_available = _("Alltid tillgänglig")
        self.out_of_stock = _("Slut i lager")
        self.few_left = _("Få kvar")
        self.in_stock = _("I lager")
        self.add_to_cart = _("Lägg i varukorgen")
        self._quote = UnicodeConverter(current_app.url_map).to_url
        self._page = url_for("storefront.product", slug=_SLUG_MARKER).split(_SLUG_MARKER)
        self._image = url_for("storefront.product_image", slug=_SLUG_MARKER).split(_SLUG_MARKER)

    def product_url(self, slug: str) -> str:
        return self._quote(slug).join(self._page)

    def image_url(self, slug: str) -> str:
        return self._quote(slug).join(self._image)


@bp.app_template_global()
def product_card_kit() -> ProductCardKit:
    """The request's :class:`ProductCardKit` (made on first use)."""
    if "_product_card_kit" not in g:
        g._product_card_kit = ProductCardKit()
    kit: ProductCardKit = g._product_card_kit
    return kit


@bp.app_template_global()
def stock_state(product: Any) -> str:
    return catalog.stock_state(product).value


@bp.app_template_global()
def vat_label(rate_bp: int) -> str:
    return catalog.vat_percent_label(rate_bp)


@bp.get("/")
@anonymous_page_cache(seconds_config_key="PAGE_CACHE_SECONDS")
def home() -> str:
    return render_template(
        "storefront/home.html",
        categories=cached_nav_categories(),
        new_products=catalog.new_products(HOME_NEW_PRODUCTS),
    )


@bp.get("/katalog", defaults={"category_slug": None})
@bp.get("/katalog/<category_slug>")
@anonymous_page_cache(seconds_config_key="PAGE_CACHE_SECONDS")
def catalogue(category_slug: str | None) -> Response | str:
    if category_slug == COURSE_CATEGORY:
        return redirect(url_for("courses.listing"))
    category = None
    if category_slug is not None:
        category = next((c for c in cached_nav_categories() if c.slug == category_slug), None)
        if category is None:
            found = catalog.category_by_slug(category_slug)
            if found is None:
                abort(404)
            category = CategoryInfo.of(found)
    filters = _listing_filters(category)
    cache = facet_cache()
    try:
        page = catalog.list_products(filters, _page_number(), _page_size(), cache)
    except PageNotFound:
        abort(404)
    return render_template(
        "storefront/catalogue.html",
        category=category,
        filters=filters,
        page=page,
        page_url=page_url,
        instruments=catalog.instrument_choices(category, cache),
        sort_orders=list(SortOrder),
    )


@bp.get("/produkt/<slug>")
@anonymous_page_cache(seconds_config_key="PAGE_CACHE_SECONDS")
def product(slug: str) -> str:
    item = catalog.product_by_slug(slug)
    if item is None:
        abort(404)
    return render_template(
        "storefront/product.html",
        product=item,
        state=catalog.stock_state(item).value,
        delivery=catalog.delivery_note(item, current_policy()),
        max_quantity=catalog.max_orderable(item),
    )


@bp.get("/produkt/<slug>/bild.svg")
def product_image(slug: str) -> Response:
    item = catalog.product_by_slug(slug)
    if item is None:
        abort(404)
    body = product_svg(item)
    response = Response(body, mimetype="image/svg+xml")
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = IMAGE_MAX_AGE
    # The picture holds no script; forbid everything should it be opened on its own.
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    response.make_conditional(request)
    return response


def _search_limit() -> str:
    return str(current_app.config.get("RATELIMIT_SEARCH", "120 per minute"))


@bp.get("/sok", endpoint="search")
@limiter.limit(_search_limit)
@anonymous_page_cache(seconds_config_key="PAGE_CACHE_SECONDS")
def search_page() -> str:
    raw_query = request.args.get("q", "")
    try:
        result = search.search_products(raw_query, _page_number(), _page_size(), facet_cache())
    except PageNotFound:
        abort(404)
    return render_template(
        "storefront/search.html",
        query=raw_query[: search.MAX_QUERY_LENGTH],
        result=result,
        page=result.page,
        page_url=page_url,
    )
