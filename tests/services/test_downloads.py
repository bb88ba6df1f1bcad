"""Downloads and codes: personal links, limits, expiry, first download, reveal (T5.4, T8.1)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from shop.extensions import db
from shop.models import DownloadFile, DownloadGrant, OrderLine, Product, SoftwareCode
from shop.services import downloads
from tests.factories import NOW, make_order, make_product
from tests.services.fulfilment_helpers import (
    code_product,
    confirmed_order,
    download_product,
    tmp_downloads,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.usefixtures("tmp_downloads")


def _granted() -> tuple[OrderLine, str]:
    order = make_order(lines=[(download_product(), 1)])
    line = order.lines[0]
    order.status = "confirmed"
    _grant, token = downloads.grant_for_line(line, now=NOW)
    db.session.commit()
    return line, token


def test_a_grant_stores_only_the_tokens_hash_with_expiry_and_limit_t8_1(app: Flask) -> None:
    line, token = _granted()
    grant = db.session.query(DownloadGrant).one()
    assert token not in grant.token_hash
    assert len(grant.token_hash) == 64
    assert grant.expires_at == NOW + timedelta(days=7)
    assert grant.downloads_allowed == 5
    assert grant.downloads_used == 0


def test_first_download_is_recorded_once_t5_4(app: Flask) -> None:
    _line, token = _granted()
    file, path = downloads.start_download(token, now=NOW + timedelta(hours=1))
    assert path.read_bytes().startswith(b"%PDF-")
    assert file.content_type == "application/pdf"
    downloads.start_download(token, now=NOW + timedelta(hours=2))
    grant = db.session.query(DownloadGrant).one()
    assert grant.first_download_at == NOW + timedelta(hours=1)
    assert grant.last_download_at == NOW + timedelta(hours=2)
    assert grant.downloads_used == 2


def test_limit_reached_is_refused_in_swedish_t8_1(app: Flask) -> None:
    _line, token = _granted()
    for _ in range(5):
        downloads.start_download(token, now=NOW)
    with pytest.raises(downloads.DownloadRefused, match="redan laddat ner filen 5 gånger"):
        downloads.start_download(token, now=NOW)
    assert db.session.query(DownloadGrant).one().downloads_used == 5


def test_expired_link_is_refused_t8_1(app: Flask) -> None:
    _line, token = _granted()
    with pytest.raises(downloads.DownloadRefused, match="Länken har gått ut"):
        downloads.start_download(token, now=NOW + timedelta(days=7))
    assert db.session.query(DownloadGrant).one().first_download_at is None


def test_unknown_token_is_unknown(app: Flask) -> None:
    _granted()
    with pytest.raises(downloads.UnknownDownload):
        downloads.start_download("nope", now=NOW)


def test_a_cancelled_order_delivers_nothing(app: Flask) -> None:
    line, token = _granted()
    line.order.status = "cancelled"
    db.session.commit()
    with pytest.raises(downloads.DownloadRefused, match="kan inte laddas ner"):
        downloads.start_download(token, now=NOW)


def test_served_pdf_carries_the_buyers_name_in_its_metadata_t8_1(app: Flask) -> None:
    line, token = _granted()
    started = downloads.start_download_by_token(token, now=NOW)
    data = downloads.stamped_file(started)
    from shop.services.pdf import _pdf_text

    assert b"/Author " + _pdf_text(line.order.name) in data
    assert started.path.read_bytes() != data  # the stored file is untouched


def test_reveal_code_records_revealed_at_once_t5_4(app: Flask) -> None:
    order = confirmed_order(lines=[(code_product("K-1", "K-2"), 1)])
    line = order.lines[0]
    assert downloads.reveal_code(line, now=NOW + timedelta(minutes=5)) == "K-1"
    assert downloads.reveal_code(line, now=NOW + timedelta(days=1)) == "K-1"
    code = db.session.query(SoftwareCode).filter_by(code="K-1").one()
    assert code.revealed_at == NOW + timedelta(minutes=5)
    assert db.session.query(SoftwareCode).filter_by(code="K-2").one().order_line_id is None


def test_digital_items_summarise_the_order(app: Flask) -> None:
    order = confirmed_order(lines=[(download_product(), 1), (code_product("Z-1"), 1)])
    items = downloads.digital_items(order, now=NOW)
    assert [item.kind.value for item in items] == ["download", "software_code"]
    assert items[0].remaining == 5
    assert items[0].downloadable
    assert not items[1].revealed
    assert items[1].codes


def test_seed_digital_goods_creates_files_and_code_pools(app: Flask) -> None:
    product = make_product(title="Demo: Menuett", kind="download", vat_rate_bp=600)
    software = make_product(title="Demo-licens", kind="software_code", vat_rate_bp=2500)
    assert downloads.seed_digital_goods(NOW, codes_per_product=3) == (1, 3)
    assert downloads.seed_digital_goods(NOW, codes_per_product=3) == (0, 0)
    file = db.session.query(DownloadFile).filter_by(product_id=product.id).one()
    stored = Path(app.config["DOWNLOAD_DIR"]) / file.stored_path
    assert stored.read_bytes().startswith(b"%PDF-")
    assert file.size_bytes == stored.stat().st_size
    assert downloads.available_codes(software.id) == 3
    assert isinstance(db.session.get(Product, software.id), Product)
