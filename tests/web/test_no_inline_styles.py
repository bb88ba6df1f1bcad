"""The strict CSP (style-src 'self', script-src 'self') blocks inline styles and scripts.

Pages must style themselves from static/css; only e-mails, which mail clients
render without the stylesheet, may carry inline styles (behind ``for_email``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
INLINE = re.compile(r"""\sstyle\s*=|<style\b|<script(?![^>]*\bsrc=)|\son[a-z]+\s*=""", re.I)


def page_templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*.html") if "emails" not in p.parts)


@pytest.mark.parametrize("template", page_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_page_templates_have_no_inline_style_or_script(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    # The shared document summary adds inline styles only when rendered into an e-mail.
    text = re.sub(r"\{%\s*if for_email\s*%\}.*?\{%\s*endif\s*%\}", "", text, flags=re.S)
    found = [m.group(0).strip() for m in INLINE.finditer(text)]
    assert not found, f"{template.relative_to(TEMPLATES)} has inline {found}: the CSP blocks it"
