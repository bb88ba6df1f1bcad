"""Complaints, reklamation (T6): the window from the domain, photos, one open per line,
staff's decision and the return freight label, every step audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import (
    AuditEntry,
    Complaint,
    ComplaintPhoto,
    Order,
    OrderLine,
    OutboxMessage,
    Shipment,
    ShipmentLine,
)
from shop.models.customer import Role
from shop.services import complaints
from shop.services.complaints import ComplaintError, Outcome, Upload
from shop.services.customers import create_staff_member
from tests.factories import NOW, PASSWORD, make_customer, make_order, make_product
from tests.services.test_complaint_photos import JPEG, PNG, WEBP, exif, segment

TODAY = date(2026, 11, 23)  # NOW's date, a Monday
PDF = b"%PDF-1.7\n" + b"\x00" * 100


@pytest.fixture(autouse=True)
def uploads(app: Flask, tmp_path: Path) -> Path:
    """Each test's photos in a directory of its own."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture
def staff_id(app: Flask) -> int:
    person = create_staff_member(
        email="personal@example.se",
        name="Sam Personal",
        password=PASSWORD,
        roles=[Role.STAFF],
        now=NOW,
    )
    return int(person.id)


def delivered_order(
    delivered_on: date | None,
    *,
    buyer_kind: str = "consumer",
    dispatched: bool = True,
    price_ore: int = 30000,
) -> tuple[Order, OrderLine]:
    """A confirmed order of 2 music stands in one parcel, delivered on ``delivered_on``."""
    customer = make_customer(kind=buyer_kind)
    product = make_product(title="Notställ", price_ore=price_ore, vat_rate_bp=2500)
    placed_on = (delivered_on or TODAY) - timedelta(days=3)
    order = make_order(
        customer=customer,
        lines=[(product, 2)],
        status=OrderStatus.CONFIRMED,
        now=datetime.combine(placed_on, time(9), tzinfo=UTC),
    )
    line = order.lines[0]
    if dispatched:
        shipment = Shipment(
            order_id=order.id,
            carrier="postnord",
            tracking_number="PN1SE",
            created_at=NOW,
            created_by="1",
            dispatched_on=(delivered_on or TODAY) - timedelta(days=1),
            delivered_on=delivered_on,
        )
        shipment.lines.append(ShipmentLine(order_line_id=line.id, quantity=2))
        db.session.add(shipment)
        db.session.commit()
    return order, line


def report(
    line: OrderLine,
    *,
    description: str = "Benet har spruckit.",
    discovered_on: date | None = None,
    photos: list[Upload] | None = None,
    now: object = NOW,
) -> Complaint:
    return complaints.report(
        line,
        description=description,
        discovered_on=discovered_on,
        photos=photos or [],
        actor="customer:K-TEST",
        now=now,  # type: ignore[arg-type]
    )


# --- The window (T6.1, T6.2) ------------------------------------------------------------


def test_reported_on_the_last_day_of_two_months_is_normal_t6_1(app: Flask) -> None:
    _, line = delivered_order(date(2026, 9, 23))
    complaint = report(line)
    assert complaint.window_kind == "normal"
    assert complaint.window_rule == "T6.1"
    assert not complaint.needs_review
    assert complaint.received_on == date(2026, 9, 23)
    assert complaint.normal_last_day == TODAY
    assert complaint.reported_on == TODAY
    entry = db.session.scalars(select(AuditEntry).filter_by(action="complaint.reported")).one()
    assert (entry.subject_type, entry.subject_id) == ("order", str(complaint.order_id))
    assert entry.details["complaint"] == complaint.id
    assert entry.rule_id == "T6.1"
    assert "Benet" not in str(entry.details)  # no free text in the audit log


def test_a_last_day_on_a_weekend_runs_to_monday_t6_1(app: Flask) -> None:
    _, line = delivered_order(date(2026, 9, 21))  # + 2 months = Saturday 21 November
    complaint = report(line)
    assert complaint.window_kind == "normal"
    assert complaint.normal_last_day == TODAY


