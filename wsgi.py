"""Entry point for gunicorn: ``gunicorn wsgi:app``.

Runs in production mode unless SHOP_ENV says otherwise, so a server started
without SHOP_SECRET_KEY and DATABASE_URL refuses to start.
"""

import os

os.environ.setdefault("SHOP_ENV", "production")

from shop import create_app  # noqa: E402

app = create_app()
