"""The terms of purchase and the privacy policy are written around the Policy.

Every number on the pages comes from :class:`shop.domain.policy.Policy`, so
changing the policy changes the text (T3–T9, R2, R4).
"""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.domain.policy import DEFAULT_POLICY, CancellationTier, Policy
from shop.web.pages import views as pages_views
from shop.web.pages.views import safe_next

NBSP = "\u00a0"


def text_of(client: FlaskClient, url: str) -> str:
    """The page's visible text in <main>, one space between words, NBSP kept."""
    page = client.get(url)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    main = body[body.index("<main") : body.index("</main>")]
    words = html.unescape(re.sub(r"<[^>]+>", " ", main))
    return re.sub(r"[ \t\r\n]+", " ", words)


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> dict[str, Policy]:
    """Serve the pages with a policy the test chooses (``policy["now"] = Policy(...)``)."""
    chosen = {"now": DEFAULT_POLICY}
    monkeypatch.setattr(pages_views, "current_policy", lambda: chosen["now"])
    return chosen


def test_terms_page_shows_the_default_numbers(client: FlaskClient) -> None:
    text = text_of(client, "/kopvillkor")
    assert f"Version {DEFAULT_POLICY.terms_version}" in text
    for expected in [
        "14 dagar ångerrätt",  # T5.2
        f"fakturaavgift på 19,00{NBSP}kr",  # T3.3
        "Förfallodatum är 30 dagar efter fakturadatum",  # T3.4
        f"påminnelseavgift på 50,00{NBSP}kr (momsfri)",  # T3.5
        "10 dagar till på dig",  # T3.5
        "obetald 10 dagar efter påminnelsen",  # T3.6
        "inom 1–4 arbetsdagar",  # T4.1
        "senast 14 dagar efter den dag vi fick veta",  # T5.8
        "helst inom 2 månader",  # T6.1
        "i 3 år från att du tog emot den",  # T6.2
        f"administrativ avgift på 50,00{NBSP}kr",  # T7.1
        "Kursavgiften faktureras 14 dagar före första kursdagen",  # T9.2
        "mer än 28 dagar före kursstart ingenting",  # T9.3
        f"15–28 dagar före kursstart 50{NBSP}% av kursavgiften",  # T9.3
        "14 dagar eller färre före kursstart, på startdagen eller senare hela kursavgiften",
        "senast 14 dagar före kursstart",  # T9.5
    ]:
        assert expected in text, expected


def test_terms_page_has_every_section(client: FlaskClient) -> None:
    text = text_of(client, "/kopvillkor")
    for heading in [
        "Allmänt",
        "Priser och moms",
        "Frakt",
        "Betalning",
        "Leverans",
        "Ångerrätt",
        "Reklamation",
        "Outlösta paket",
        "Kopiering",
        "Kursbokning",
        "Personuppgifter",
    ]:
        assert re.search(rf"\d+\. {heading} ", text), heading
    for words in ("Kort", "Klarna", "Faktura för organisationer"):
        assert words in text
    assert "Ångra köpet" in text  # T5.9
    assert "Bekräfta ångrande" in text
    assert "Standardformulär för ånger" in text  # T5.9, the EU model form
    assert 'href="/integritet"' in client.get("/kopvillkor").get_data(as_text=True)


def test_terms_show_the_sellers_details_from_config(app: Flask, client: FlaskClient) -> None:
    seller = app.config["SELLER"]
    text = text_of(client, "/kopvillkor")
    for key in ("name", "street", "postcode", "city", "org_number", "vat_number", "email", "phone"):
        assert seller[key] in text, key


def test_terms_show_the_delivery_price_list(client: FlaskClient) -> None:
    """T2.2: the price list on the page is the policy's rate table."""
    text = text_of(client, "/kopvillkor")
    letter = DEFAULT_POLICY.delivery.letter
    assert letter.label_sv in text
    for carrier in DEFAULT_POLICY.delivery.parcels:
        assert carrier.label_sv in text
    assert f"100{NBSP}g 29,00{NBSP}kr" in text
    assert f"Över 20{NBSP}kg: 229,00{NBSP}kr och 15,00{NBSP}kr för varje påbörjat kilo" in text


def test_t5_2_a_longer_withdrawal_period_changes_the_terms(
    client: FlaskClient, policy: dict[str, Policy]
) -> None:
    policy["now"] = dataclasses.replace(DEFAULT_POLICY, withdrawal_days=30)
    text = text_of(client, "/kopvillkor")
    assert "30 dagar ångerrätt" in text
    assert "14 dagar ångerrätt" not in text


def test_t3_fees_and_days_on_the_page_follow_the_policy(
    client: FlaskClient, policy: dict[str, Policy]
) -> None:
    policy["now"] = dataclasses.replace(
        DEFAULT_POLICY,
        terms_version="2027-02-01",
        invoice_fee_ore=2900,
        invoice_due_days=20,
        reminder_fee_ore=6000,
        reminder_extra_days=8,
        unclaimed_admin_fee_ore=7500,
        dispatch_working_days=(2, 5),
        refund_deadline_days=10,
    )
    text = text_of(client, "/kopvillkor")
    assert "Version 2027-02-01" in text
    assert f"fakturaavgift på 29,00{NBSP}kr" in text
    assert "Förfallodatum är 20 dagar efter fakturadatum" in text
    assert f"påminnelseavgift på 60,00{NBSP}kr" in text
    assert "8 dagar till på dig" in text
    assert f"administrativ avgift på 75,00{NBSP}kr" in text
    assert "inom 2–5 arbetsdagar" in text
    assert "senast 10 dagar efter den dag vi fick veta" in text
    assert f"fakturaavgift på 19,00{NBSP}kr" not in text