def test_a_consumer_one_day_late_is_taken_and_flagged_for_review_t6_2(app: Flask) -> None:
    _, line = delivered_order(date(2026, 9, 20))  # last normal day Friday 20 November
    complaint = report(line)
    assert complaint.window_kind == "statutory"
    assert complaint.window_rule == "T6.2"
    assert complaint.needs_review
    assert complaint.normal_last_day == date(2026, 11, 20)
    assert complaint.statutory_last_day == date(2027, 1, 25)  # 23 Jan 2027 is a Saturday


def test_an_organisation_one_day_late_is_refused_with_the_last_day_t6_1(app: Flask) -> None:
    _, line = delivered_order(date(2026, 9, 20), buyer_kind="organisation")
    with pytest.raises(ComplaintError) as caught:
        report(line)
    assert caught.value.rule == "T6.1"
    assert "20 november 2026" in caught.value.message
    assert db.session.scalar(select(Complaint.id)) is None


def test_an_organisation_on_the_last_day_is_taken_t6_1(app: Flask) -> None:
    _, line = delivered_order(date(2026, 9, 23), buyer_kind="organisation")
    complaint = report(line)
    assert complaint.window_kind == "normal"
    assert complaint.statutory_last_day is None


def test_a_consumer_out_of_every_window_is_still_taken_for_staff_t6_2(app: Flask) -> None:
    _, line = delivered_order(date(2026, 1, 10))
    complaint = report(line, discovered_on=date(2026, 9, 1))  # + 2 months: 2 November
    assert complaint.window_kind == "out_of_time"
    assert complaint.needs_review
    assert complaint.statutory_last_day == date(2026, 11, 2)


def test_discovery_two_months_ago_is_the_statutory_boundary_t6_2(app: Flask) -> None:
    _, line = delivered_order(date(2026, 1, 10))
    complaint = report(line, discovered_on=date(2026, 9, 23))
    assert complaint.window_kind == "statutory"
    assert complaint.discovered_on == date(2026, 9, 23)


def test_no_recorded_delivery_is_judged_from_the_report_day_t4_2(app: Flask) -> None:
    _, line = delivered_order(None)
    complaint = report(line)
    assert complaint.received_on is None
    assert complaint.window_kind == "normal"


def test_a_download_is_received_on_the_order_day_t6_1(app: Flask) -> None:
    product = make_product(title="Etyder (PDF)", kind="download", price_ore=9900, vat_rate_bp=600)
    order = make_order(lines=[(product, 1)], status=OrderStatus.CONFIRMED)
    complaint = report(order.lines[0])
    assert complaint.received_on == TODAY


# --- Refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   "])
def test_a_complaint_needs_a_description(app: Flask, text: str) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    with pytest.raises(ComplaintError) as caught:
        report(line, description=text)
    assert caught.value.field == "description"


def test_a_line_not_yet_sent_cannot_be_reported(app: Flask) -> None:
    _, line = delivered_order(None, dispatched=False)
    assert not complaints.can_report(line)
    with pytest.raises(ComplaintError, match="inte skickats"):
        report(line)


def test_an_unpaid_order_cannot_be_reported(app: Flask) -> None:
    order = make_order(lines=[(make_product(kind="download", vat_rate_bp=600), 1)])
    assert not complaints.can_report(order.lines[0])
    with pytest.raises(ComplaintError, match="inte betald"):
        report(order.lines[0])


@pytest.mark.parametrize(
    ("discovered", "field"),
    [(TODAY + timedelta(days=1), "discovered_on"), (date(2026, 10, 31), "discovered_on")],
)
def test_the_discovery_day_lies_between_delivery_and_today(
    app: Flask, discovered: date, field: str
) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    with pytest.raises(ComplaintError) as caught:
        report(line, discovered_on=discovered)
    assert caught.value.field == field


def test_a_second_complaint_on_the_same_line_while_one_is_open_is_refused(
    app: Flask, staff_id: int
) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    first = report(line)
    with pytest.raises(ComplaintError, match="redan en öppen reklamation"):
        report(line)
    complaints.decide(
        first, Outcome.REJECTION, reason="Normalt slitage.", staff_id=staff_id, now=NOW
    )
    second = report(line, description="Nu har även skruven lossnat.")
    assert second.id != first.id


# --- Photos -------------------------------------------------------------------------------


