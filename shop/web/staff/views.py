"""The back office under /staff (the start page; later issues add the desks)."""

from __future__ import annotations

from flask import Blueprint, render_template

from shop.models.customer import Role
from shop.web.auth import staff_required

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
@staff_required(Role.STAFF)
def dashboard() -> str:
    return render_template("staff/dashboard.html")


from shop.web.staff import invoices as _invoices  # noqa: E402, F401 - registers the invoice desk (issue 4, C)
