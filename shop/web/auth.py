"""Login wiring and the role guard for staff pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort
from flask_babel import lazy_gettext
from flask_login import current_user

from shop.extensions import db, login_manager
from shop.models import Customer
from shop.models.customer import Role

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    login_manager.login_message = lazy_gettext("Logga in för att se sidan.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> Customer | None:
    """Load by "id:session_version"; a stale version (password changed) logs out."""
    try:
        raw_id, raw_version = user_id.split(":", 1)
        customer_id, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    customer = db.session.get(Customer, customer_id)
    if customer is None or customer.session_version != version or customer.login_disabled:
        return None
    return customer


def staff_required(role: Role | str) -> Callable[[F], F]:
    """Guard a view: anonymous users go to login, users without the role get 403."""
    needed = Role(role)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(needed):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator
