"""The web layer: one blueprint per audience, thin views over the services."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from shop.web.account.views import bp as account_bp
    from shop.web.cart.views import bp as cart_bp
    from shop.web.pages.views import bp as pages_bp
    from shop.web.staff.views import bp as staff_bp
    from shop.web.storefront.views import bp as storefront_bp

    app.register_blueprint(storefront_bp)
    app.register_blueprint(cart_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(staff_bp)

    from shop.web import filters

    filters.init_app(app)
