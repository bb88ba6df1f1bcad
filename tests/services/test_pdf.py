"""PDF documents: Swedish text in the core font, the required invoice fields (T3.4, T2.1)."""

from __future__ import annotations

from typing import Any

from shop.services import pdf

SELLER = {
    "name": "Notbutiken i Norden AB",
    "street": "Musikgatan 12",
    "postcode": "411 01",
    "city": "Göteborg",
    "org_number": "556677-8899",
    "vat_number": "SE556677889901",
    "email": "kundservice@notbutiken.example",
    "phone": "031-12 34 56",
    "bankgiro": "123-4567",
}


def invoice_content() -> dict[str, Any]:
    return {
        "kind": "invoice",
        "number": 17,
        "issued_on": "2026-11-23",
        "due_on": "2026-12-23",
        "order_number": "100042",
        "ocr": "17455",
        "bankgiro": "123-4567",
        "reminder_fee_ore": 5000,
        "terms_version": "2026-11-01",
        "payment_method_label": "Faktura",
        "seller": SELLER,
        "buyer": {
            "name": "Åsa Öberg",
            "organisation_name": "Musikskolan i Västerås AB",
            "organisation_number": "556036-0793",
            "street": "Skolgatan 3",
            "postcode": "722 11",
            "city": "Västerås",
        },
        "lines": [
            {
                "title": "Bach: Cellosviter – urtext",
                "quantity": 2,
                "unit_price_ore": 24900,
                "vat_rate_bp": 600,
                "total_ore": 49800,
                "vat_ore": 2819,
            }
        ],
        "fees": [
            {"label": "Fakturaavgift", "amount_ore": 1900, "vat_rate_bp": 2500, "vat_ore": 380}
        ],
        "vat": [
            {"rate_bp": 2500, "net_ore": 1520, "vat_ore": 380, "gross_ore": 1900},
            {"rate_bp": 600, "net_ore": 46981, "vat_ore": 2819, "gross_ore": 49800},
        ],
        "total_ore": 51700,
        "total_vat_ore": 3199,
        "total_net_ore": 48501,
    }


def latin1(text: str) -> bytes:
    return text.encode("latin-1")


def test_sanitiser_maps_typography_to_latin1() -> None:
    assert pdf.sanitise("Svit 1 – Prélude … ”bra” ’x’ —") == "Svit 1 - Prélude ... \"bra\" 'x' -"
    assert pdf.sanitise("åäö ÅÄÖ é\u00a0kr") == "åäö ÅÄÖ é\u00a0kr"
    assert pdf.sanitise("€ 漢") == "? ?"


def test_invoice_pdf_shows_what_a_swedish_invoice_must_show_t3_4() -> None:
    """T3.3, T3.4, T2.1: seller, F-skatt, numbers, buyer, lines, VAT per rate, due date, OCR."""
    data = pdf.render_invoice(invoice_content(), compress=False)
    assert data.startswith(b"%PDF-")
    for text in (
        "Faktura",
        "Notbutiken i Norden AB",
        "Musikgatan 12, 411 01 Göteborg",
        "Organisationsnummer: 556677-8899",
        "Momsregistreringsnummer: SE556677889901",
        "Godkänd för F-skatt",
        "Fakturanummer: 17",
        "Fakturadatum: 23 november 2026",
        "Förfallodatum: 23 december 2026",
        "OCR-nummer: 17455",
        "Musikskolan i Västerås AB",
        "Organisationsnummer: 556036-0793",
        "Att: Åsa Öberg",
        "Bach: Cellosviter - urtext",
        "249,00\u00a0kr",
        "6\u00a0%",
        "25\u00a0%",
        "498,00\u00a0kr",
        "Fakturaavgift",
        "469,81\u00a0kr",
        "28,19\u00a0kr",
        "517,00\u00a0kr",
        "bankgiro 123-4567",
    ):
        assert latin1(text) in data, text


def test_compressed_pdf_is_smaller_and_deterministic() -> None:
    content = invoice_content()
    assert pdf.render_invoice(content) == pdf.render_invoice(content)
    assert len(pdf.render_invoice(content)) < len(pdf.render_invoice(content, compress=False))


def test_receipt_pdf_has_vat_per_rate_payment_method_and_order_number_t2_1() -> None:
    content = invoice_content() | {"kind": "receipt", "payment_method_label": "Kort"}
    data = pdf.render_receipt(content, compress=False)
    for text in ("Kvitto", "Kvittonummer: 17", "Ordernummer: 100042", "Betalsätt: Kort"):
        assert latin1(text) in data, text
    assert latin1("46,98\u00a0kr") not in data
    assert latin1("469,81\u00a0kr") in data  # net at 6 %


def test_withdrawal_form_pdf_renders_the_swedish_wording_t5() -> None:
    form = {
        "heading": "Standardformulär för utövande av ångerrätt",
        "hint": "Fyll i och skicka detta formulär endast om du vill frånträda avtalet.",
        "recipient": "Till Notbutiken i Norden AB:",
        "paragraphs": ["Beställd den (*)/mottagen den (*):", "Datum:"],
        "footnote": "(*) Stryk det som inte gäller.",
    }
    data = pdf.render_withdrawal_form(form, compress=False)
    for text in (form["heading"], form["hint"], "Beställd den (*)/mottagen den (*):"):
        escaped = text.replace("(", "\\(").replace(")", "\\)")
        assert latin1(escaped) in data, text


def test_stamp_buyer_appends_an_info_dictionary_naming_the_buyer_t8_1() -> None:
    original = pdf.render_sheet_music("Vivaldi: Våren", compress=False)
    stamped = pdf.stamp_buyer(original, buyer="Åsa Öberg", note="Köpt av Åsa Öberg")
    assert stamped is not None
    assert stamped.startswith(original.rstrip(b"\n"))
    tail = stamped[len(original) :]
    assert b"/Author " + pdf._pdf_text("Åsa Öberg") in tail
    assert b"/Subject " + pdf._pdf_text("Köpt av Åsa Öberg") in tail
    assert b"/Prev " in tail
    assert tail.rstrip().endswith(b"%%EOF")
    # The new trailer's startxref points at the appended xref section.
    startxref = int(tail.rsplit(b"startxref", 1)[1].split()[0])
    assert stamped[startxref:].startswith(b"xref")


def test_stamp_buyer_leaves_unknown_formats_alone() -> None:
    assert pdf.stamp_buyer(b"not a pdf", buyer="X", note="Y") is None


def test_the_withdrawal_form_pdf_is_rendered_once_per_wording() -> None:
    """Every consumer order attaches the same form: rendered once, same bytes after."""
    form = {
        "heading": "Standardformulär för utövande av ångerrätt",
        "hint": "Fyll i och skicka tillbaka detta formulär endast om du vill utöva ångerrätten.",
        "recipient": "Till: Notbutiken i Norden AB, Musikgatan 12, 411 01 Göteborg",
        "paragraphs": ["Jag meddelar härmed att jag frånträder mitt avtal."],
        "footnote": "* Stryk det som inte gäller.",
        "author": "Notbutiken i Norden AB",
    }
    first = pdf.withdrawal_form_pdf(form)
    assert first.startswith(b"%PDF")
    assert pdf.withdrawal_form_pdf(dict(form)) is first
    other = pdf.withdrawal_form_pdf({**form, "recipient": "Till: En annan butik AB"})
    assert other is not first
