"""Receipts and the immutability of issued bookkeeping records (T2.1, R2.3)."""

from __future__ import annotations

import hashlib

import pytest
from flask import Flask
from sqlalchemy import delete, update

from shop.extensions import db
from shop.models import BookkeepingRecord, Order
from shop.services import bookkeeping, pdf, receipts
from shop.services.bookkeeping import ALLOW_PURGE, BookkeepingRecordImmutable
from tests.factories import NOW, make_product
from tests.services.fulfilment_helpers import (
    confirmed_order,
    tmp_downloads,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.usefixtures("tmp_downloads")


def _receipt() -> BookkeepingRecord:
    order = confirmed_order(
        lines=[
            (make_product(price_ore=24900, vat_rate_bp=600), 2),
            (make_product(title="Stämapparat", price_ore=19900, vat_rate_bp=2500), 1),
        ]
    )
    record = receipts.record_for_order(order, "receipt")
    assert record is not None
    return record


def test_receipt_has_vat_per_rate_payment_method_and_order_number_t2_1(app: Flask) -> None:
    record = _receipt()
    content = record.content
    assert record.kind == "receipt"
    assert record.number == 1
    assert content["order_number"]
    assert content["payment_method_label"] == "Testbetalning"
    rates = {rate["rate_bp"]: rate for rate in content["vat"]}
    assert set(rates) == {2500, 600}
    assert rates[600]["gross_ore"] == 49800
    assert rates[600]["vat_ore"] == 2819
    for rate in rates.values():
        assert rate["net_ore"] + rate["vat_ore"] == rate["gross_ore"]
    assert content["total_ore"] == sum(rate["gross_ore"] for rate in content["vat"])
    data = receipts.record_pdf(record)
    assert data.startswith(b"%PDF-")
    assert record.pdf == data
    assert record.pdf_sha256 == hashlib.sha256(data).hexdigest()


def test_the_pdf_is_rendered_from_the_frozen_content_once_and_kept_r2_3(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issuing freezes the content and renders nothing; the first use renders and stores the
    PDF, every later use gets the stored bytes, and a stored PDF is never replaced."""
    rendered: list[int] = []
    real_render = pdf.render_receipt

    def counting_render(content: dict[str, object], **kwargs: bool) -> bytes:
        rendered.append(int(str(content["number"])))
        return real_render(content, **kwargs)

    monkeypatch.setattr(pdf, "render_receipt", counting_render)
    record = _receipt()
    assert rendered == []
    assert (record.pdf, record.pdf_sha256) == (None, None)

    first = receipts.record_pdf(record)
    db.session.commit()
    assert rendered == [1]
    assert first == real_render(record.content)  # the same content gives the same bytes

    db.session.expire_all()
    again = db.session.get(BookkeepingRecord, record.id)
    assert again is not None
    assert receipts.record_pdf(again) == first
    assert rendered == [1]

    # A second writer that rendered at the same time cannot replace what was stored first.
    assert bookkeeping.store_pdf_once(again, b"%PDF-another") == first
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(BookkeepingRecord, record.id).pdf == first  # type: ignore[union-attr]


def test_receipt_numbers_are_gap_free(app: Flask) -> None:
    first = _receipt()
    second = _receipt()
    assert (first.number, second.number) == (1, 2)


def test_issuing_again_returns_the_same_receipt(app: Flask) -> None:
    record = _receipt()
    order = db.session.get(Order, record.order_id)
    assert order is not None
    again = receipts.issue_receipt(order, now=NOW)
    assert again.id == record.id


def test_guard_refuses_update_of_an_issued_record_r2_3(app: Flask) -> None:
    record = _receipt()
    record.content = {**record.content, "total_ore": 1}
    with pytest.raises(BookkeepingRecordImmutable, match="kan inte ändras"):
        db.session.flush()
    db.session.rollback()
    record.pdf = b"%PDF-forged"
    with pytest.raises(BookkeepingRecordImmutable):
        db.session.commit()
    db.session.rollback()


def test_guard_refuses_delete_of_an_issued_record_r2_3(app: Flask) -> None:
    record = _receipt()
    db.session.delete(record)
    with pytest.raises(BookkeepingRecordImmutable, match="kan inte raderas"):
        db.session.flush()
    db.session.rollback()
    assert db.session.query(BookkeepingRecord).count() == 1


def test_guard_refuses_bulk_update_and_delete_r2_3(app: Flask) -> None:
    _receipt()
    with pytest.raises(BookkeepingRecordImmutable):
        db.session.execute(update(BookkeepingRecord).values(fiscal_year=1999))
    db.session.rollback()
    with pytest.raises(BookkeepingRecordImmutable):
        db.session.execute(delete(BookkeepingRecord))
    db.session.rollback()
    assert db.session.query(BookkeepingRecord).one().fiscal_year == 2026


def test_only_the_retention_purge_may_delete_and_never_update_r2_3(app: Flask) -> None:
    record = _receipt()
    db.session.info[ALLOW_PURGE] = True
    try:
        record.fiscal_year = 1999
        with pytest.raises(BookkeepingRecordImmutable):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(BookkeepingRecord, record.id))
        db.session.commit()
    finally:
        db.session.info.pop(ALLOW_PURGE, None)
    assert db.session.query(BookkeepingRecord).count() == 0
