"""The baseline: a bare Flask app answering every path with a small page.

Served by gunicorn with the same settings as the shop, it shows what the
server, the framework and the loopback cost without any shop code, so the
shop's figures are read as a share of it.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)

PAGE = "<!doctype html><html lang=sv><title>Hej</title><p>Hej från en tom Flask-app.</p></html>"


@app.get("/", defaults={"path": ""})
@app.get("/<path:path>")
def hello(path: str) -> str:
    return PAGE
