"""The newsletter's unsubscribe link: no login, a signed token, one button (R2.6, R4.4).

``GET /nyhetsbrev/avsluta/<token>`` shows the address and one button;
``POST`` to the same URL unsubscribes. Mail programs that follow RFC 8058
POST ``List-Unsubscribe=One-Click`` to the URL without any page: the view
is exempt from CSRF because the signed token is what proves the request,
and a token the shop did not sign is refused with 404.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from shop import clock
from shop.extensions import csrf
from shop.services import newsletter

bp = Blueprint("newsletter", __name__, url_prefix="/nyhetsbrev")


def _invalid() -> tuple[str, int]:
    return render_template("newsletter/invalid.html"), 404


@bp.get("/avsluta/<token>")
def unsubscribe_page(token: str) -> str | tuple[str, int]:
    try:
        email = newsletter.email_for_token(token)
    except newsletter.InvalidUnsubscribeLink:
        return _invalid()
    return render_template("newsletter/unsubscribe.html", email=email, token=token)


@bp.post("/avsluta/<token>")
@csrf.exempt
def unsubscribe(token: str) -> str | tuple[str, int]:
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    try:
        email = newsletter.unsubscribe(
            token,
            source=newsletter.SOURCE_ONE_CLICK if one_click else newsletter.SOURCE_LINK,
            now=clock.now(),
        )
    except newsletter.InvalidUnsubscribeLink:
        return _invalid()
    return render_template("newsletter/unsubscribed.html", email=email)
