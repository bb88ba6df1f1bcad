"""PDF documents: invoice, reminder, receipt, credit note, the EU model withdrawal form,
demo sheet music.

Rendered with fpdf2's built-in core font (Helvetica), which covers Latin-1:
å, ä, ö, é and the non-breaking space used in amounts. No system font is
needed. Every text goes through :func:`sanitise`, which maps the few other
characters the shop writes (dashes, typographic quotes, ellipsis, the
narrow no-break space) to Latin-1 and replaces anything else with "?".

Documents are rendered from their frozen ``content`` dict (see
:mod:`shop.services.invoicing` and :mod:`shop.services.receipts`), never
from live rows.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from fpdf import FPDF

from shop.domain.calendar import format_date_sv
from shop.domain.money import format_sek

_REPLACEMENTS = {
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2212": "-",  # minus
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2026": "...",
    "\u202f": "\u00a0",  # narrow no-break space
    "\u2009": " ",  # thin space
    "\u2022": "\u00b7",  # bullet
}
_TRANSLATE = str.maketrans(_REPLACEMENTS)

#: Fixed creation date: the same content always gives the same PDF bytes.
_EPOCH = datetime(2000, 1, 1).astimezone()


def sanitise(text: object) -> str:
    """``text`` in Latin-1, the core fonts' character set (others become "?")."""
    mapped = str(text).translate(_TRANSLATE)
    return mapped.encode("latin-1", errors="replace").decode("latin-1")


def percent(rate_bp: int) -> str:
    """``2500`` → ``25 %`` (non-breaking space), ``1250`` → ``12,5 %``."""
    whole, rest = divmod(int(rate_bp), 100)
    text = str(whole) if rest == 0 else f"{whole},{rest:02d}".rstrip("0")
    return f"{text}\u00a0%"


def _date(value: str | date) -> str:
    return format_date_sv(value if isinstance(value, date) else date.fromisoformat(value))


