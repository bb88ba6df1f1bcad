"""Safe ``next=`` redirects: only relative paths on this site."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_NEXT_LENGTH = 2000


def safe_next_url(target: str | None) -> str | None:
    """``target`` if it is a path on this site (``/konto/``), else None.

    Refuses absolute URLs (``https://evil``), scheme-relative ones
    (``//evil``), backslash tricks (``/\\evil``, which browsers read as
    ``//evil``) and control characters.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
