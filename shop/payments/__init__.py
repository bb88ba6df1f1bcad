"""Payment providers behind one interface (see :mod:`shop.payments.base`).

Only :mod:`shop.payments.stripe` imports the Stripe SDK. Services use
:class:`~shop.payments.base.PaymentProvider` and the registry that
``create_app`` builds (:func:`shop.payments.registry.build_registry`).
"""