class _Document(FPDF):
    """An A4 page with the shop's margins and a page number in the footer."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.set_text_color(90)
        self.cell(0, 5, sanitise(self.footer_text), align="L")
        self.cell(0, 5, f"Sida {self.page_no()}/{{nb}}", align="R")


def _new_document(title: str, *, author: str, compress: bool) -> _Document:
    doc = _Document(orientation="P", unit="mm", format="A4")
    doc.set_compression(compress)
    doc.set_creation_date(_EPOCH)
    doc.set_title(sanitise(title))
    doc.set_author(sanitise(author))
    doc.set_creator("Notbutiken")
    doc.set_auto_page_break(auto=True, margin=20)
    doc.set_margins(18, 18, 18)
    doc.add_page()
    return doc


def _text(doc: FPDF, text: str, *, size: float = 10, bold: bool = False, height: float = 5) -> None:
    doc.set_font("Helvetica", style="B" if bold else "", size=size)
    doc.multi_cell(0, height, sanitise(text), new_x="LMARGIN", new_y="NEXT")


def _seller_block(doc: FPDF, seller: Mapping[str, Any]) -> list[str]:
    return [
        str(seller["name"]),
        f"{seller['street']}, {seller['postcode']} {seller['city']}",
        f"Organisationsnummer: {seller['org_number']}",
        f"Momsregistreringsnummer: {seller['vat_number']}",
        "Godkänd för F-skatt",
        f"E-post: {seller['email']}  Telefon: {seller['phone']}",
    ]


def _buyer_lines(buyer: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    if buyer.get("organisation_name"):
        lines.append(str(buyer["organisation_name"]))
        if buyer.get("organisation_number"):
            lines.append(f"Organisationsnummer: {buyer['organisation_number']}")
        lines.append(f"Att: {buyer['name']}")
    else:
        lines.append(str(buyer["name"]))
    lines.append(str(buyer["street"]))
    lines.append(f"{buyer['postcode']} {buyer['city']}")
    return lines


def _two_columns(doc: FPDF, left: Sequence[str], right: Sequence[str]) -> None:
    doc.set_font("Helvetica", size=9)
    top = doc.get_y()
    for line in left:
        doc.set_x(doc.l_margin)
        doc.cell(95, 4.6, sanitise(line), new_x="LMARGIN", new_y="NEXT")
    bottom = doc.get_y()
    doc.set_y(top)
    for line in right:
        doc.set_x(doc.l_margin + 100)
        doc.cell(0, 4.6, sanitise(line), new_x="LMARGIN", new_y="NEXT")
    doc.set_y(max(bottom, doc.get_y()) + 4)


_COLUMNS = (("Beskrivning", 74, "L"), ("Antal", 14, "R"), ("À-pris", 28, "R"))
_COLUMNS_TAIL = (("Moms", 16, "R"), ("Belopp", 32, "R"))


def _lines_table(doc: FPDF, content: Mapping[str, Any]) -> None:
    columns = (*_COLUMNS, *_COLUMNS_TAIL)
    doc.set_font("Helvetica", style="B", size=9)
    doc.set_fill_color(235)
    for label, width, align in columns:
        doc.cell(width, 6, sanitise(label), border="B", align=align, fill=True)
    doc.ln(6)
    doc.set_font("Helvetica", size=9)
    rows = [
        (
            line["title"],
            str(line["quantity"]),
            format_sek(line["unit_price_ore"]),
            percent(line["vat_rate_bp"]),
            format_sek(line["total_ore"]),
        )
        for line in content["lines"]
    ] + [
        (
            fee["label"],
            "1",
            format_sek(fee["amount_ore"]),
            percent(fee["vat_rate_bp"]),
            format_sek(fee["amount_ore"]),
        )
        for fee in content["fees"]
    ]
    for row in rows:
        for (_, width, align), value in zip(columns, row, strict=True):
            text = sanitise(value)
            while width > 4 and doc.get_string_width(text) > width - 1.5:
                text = text[:-2] + "."
            doc.cell(width, 5.5, text, align=align)
        doc.ln(5.5)
    doc.ln(3)


_TOTAL_LABELS = {"invoice": "Att betala", "credit_note": "Krediteras"}


def _vat_table(doc: FPDF, content: Mapping[str, Any]) -> None:
    left = 18 + 74
    doc.set_font("Helvetica", style="B", size=9)
    doc.set_x(left)
    for label in ("Momssats", "Netto", "Moms", "Summa"):
        doc.cell(24 if label != "Summa" else 22, 5.5, sanitise(label), border="B", align="R")
    doc.ln(5.5)
    doc.set_font("Helvetica", size=9)
    for rate in content["vat"]:
        doc.set_x(left)
        for value, width in (
            (percent(rate["rate_bp"]), 24),
            (format_sek(rate["net_ore"]), 24),
            (format_sek(rate["vat_ore"]), 24),
            (format_sek(rate["gross_ore"]), 22),
        ):
            doc.cell(width, 5.5, sanitise(value), align="R")
        doc.ln(5.5)
    doc.ln(2)
    for label, amount, bold in (
        ("Summa exklusive moms", content["total_net_ore"], False),
        ("Moms", content["total_vat_ore"], False),
        (_TOTAL_LABELS.get(content["kind"], "Totalt"), content["total_ore"], True),
    ):
        doc.set_x(left)
        doc.set_font("Helvetica", style="B" if bold else "", size=10 if bold else 9)
        doc.cell(60, 6, sanitise(label), align="L")
        doc.cell(34, 6, sanitise(format_sek(amount)), align="R")
        doc.ln(6)
    doc.ln(4)


def render_invoice(content: Mapping[str, Any], *, compress: bool = True) -> bytes:
    """The PDF of an issued invoice (T3.3, T3.4) from its frozen content."""
    seller = content["seller"]
    doc = _new_document(f"Faktura {content['number']}", author=seller["name"], compress=compress)
    doc.footer_text = f"{seller['name']} · Org.nr {seller['org_number']} · Godkänd för F-skatt"
    _text(doc, "Faktura", size=20, bold=True, height=10)
    _two_columns(
        doc,
        _seller_block(doc, seller),
        [
            f"Fakturanummer: {content['number']}",
            f"Fakturadatum: {_date(content['issued_on'])}",
            f"Förfallodatum: {_date(content['due_on'])}",
            f"Ordernummer: {content['order_number']}",
            f"OCR-nummer: {content['ocr']}",
        ],
    )
    _text(doc, "Köpare", bold=True, size=10)
    _two_columns(doc, _buyer_lines(content["buyer"]), [])
    _lines_table(doc, content)
    _vat_table(doc, content)
    _text(doc, "Betalning", bold=True)
    _text(
        doc,
        f"Betala {format_sek(content['total_ore'])} till bankgiro {content['bankgiro']} "
        f"senast {_date(content['due_on'])}. Ange OCR-nummer {content['ocr']} som referens.",
        size=9,
    )
    _text(
        doc,
        "Betalas fakturan inte i tid skickar vi en påminnelse med en påminnelseavgift på "
        f"{format_sek(content['reminder_fee_ore'])}. "
        f"Köpvillkor version {content['terms_version']}.",
        size=8,
    )
    return bytes(doc.output())


def render_reminder(content: Mapping[str, Any], *, compress: bool = True) -> bytes:
    """The PDF of an invoice reminder (påminnelse, T3.5) from its content.

    Seller, invoice number and date, the original due date, the amount left,
    the reminder fee (no VAT), the new total to pay and the new due date,
    OCR reference and bankgiro.
    """
    seller = content["seller"]
    doc = _new_document(
        f"Påminnelse faktura {content['number']}", author=seller["name"], compress=compress
    )
    doc.footer_text = f"{seller['name']} · Org.nr {seller['org_number']} · Godkänd för F-skatt"
    _text(doc, "Påminnelse", size=20, bold=True, height=10)
    _two_columns(
        doc,
        _seller_block(doc, seller),
        [
            f"Fakturanummer: {content['number']}",
            f"Fakturadatum: {_date(content['issued_on'])}",
            f"Ursprungligt förfallodatum: {_date(content['due_on'])}",
            f"Påminnelsedatum: {_date(content['sent_on'])}",
            f"OCR-nummer: {content['ocr']}",
        ],
    )
    if content.get("buyer"):
        _text(doc, "Köpare", bold=True, size=10)
        _two_columns(doc, _buyer_lines(content["buyer"]), [])
    _text(
        doc,
        f"Vi har ännu inte fått full betalning för faktura {content['number']}. "
        "Betala det som återstår och påminnelseavgiften senast det nya förfallodatumet.",
        size=9,
    )
    doc.ln(3)
    left = 18 + 74
    for label, amount, bold in (
        ("Kvar att betala på fakturan", content["remaining_ore"], False),
        ("Påminnelseavgift (ingen moms)", content["reminder_fee_ore"], False),
        ("Att betala", content["total_to_pay_ore"], True),
    ):
        doc.set_x(left)
        doc.set_font("Helvetica", style="B" if bold else "", size=10 if bold else 9)
        doc.cell(60, 6, sanitise(label), align="L")
        doc.cell(34, 6, sanitise(format_sek(amount)), align="R")
        doc.ln(6)
    doc.ln(4)
    _text(doc, "Betalning", bold=True)
    _text(
        doc,
        f"Betala {format_sek(content['total_to_pay_ore'])} till bankgiro {content['bankgiro']} "
        f"senast {_date(content['new_due_on'])} (nytt förfallodatum). "
        f"Ange OCR-nummer {content['ocr']} som referens.",
        size=9,
    )
    _text(
        doc,
        "Betalas fakturan inte senast det nya förfallodatumet lämnas den till inkasso. "
        "Har du redan betalat kan du bortse från denna påminnelse.",
        size=8,
    )
    return bytes(doc.output())


def render_receipt(content: Mapping[str, Any], *, compress: bool = True) -> bytes:
    """The PDF of an issued receipt (T2.1) from its frozen content."""
    seller = content["seller"]
    doc = _new_document(f"Kvitto {content['number']}", author=seller["name"], compress=compress)
    doc.footer_text = f"{seller['name']} · Org.nr {seller['org_number']}"
    _text(doc, "Kvitto", size=20, bold=True, height=10)
    _two_columns(
        doc,
        _seller_block(doc, seller),
        [
            f"Kvittonummer: {content['number']}",
            f"Datum: {_date(content['issued_on'])}",
            f"Ordernummer: {content['order_number']}",
            f"Betalsätt: {content['payment_method_label']}",
        ],
    )
    _text(doc, "Köpare", bold=True, size=10)
    _two_columns(doc, _buyer_lines(content["buyer"]), [])
    _lines_table(doc, content)
    _vat_table(doc, content)
    _text(doc, f"Köpvillkor version {content['terms_version']}.", size=8)
    return bytes(doc.output())


def render_credit_note(content: Mapping[str, Any], *, compress: bool = True) -> bytes:
    """The PDF of an issued credit note (kreditfaktura, T5.5, T5.6) from its frozen content.

    The credited lines and delivery fee as negative amounts, VAT per rate,
    the total credited, the receipt or invoice it credits and how the money
    is paid back (T5.8).
    """
    seller = content["seller"]
    doc = _new_document(
        f"Kreditfaktura {content['number']}", author=seller["name"], compress=compress
    )
    doc.footer_text = f"{seller['name']} · Org.nr {seller['org_number']} · Godkänd för F-skatt"
    _text(doc, "Kreditfaktura", size=20, bold=True, height=10)
    facts = [
        f"Kreditfakturanummer: {content['number']}",
        f"Datum: {_date(content['issued_on'])}",
        f"Ordernummer: {content['order_number']}",
        f"Orderdatum: {_date(content['ordered_on'])}",
    ]
    credits = content.get("credits")
    if credits:
        label = "Faktura" if credits["kind"] == "invoice" else "Kvitto"
        facts.append(f"Krediterar: {label} {credits['number']}")
    _two_columns(doc, _seller_block(doc, seller), facts)
    _text(doc, "Köpare", bold=True, size=10)
    _two_columns(doc, _buyer_lines(content["buyer"]), [])
    _lines_table(doc, content)
    _vat_table(doc, content)
    if content.get("credited_invoice"):
        # A complaint's refund on an unpaid invoice (T6): no money moves.
        settlement = (
            f"Beloppet {format_sek(-content['total_ore'])} dras av från faktura "
            f"{content['credited_invoice']}, som inte är betald."
        )
    else:
        settlement = (
            f"Beloppet {format_sek(-content['total_ore'])} betalas tillbaka med samma betalsätt "
            f"som köpet: {content['payment_method_label']}."
        )
    _text(doc, settlement, size=9)
    return bytes(doc.output())


def render_withdrawal_form(form: Mapping[str, Any], *, compress: bool = True) -> bytes:
    """The EU model withdrawal form (Standardformulär för utövande av ångerrätt).

    ``form`` has ``heading``, ``hint``, ``recipient``, ``paragraphs`` (the
    lines to fill in) and ``footnote``: the same wording as the terms page.
    """
    doc = _new_document(form["heading"], author=form.get("author", ""), compress=compress)
    _text(doc, form["heading"], size=15, bold=True, height=8)
    _text(doc, form["hint"], size=9)
    doc.ln(3)
    _text(doc, form["recipient"])
    for paragraph in form["paragraphs"]:
        doc.ln(2)
        _text(doc, paragraph)
        doc.set_draw_color(150)
        doc.line(doc.l_margin, doc.get_y() + 8, doc.w - doc.r_margin, doc.get_y() + 8)
        doc.ln(11)
    doc.ln(3)
    _text(doc, form["footnote"], size=9)
    return bytes(doc.output())


def withdrawal_form_pdf(form: Mapping[str, Any]) -> bytes:
    """:func:`render_withdrawal_form`, rendered once per wording and kept.

    The form is the same for every consumer order of the shop (its wording
    and the seller's address only), and rendering it was a third of the time
    a payment confirmation took; a handful of wordings (one per language)
    ever exist in a process.
    """
    return _withdrawal_form_pdf(json.dumps(dict(form), sort_keys=True, ensure_ascii=False))


@functools.lru_cache(maxsize=8)
def _withdrawal_form_pdf(form_json: str) -> bytes:
    return render_withdrawal_form(json.loads(form_json))


def render_sheet_music(title: str, *, composer: str = "", compress: bool = True) -> bytes:
    """A small, real sheet-music PDF (a title page and empty staves) for demo downloads."""
    doc = _new_document(title, author=composer or "Notbutiken", compress=compress)
    _text(doc, title, size=22, bold=True, height=11)
    if composer:
        _text(doc, composer, size=12)
    doc.ln(6)
    doc.set_draw_color(40)
    y = doc.get_y() + 4
    for _stave in range(9):
        for line in range(5):
            doc.line(doc.l_margin, y + line * 2, doc.w - doc.r_margin, y + line * 2)
        y += 22
    return bytes(doc.output())


# --- Stamping the buyer into a PDF's metadata (T8.1) ---------------------------------

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_ROOT = re.compile(rb"/Root\s+(\d+\s+\d+\s+R)")
_SIZE = re.compile(rb"/Size\s+(\d+)")


def _pdf_text(value: str) -> bytes:
    """A PDF text string in UTF-16BE with BOM, as hex (any character, no escaping)."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def stamp_buyer(data: bytes, *, buyer: str, note: str) -> bytes | None:
    """The PDF with a new document information dictionary naming the buyer (T8.1).

    Appended as an incremental update (PDF 1.7, 7.5.6): the original bytes
    stay untouched and the new /Info (Author = the buyer, Subject = ``note``)
    takes precedence. None when the file has no classic cross-reference
    trailer (then it is served as stored).
    """
    tail = data[-4096:]
    start = _STARTXREF.search(tail)
    trailer_at = data.rfind(b"trailer")
    if start is None or trailer_at < 0:
        return None
    trailer = data[trailer_at : data.rfind(b"startxref")]
    root, size = _ROOT.search(trailer), _SIZE.search(trailer)
    if root is None or size is None:
        return None
    number = int(size.group(1))
    body = data if data.endswith(b"\n") else data + b"\n"
    offset = len(body)
    info = (
        f"{number} 0 obj\n".encode()
        + b"<< /Author "
        + _pdf_text(buyer)
        + b" /Subject "
        + _pdf_text(note)
        + b" /Producer (Notbutiken) >>\nendobj\n"
    )
    xref_at = offset + len(info)
    xref = f"xref\n{number} 1\n{offset:010d} 00000 n \n".encode()
    new_trailer = (
        b"trailer\n<< /Size "
        + str(number + 1).encode()
        + b" /Root "
        + root.group(1)
        + b" /Info "
        + f"{number} 0 R".encode()
        + b" /Prev "
        + start.group(1)
        + b" >>\nstartxref\n"
        + str(xref_at).encode()
        + b"\n%%EOF\n"
    )
    return body + info + xref + new_trailer
