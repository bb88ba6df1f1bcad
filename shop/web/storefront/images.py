"""Placeholder product pictures: a small SVG drawn from the product itself.

The picture is deterministic (same product, same bytes, so it caches well):
the category gives the colour and the glyph, the title is written on it. All
text is XML-escaped, and the SVG holds no script, no style attribute and no
external reference.
"""

from __future__ import annotations

import hashlib
import textwrap
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape  # nosec B406  # escapes text we write; parses nothing

if TYPE_CHECKING:
    from shop.models import Product

WIDTH = 400
HEIGHT = 400

#: Category slug → (background, foreground) colours.
CATEGORY_COLOURS: dict[str, tuple[str, str]] = {
    "noter": ("#1f3a5f", "#f4efe6"),
    "bocker": ("#6b2d2d", "#f7efe3"),
    "programvara": ("#234d3c", "#e8f3ee"),
    "instrument": ("#7a4b12", "#fbf1e1"),
    "tillbehor": ("#3f3d56", "#ecebf5"),
    "kurser": ("#5b2a58", "#f6eaf5"),
}
DEFAULT_COLOURS = ("#33414d", "#eef1f4")

#: Glyphs drawn with plain shapes (no fonts needed), in a 120 × 120 box.
GLYPHS: dict[str, str] = {
    # Two beamed quavers.
    "note": (
        '<ellipse cx="34" cy="92" rx="16" ry="11" transform="rotate(-20 34 92)"/>'
        '<ellipse cx="88" cy="82" rx="16" ry="11" transform="rotate(-20 88 82)"/>'
        '<rect x="46" y="20" width="5" height="72"/>'
        '<rect x="100" y="10" width="5" height="72"/>'
        '<polygon points="46,20 105,10 105,26 46,36"/>'
    ),
    # A closed book.
    "book": (
        '<rect x="24" y="14" width="72" height="92" rx="4"/>'
        '<rect x="32" y="24" width="52" height="8" fill-opacity="0.4"/>'
    ),
    # A disc.
    "disc": ('<circle cx="60" cy="60" r="46"/><circle cx="60" cy="60" r="10" fill-opacity="0.3"/>'),
    # A guitar.
    "guitar": (
        '<circle cx="52" cy="84" r="26"/>'
        '<circle cx="68" cy="58" r="19"/>'
        '<rect x="74" y="10" width="8" height="52" transform="rotate(20 78 36)"/>'
    ),
    # A tuning fork.
    "fork": (
        '<rect x="40" y="10" width="8" height="58"/>'
        '<rect x="72" y="10" width="8" height="58"/>'
        '<rect x="40" y="60" width="40" height="8"/>'
        '<rect x="56" y="66" width="8" height="46"/>'
    ),
    # A music stand for courses.
    "stand": (
        '<polygon points="20,20 100,20 92,60 28,60"/>'
        '<rect x="57" y="60" width="6" height="46"/>'
        '<rect x="36" y="104" width="48" height="6"/>'
    ),
}
CATEGORY_GLYPHS = {
    "noter": "note",
    "bocker": "book",
    "programvara": "disc",
    "instrument": "guitar",
    "tillbehor": "fork",
    "kurser": "stand",
}


def _root_slug(product: Product) -> str:
    return product.category.slug if product.category is not None else ""


def product_svg(product: Product) -> str:
    """The placeholder picture of ``product`` as SVG text."""
    slug = _root_slug(product)
    background, foreground = CATEGORY_COLOURS.get(slug, DEFAULT_COLOURS)
    glyph = GLYPHS[CATEGORY_GLYPHS.get(slug, "note")]
    # A little variation per product, from its SKU: the glyph's tilt.
    tilt = int(hashlib.sha256(product.sku.encode()).hexdigest()[:4], 16) % 21 - 10
    lines = textwrap.wrap(product.title, width=24, max_lines=3, placeholder=" …")
    text = "".join(
        f'<tspan x="200" dy="{0 if i == 0 else 30}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    label = escape(product.title, {'"': "&quot;"})
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{label}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{background}"/>'
        f'<g fill="{foreground}" fill-opacity="0.9" '
        f'transform="translate(140 60) rotate({tilt} 60 60)">{glyph}</g>'
        f'<text x="200" y="268" fill="{foreground}" font-family="Georgia, serif" '
        f'font-size="24" text-anchor="middle">{text}</text>'
        "</svg>"
    )
