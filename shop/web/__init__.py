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

    from shop.web.checkout.views import bp as checkout_bp
    from shop.web.orders.views import bp as orders_bp

    app.register_blueprint(checkout_bp)
    app.register_blueprint(orders_bp)

    from shop.web.payments.views import bp as payments_bp  # issue 4, B
    from shop.web.webhooks.views import bp as webhooks_bp  # issue 4, B

    app.register_blueprint(payments_bp)
    app.register_blueprint(webhooks_bp)

    from shop.web.documents.views import bp as documents_bp  # issue 4, C
    from shop.web.documents.views import downloads_bp  # issue 4, C

    app.register_blueprint(documents_bp)
    app.register_blueprint(downloads_bp)

    from shop.web.withdrawal.views import bp as withdrawal_bp  # issue 5, withdrawal function

    app.register_blueprint(withdrawal_bp)

    from shop.web.newsletter.views import bp as newsletter_bp  # issue 7, consent (R2.6)

    app.register_blueprint(newsletter_bp)
    from shop.web.complaints.views import bp as complaints_bp  # complaints, T6

    app.register_blueprint(complaints_bp)
    from shop.web.courses.views import bp as courses_bp  # courses (T9)

    app.register_blueprint(courses_bp)

    from shop.web import filters

    filters.init_app(app)
