"""Information pages: terms of purchase, privacy, language switch.

The terms and the privacy policy are written around the shop's
:class:`~shop.domain.policy.Policy`: every number on the pages (days, fees,
retention periods, the delivery price list) is read from it, so the text and
the rules the shop enforces can never disagree.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from shop.domain.policy import DEFAULT_POLICY, Policy
from shop.domain.vat import VatRate
from shop.web.account.redirects import safe_next_url

bp = Blueprint("pages", __name__)


def current_policy() -> Policy:
    """The terms in force. Today the defaults; a later issue may make them configurable."""
    return DEFAULT_POLICY


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the home page (no open redirects)."""
    return safe_next_url(target) or url_for("storefront.home")


@bp.get("/kopvillkor")
def terms() -> str:
    return render_template(
        "pages/terms.html",
        policy=current_policy(),
        seller=current_app.config["SELLER"],
        vat_standard_bp=int(VatRate.STANDARD),
        vat_reduced_bp=int(VatRate.REDUCED),
    )


@bp.get("/integritet")
def privacy() -> str:
    return render_template(
        "pages/privacy.html",
        policy=current_policy(),
        seller=current_app.config["SELLER"],
    )


@bp.post("/sprak")
def set_language() -> Response:
    """Keep the chosen language in the session and go back to the page it was chosen on."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")), code=303)
