"""Providers' webhooks: the raw body goes to the provider, which verifies it.

A bad or old signature, or a body that is not a valid event, answers 400 with
a short text and changes nothing; a replayed event answers 200 and changes
nothing (:func:`shop.services.payments.handle_event`). CSRF does not apply:
the provider's signature is the proof.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from shop import clock
from shop.extensions import csrf
from shop.payments.errors import InvalidWebhook, MethodNotAvailable, PaymentError
from shop.services import payments as payments_service

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


def _text(body: str, status: int) -> Response:
    return Response(body + "\n", status=status, mimetype="text/plain")


def _receive(provider_name: str) -> Response:
    try:
        provider = payments_service.registry().provider(provider_name)
    except MethodNotAvailable:
        return _text("Betalsättet är inte aktiverat.", 404)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _text("Meddelandet är för stort.", 413)
    payload = request.get_data(cache=False)
    now = clock.now()
    try:
        event = provider.parse_webhook(payload, dict(request.headers), now)
    except InvalidWebhook as error:
        log.warning("%s webhook refused: %s", provider_name, error.detail)
        return _text("Ogiltig signatur eller ogiltigt meddelande.", 400)
    except PaymentError as error:
        # The provider could not be asked to confirm the notification: let it retry.
        log.warning("%s webhook not verified now: %s", provider_name, error.detail)
        return _text("Försök igen senare.", 503)
    if payments_service.handle_event(event, now=now):
        return _text("Mottaget.", 200)
    return _text("Redan mottaget.", 200)


@bp.post("/stripe")
def stripe_webhook() -> Response:
    return _receive("stripe")


@bp.post("/klarna")
def klarna_webhook() -> Response:
    return _receive("klarna")


@bp.post("/sandbox")
def sandbox_webhook() -> Response:
    return _receive("sandbox")