def test_t9_3_other_cancellation_tiers_change_the_table(
    client: FlaskClient, policy: dict[str, Policy]
) -> None:
    policy["now"] = dataclasses.replace(
        DEFAULT_POLICY,
        course_cancellation_tiers=(
            CancellationTier(min_days_before_start=31, keep_bp=0),
            CancellationTier(min_days_before_start=8, keep_bp=2500),
            CancellationTier(min_days_before_start=None, keep_bp=10000),
        ),
    )
    text = text_of(client, "/kopvillkor")
    assert "mer än 30 dagar före kursstart ingenting" in text
    assert f"8–30 dagar före kursstart 25{NBSP}% av kursavgiften" in text
    assert "7 dagar eller färre före kursstart" in text


def test_privacy_page_shows_the_retention_periods(client: FlaskClient) -> None:
    text = text_of(client, "/integritet")
    for expected in [
        "mer än 3 år sedan du senast handlade",  # R2.1
        "anonymiseras kontot 2 år efter din senaste inloggning",  # R2.2
        "7 år efter utgången av det kalenderår",  # R2.3
        "Tills fakturan är betald och 3 månader till",  # R2.4
        "12 månader efter att kursen slutade",  # R2.5
        "sparar vi i 2 år som bevis",  # R2.6
        "6 månader.",  # R2.7
        "3 år.",  # R2.8
        "får du det inom 30 dagar",  # R4.1
        "raderingen inom 7 dagar",  # R4.3
        "Ladda ner mina uppgifter",
        "Radera mitt konto",
        "Avsluta prenumeration",
    ]:
        assert expected in text, expected


def test_r2_retention_periods_on_the_page_follow_the_policy(
    client: FlaskClient, policy: dict[str, Policy]
) -> None:
    policy["now"] = dataclasses.replace(
        DEFAULT_POLICY,
        account_inactive_years=4,
        never_bought_years=1,
        bookkeeping_years=10,
        participants_months_after_course=6,
        marketing_months=1,
        erasure_request_days=5,
    )
    text = text_of(client, "/integritet")
    assert "mer än 4 år sedan du senast handlade" in text
    assert "anonymiseras kontot 1 år efter" in text
    assert "10 år efter utgången av det kalenderår" in text
    assert "6 månader efter att kursen slutade" in text
    assert "1 månad." in text
    assert "raderingen inom 5 dagar" in text


def test_privacy_names_the_controller_from_config(app: Flask, client: FlaskClient) -> None:
    text = text_of(client, "/integritet")
    assert app.config["SELLER"]["name"] in text
    assert app.config["SELLER"]["org_number"] in text


def test_the_legal_text_is_marked_as_swedish(client: FlaskClient) -> None:
    for url in ("/kopvillkor", "/integritet"):
        assert '<article class="legal" lang="sv">' in client.get(url).get_data(as_text=True)


def test_every_page_links_terms_privacy_and_contact(app: Flask, client: FlaskClient) -> None:
    body = client.get("/integritet").get_data(as_text=True)
    footer = body[body.index("<footer") :]
    assert 'href="/kopvillkor"' in footer
    assert 'href="/integritet"' in footer
    assert f'href="mailto:{app.config["SELLER"]["email"]}"' in footer
    assert app.config["SELLER"]["org_number"] in footer


def test_the_layout_has_no_inline_script_or_style(client: FlaskClient) -> None:
    """The pages work under the strict CSP: no inline script, style or handlers."""
    for url in ("/", "/kopvillkor", "/integritet", "/no-such-page"):
        body = client.get(url).get_data(as_text=True)
        assert "<script" not in body
        assert "style=" not in body
        assert "<style" not in body
        assert not re.search(r"\son[a-z]+=", body), url


def test_the_layout_has_landmarks_and_a_skip_link(client: FlaskClient) -> None:
    body = client.get("/kopvillkor").get_data(as_text=True)
    assert '<a class="skip-link" href="#main">' in body
    assert '<main id="main"' in body
    for landmark in ("<header", "<footer", "<nav"):
        assert landmark in body
    assert 'role="search"' in body
    assert 'name="viewport"' in body


def test_static_assets_are_served(client: FlaskClient) -> None:
    for url, kind in [
        ("/static/css/shop.css", "text/css"),
        ("/static/img/logo.svg", "image/svg+xml"),
        ("/static/img/favicon.svg", "image/svg+xml"),
    ]:
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == kind
        response.close()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/kopvillkor", "/kopvillkor"),
        ("/sok?q=Alfv%C3%A9n", "/sok?q=Alfv%C3%A9n"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("http:/evil", "/"),
        ("kopvillkor", "/"),
        ("/x\ny", "/"),
        (None, "/"),
    ],
)
def test_safe_next_only_allows_paths_on_this_site(
    app: Flask, target: str | None, expected: str
) -> None:
    with app.test_request_context("/"):
        assert safe_next(target) == expected