def test_photos_are_stored_outside_the_web_root_under_random_names(app: Flask) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    complaint = report(
        line,
        photos=[Upload("skada.JPG", JPEG), Upload("bild.png", PNG), Upload("x", WEBP)],
    )
    types = [photo.content_type for photo in complaint.photos]
    assert types == ["image/jpeg", "image/png", "image/webp"]
    root = Path(app.config["UPLOAD_DIR"]).resolve()
    for photo in complaint.photos:
        path = complaints.photo_path(photo)
        assert path is not None
        assert root in path.parents
        assert "skada" not in photo.stored_path
    assert complaints.photo_path(complaint.photos[0]).read_bytes() == JPEG  # type: ignore[union-attr]


def test_a_stored_photo_has_no_gps_or_other_metadata(app: Flask) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    with_exif = JPEG[:2] + segment(0xE1, exif(1)) + JPEG[2:]
    photo = report(line, photos=[Upload("mobil.jpg", with_exif)]).photos[0]
    stored = complaints.photo_path(photo).read_bytes()  # type: ignore[union-attr]
    assert stored == JPEG
    assert photo.size_bytes == len(JPEG)


def test_a_photo_is_recognised_by_its_content_not_its_name(app: Flask) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    with pytest.raises(ComplaintError, match="ingen bild") as caught:
        report(line, photos=[Upload("skada.jpg", PDF)])
    assert caught.value.field == "photos"
    assert db.session.scalar(select(ComplaintPhoto.id)) is None


def test_a_photo_at_the_size_limit_is_taken_and_one_byte_more_is_refused(app: Flask) -> None:
    app.config["COMPLAINT_PHOTO_MAX_BYTES"] = len(JPEG)
    _, line = delivered_order(date(2026, 11, 1))
    with pytest.raises(ComplaintError, match="för stor"):
        report(line, photos=[Upload("stor.jpg", JPEG + b"\x00")])
    assert report(line, photos=[Upload("lagom.jpg", JPEG)]).photos


def test_at_most_the_configured_number_of_photos(app: Flask) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    with pytest.raises(ComplaintError, match="högst 3 bilder"):
        report(line, photos=[Upload(f"{n}.jpg", JPEG) for n in range(4)])
    assert not list(Path(app.config["UPLOAD_DIR"]).glob("complaints/*"))


def test_a_photo_path_outside_the_upload_dir_is_never_served(app: Flask) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    photo = report(line, photos=[Upload("a.jpg", JPEG)]).photos[0]
    photo.stored_path = "../../etc/passwd"
    assert complaints.photo_path(photo) is None


# --- Staff: decision and label (T6, T6.3) ---------------------------------------------------


def test_a_decision_records_outcome_reason_audit_and_mails_the_customer(
    app: Flask, staff_id: int
) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    complaint = report(line)
    complaints.decide(
        complaint, Outcome.REPAIR, reason="Vi lagar notstället.", staff_id=staff_id, now=NOW
    )
    assert (complaint.status, complaint.outcome) == ("decided", "repair")
    assert complaint.reason == "Vi lagar notstället."
    assert complaint.decided_by == str(staff_id)
    entry = db.session.scalars(select(AuditEntry).filter_by(action="complaint.decided")).one()
    assert entry.actor == f"staff:{staff_id}"
    assert entry.details["before"] == "open"
    assert entry.details["after"] == "decided"
    assert entry.details["outcome"] == "repair"
    assert "lagar" not in str(entry.details)
    mail = db.session.scalars(select(OutboxMessage).filter_by(template="complaint_decision")).one()
    assert mail.to_address == order.email
    assert "Vi lagar notstället." in mail.body_text
    assert "Reparation" in mail.body_text


def test_a_decided_complaint_is_not_decided_again(app: Flask, staff_id: int) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    complaint = report(line)
    complaints.decide(complaint, "replacement", reason="Ny skickas.", staff_id=staff_id, now=NOW)
    with pytest.raises(ComplaintError, match="redan avgjord"):
        complaints.decide(complaint, "rejection", reason="Nej.", staff_id=staff_id, now=NOW)
    assert complaint.outcome == "replacement"


