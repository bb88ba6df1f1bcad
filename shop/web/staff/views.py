"""The back office under /staff: the start page with what needs doing today.

The desks register their routes on this blueprint by being imported below.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from shop import clock
from shop.models.customer import Role
from shop.services import staff_admin
from shop.web.auth import staff_required

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
@staff_required(Role.STAFF)
def dashboard() -> str:
    today = clock.today()
    return render_template("staff/dashboard.html", work=staff_admin.todays_work(today), today=today)


from shop.web.staff import admin as _admin  # noqa: E402, F401 - staff accounts (issue 5)
from shop.web.staff import complaints as _complaints  # noqa: E402, F401 - complaints (T6)
from shop.web.staff import courses as _courses  # noqa: E402, F401 - course bookings (T9)
from shop.web.staff import finance as _finance  # noqa: E402, F401 - finance pages (issue 5)
from shop.web.staff import invoices as _invoices  # noqa: E402, F401 - registers the invoice desk (issue 4, C)
from shop.web.staff import newsletter as _newsletter  # noqa: E402, F401 - newsletter (issue 7, R2.6)
from shop.web.staff import orders as _orders  # noqa: E402, F401 - orders (issue 5)
from shop.web.staff import retention as _retention  # noqa: E402, F401 - retention sweeper and data requests (issue 7, B)
from shop.web.staff import returned_parcels as _returned_parcels  # noqa: E402, F401 - parcels that come back (issue 5, T7)
from shop.web.staff import returns as _returns  # noqa: E402, F401 - returns desk (issue 5)
from shop.web.staff import shipping as _shipping  # noqa: E402, F401 - shipping (issue 5)
from shop.web.staff import withdrawals as _withdrawals  # noqa: E402, F401 - withdrawal entry (issue 5)
