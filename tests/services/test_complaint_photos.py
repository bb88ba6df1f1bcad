"""Complaint photos (T6): the type from the content, and metadata (GPS, device) taken out."""

from __future__ import annotations

import zlib

import pytest

from shop.services import photos

SOI, EOI = b"\xff\xd8", b"\xff\xd9"
APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
SOS = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
SCAN = b"\x12\x34\x56" * 60
#: A JPEG's structure: start, JFIF header, the scan with its data, end.
JPEG = SOI + APP0 + SOS + SCAN + EOI


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def exif(orientation: int, *, little: bool = False) -> bytes:
    """An EXIF payload with the orientation and a (pretend) GPS pointer in IFD0."""
    order = "little" if little else "big"
    head = b"II*\x00" if little else b"MM\x00*"

    def entry(tag: int, kind: int, value: int) -> bytes:
        return (
            tag.to_bytes(2, order)
            + kind.to_bytes(2, order)
            + (1).to_bytes(4, order)
            + value.to_bytes(2, order)
            + b"\x00\x00"
        )

    ifd = (2).to_bytes(2, order) + entry(0x0112, 3, orientation) + entry(0x8825, 4, 99)
    return b"Exif\x00\x00" + head + (8).to_bytes(4, order) + ifd + b"\x00" * 4 + b"GPS 57.70N"


def chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data).to_bytes(4, "big")
    return len(data).to_bytes(4, "big") + kind + data + crc


PNG = (
    b"\x89PNG\r\n\x1a\n"
    + chunk(b"IHDR", b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
    + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + chunk(b"IEND", b"")
)


def riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def webp_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + len(data).to_bytes(4, "little") + data + (b"\x00" if len(data) % 2 else b"")


WEBP = riff(webp_chunk(b"VP8 ", b"\x30\x01\x00\x9d\x01\x2a" + b"\x00" * 20))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (WEBP, "image/webp"),
        (b"%PDF-1.7\n", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"GIF89a" + b"\x00" * 20, None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_content(data: bytes, kind: str | None) -> None:
    assert photos.sniff(data) == kind


@pytest.mark.parametrize("data", [JPEG, PNG, WEBP])
def test_a_clean_photo_is_kept_byte_for_byte(data: bytes) -> None:
    kind = photos.sniff(data)
    assert kind is not None
    assert photos.without_metadata(data, kind) == data


@pytest.mark.parametrize("little", [False, True])
def test_jpeg_exif_and_comments_go_and_only_the_orientation_stays(little: bool) -> None:
    dirty = SOI + APP0 + segment(0xE1, exif(6, little=little)) + segment(0xFE, b"Kims hem") + SOS
    dirty += SCAN + EOI
    clean = photos.without_metadata(dirty, "image/jpeg")
    assert clean is not None
    assert b"GPS" not in clean
    assert b"Kims hem" not in clean
    assert clean.endswith(SOS + SCAN + EOI)
    app1 = clean.index(b"\xff\xe1")
    end = app1 + 2 + int.from_bytes(clean[app1 + 2 : app1 + 4], "big")
    assert photos._exif_orientation(clean[app1 + 4 : end]) == 6
    assert clean == SOI + APP0 + clean[app1:end] + SOS + SCAN + EOI


def test_jpeg_with_upright_exif_gets_no_exif_at_all() -> None:
    dirty = SOI + APP0 + segment(0xE1, exif(1)) + SOS + SCAN + EOI
    assert photos.without_metadata(dirty, "image/jpeg") == JPEG


@pytest.mark.parametrize(
    "broken",
    [
        SOI + b"\xff\xe0\x00\xff" + b"JFIF",  # a segment longer than the file
        SOI + APP0 + b"\x00\x00" + SOS + SCAN,  # garbage between segments
        SOI + APP0,  # no picture
    ],
)
def test_a_broken_jpeg_is_refused(broken: bytes) -> None:
    assert photos.without_metadata(broken, "image/jpeg") is None


def test_png_text_time_and_exif_chunks_go() -> None:
    dirty = (
        PNG[:33]
        + chunk(b"tEXt", b"Comment\x00Kims hem")
        + chunk(b"eXIf", b"MM\x00*GPS")
        + chunk(b"tIME", b"\x07\xea\x0b\x17\x0a\x00\x00")
        + PNG[33:]
    )
    assert photos.without_metadata(dirty, "image/png") == PNG
    assert photos.without_metadata(PNG[:-6], "image/png") is None  # cut short


def test_webp_exif_and_xmp_chunks_and_flags_go() -> None:
    vp8x = b"\x0c\x00\x00\x00" + b"\x00" * 6  # EXIF and XMP flags set
    image = webp_chunk(b"VP8 ", b"\x30\x01\x00\x9d\x01\x2a" + b"\x00" * 20)
    dirty = riff(
        webp_chunk(b"VP8X", vp8x),
        image,
        webp_chunk(b"EXIF", b"MM\x00*GPS"),
        webp_chunk(b"XMP ", b"<x:xmpmeta/>"),
    )
    clean = photos.without_metadata(dirty, "image/webp")
    assert clean == riff(webp_chunk(b"VP8X", b"\x00" * 10), image)
    assert photos.without_metadata(dirty[:-30], "image/webp") is None