@pytest.mark.parametrize(
    ("amount", "ok"), [(None, False), (0, False), (60000, True), (60001, False)]
)
def test_a_refund_amount_is_above_zero_and_at_most_the_line_total(
    app: Flask, staff_id: int, amount: int | None, ok: bool
) -> None:
    _, line = delivered_order(date(2026, 11, 1))  # 2 × 300 kr
    complaint = report(line)
    if ok:
        complaints.decide(
            complaint,
            "refund",
            reason="Pengarna tillbaka.",
            refund_ore=amount,
            staff_id=staff_id,
            now=NOW,
        )
        assert complaint.refund_ore == amount
    else:
        with pytest.raises(ComplaintError) as caught:
            complaints.decide(
                complaint,
                "refund",
                reason="Pengarna tillbaka.",
                refund_ore=amount,
                staff_id=staff_id,
                now=NOW,
            )
        assert caught.value.field == "refund"
        assert complaint.is_open


def test_a_decision_needs_a_reason_and_a_known_outcome(app: Flask, staff_id: int) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    complaint = report(line)
    with pytest.raises(ComplaintError) as caught:
        complaints.decide(complaint, "repair", reason=" ", staff_id=staff_id, now=NOW)
    assert caught.value.field == "reason"
    with pytest.raises(ComplaintError) as caught:
        complaints.decide(complaint, "shrug", reason="x", staff_id=staff_id, now=NOW)
    assert caught.value.field == "outcome"


def test_the_return_freight_label_is_recorded_and_audited_t6_3(app: Flask, staff_id: int) -> None:
    _, line = delivered_order(date(2026, 11, 1))
    complaint = report(line)
    assert complaints.record_return_label(complaint, "PN-RET-1", staff_id=staff_id, now=NOW)
    assert not complaints.record_return_label(complaint, "PN-RET-1", staff_id=staff_id, now=NOW)
    assert complaints.record_return_label(complaint, "PN-RET-2", staff_id=staff_id, now=NOW)
    entries = db.session.scalars(
        select(AuditEntry).filter_by(action="complaint.return_label").order_by(AuditEntry.id)
    ).all()
    assert [(e.details["before"], e.details["after"]) for e in entries] == [
        (None, "PN-RET-1"),
        ("PN-RET-1", "PN-RET-2"),
    ]
    assert {e.rule_id for e in entries} == {"T6.3"}


def test_no_return_label_for_a_download_or_a_rejected_complaint_t6_3(
    app: Flask, staff_id: int
) -> None:
    product = make_product(title="Etyder (PDF)", kind="download", price_ore=9900, vat_rate_bp=600)
    order = make_order(lines=[(product, 1)], status=OrderStatus.CONFIRMED)
    digital = report(order.lines[0])
    with pytest.raises(ComplaintError, match="post"):
        complaints.record_return_label(digital, "X", staff_id=staff_id, now=NOW)
    _, line = delivered_order(date(2026, 11, 1))
    rejected = report(line)
    complaints.decide(rejected, "rejection", reason="Inget fel.", staff_id=staff_id, now=NOW)
    with pytest.raises(ComplaintError, match="avslagen"):
        complaints.record_return_label(rejected, "X", staff_id=staff_id, now=NOW)


def test_the_staff_list_shows_open_first_and_filters(app: Flask, staff_id: int) -> None:
    _, late_line = delivered_order(date(2026, 9, 1))
    _, line = delivered_order(date(2026, 11, 1))
    decided = report(line, now=NOW - timedelta(days=2))
    complaints.decide(decided, "repair", reason="Lagas.", staff_id=staff_id, now=NOW)
    flagged = report(late_line)
    newest = report(delivered_order(date(2026, 11, 10))[1])
    everything = complaints.staff_list(complaints.ComplaintFilter())
    assert [c.id for c in everything] == [flagged.id, newest.id, decided.id]
    assert complaints.open_count() == 2
    only_review = complaints.staff_list(complaints.ComplaintFilter(window="statutory"))
    assert [c.id for c in only_review] == [flagged.id]
    only_decided = complaints.staff_list(complaints.ComplaintFilter(status="decided"))
    assert [c.id for c in only_decided] == [decided.id]
    by_number = complaints.staff_list(complaints.ComplaintFilter(q=newest.order.number))
    assert [c.id for c in by_number] == [newest.id]
