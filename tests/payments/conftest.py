"""Fixtures for the payment providers: local fake servers on 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shop.payments.klarna import KlarnaClient, KlarnaProvider, KlarnaSettings
from shop.payments.stripe import StripeProvider, StripeSettings
from tests.fakes import klarna_api, stripe_api
from tests.fakes.klarna_api import FakeKlarna
from tests.fakes.stripe_api import FakeStripe
from tests.payments.factories import FAST_NETWORK


def _local(url: str) -> str:
    assert url.startswith("http://127.0.0.1:"), f"tests must not leave the machine: {url}"
    return url


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    _local(fake.base_url)
    yield fake
    fake.stop()


@pytest.fixture
def stripe_provider(stripe_fake: FakeStripe) -> Iterator[StripeProvider]:
    settings = StripeSettings(
        secret_key=stripe_api.API_KEY,
        webhook_secret=stripe_api.WEBHOOK_SECRET,
        api_base=_local(stripe_fake.base_url),
        **FAST_NETWORK,
    )
    provider = StripeProvider(settings, method="card", method_types=("card", "klarna", "swish"))
    yield provider
    provider.close()


@pytest.fixture
def klarna_fake() -> Iterator[FakeKlarna]:
    fake = FakeKlarna().start()
    _local(fake.base_url)
    yield fake
    fake.stop()


def klarna_settings(base_url: str, **overrides: object) -> KlarnaSettings:
    values: dict[str, object] = {
        "username": klarna_api.USERNAME,
        "password": klarna_api.PASSWORD,
        "api_base": _local(base_url),
        **FAST_NETWORK,
        **overrides,
    }
    return KlarnaSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def klarna_provider(klarna_fake: FakeKlarna) -> KlarnaProvider:
    return KlarnaProvider(KlarnaClient(klarna_settings(klarna_fake.base_url)))
