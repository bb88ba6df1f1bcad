"""Helpers shared by the fulfilment, documents and downloads tests (engineer C)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask, current_app

from shop.extensions import db
from shop.models import DownloadFile, Order, Product, SoftwareCode
from shop.services import fulfilment, pdf
from tests.factories import NOW, make_customer, make_order, make_product


def add_download_file(product: Product, *, directory: Path | None = None) -> DownloadFile:
    """A real sheet-music PDF for a download product, in DOWNLOAD_DIR."""
    directory = directory or Path(current_app.config["DOWNLOAD_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    data = pdf.render_sheet_music(product.title, compress=False)
    name = f"{product.sku.lower()}.pdf"
    (directory / name).write_bytes(data)
    file = DownloadFile(
        product_id=product.id,
        filename=f"{product.slug}.pdf",
        stored_path=name,
        content_type="application/pdf",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    db.session.add(file)
    db.session.commit()
    return file


def add_codes(product: Product, *codes: str) -> None:
    for code in codes:
        db.session.add(SoftwareCode(product_id=product.id, code=code))
    db.session.commit()


def download_product(title: str = "Vivaldi: Våren (PDF)") -> Product:
    product = make_product(title=title, kind="download", price_ore=9900, vat_rate_bp=600)
    add_download_file(product)
    return product


def code_product(*codes: str) -> Product:
    product = make_product(
        title="Notskrivarprogram – licens", kind="software_code", price_ore=99900, vat_rate_bp=2500
    )
    add_codes(product, *(codes or ("AAAAA-11111", "BBBBB-22222")))
    return product


def confirmed_order(*, now: datetime = NOW, **kwargs: object) -> Order:
    """An order placed and confirmed (paid) through ``fulfilment.confirm_order``, committed."""
    order = make_order(now=now, **kwargs)  # type: ignore[arg-type]
    fulfilment.confirm_order(order, now=now)
    db.session.commit()
    return order


def invoice_order(*, now: datetime = NOW) -> Order:
    """An organisation's invoice order, confirmed (invoice issued), committed."""
    customer = make_customer(kind="organisation", name="Olga Organisation")
    return confirmed_order(customer=customer, payment_method="invoice", now=now)


@pytest.fixture
def tmp_downloads(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """DOWNLOAD_DIR in the test's tmp directory (never the real instance folder)."""
    previous = app.config["DOWNLOAD_DIR"]
    app.config["DOWNLOAD_DIR"] = str(tmp_path / "downloads")
    try:
        yield tmp_path / "downloads"
    finally:
        app.config["DOWNLOAD_DIR"] = previous
