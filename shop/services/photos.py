"""Customers' photos: the type from the content, and the metadata taken out before storing.

A phone photo carries EXIF data: often the GPS position where it was taken
(the customer's home), the device and the time. The shop needs the picture
only, so :func:`without_metadata` drops EXIF, XMP, IPTC and comments from
JPEG, PNG and WebP files, keeping what the picture needs to look right (the
JPEG orientation, colour profiles). A file whose structure does not hold
together is not a picture we accept (None). Plain Python, no image library:
the pixels are never decoded.
"""

from __future__ import annotations

from typing import Literal

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks with text, time or EXIF: dropped.
_PNG_DROPPED = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
#: JPEG segments dropped: APP1 (EXIF, XMP), APP13 (IPTC), COM.
_JPEG_DROPPED = {0xE1, 0xED, 0xFE}
_ORIENTATION_TAG = 0x0112


def sniff(data: bytes) -> str | None:
    """The photo's type from its first bytes (JPEG, PNG, WebP), or None for anything else."""
    if len(data) > 3 and data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR":
        return PNG
    if len(data) > 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def without_metadata(data: bytes, content_type: str) -> bytes | None:
    """The photo without its metadata, or None when its structure is broken."""
    if content_type == JPEG:
        return _jpeg(data)
    if content_type == PNG:
        return _png(data)
    if content_type == WEBP:
        return _webp(data)
    return None


def _exif_orientation(exif: bytes) -> int | None:
    """The orientation (1–8) in an APP1 EXIF payload (after ``Exif\\0\\0``), if any."""
    tiff = exif[6:]
    order: Literal["little", "big"]
    if tiff[:4] == b"II*\x00":
        order = "little"
    elif tiff[:4] == b"MM\x00*":
        order = "big"
    else:
        return None
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    for n in range(count):
        entry = tiff[ifd + 2 + 12 * n : ifd + 14 + 12 * n]
        if len(entry) < 12:
            return None
        if int.from_bytes(entry[:2], order) == _ORIENTATION_TAG:
            value = int.from_bytes(entry[8:10], order)
            return value if 1 <= value <= 8 else None
    return None


def _orientation_segment(orientation: int) -> bytes:
    """A minimal APP1 EXIF segment holding only the orientation."""
    tiff = (
        b"MM\x00*\x00\x00\x00\x08"  # big-endian TIFF header, IFD0 at 8
        + b"\x00\x01"  # one entry
        + _ORIENTATION_TAG.to_bytes(2, "big")
        + b"\x00\x03\x00\x00\x00\x01"  # SHORT, count 1
        + orientation.to_bytes(2, "big")
        + b"\x00\x00"
        + b"\x00\x00\x00\x00"  # no next IFD
    )
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _jpeg(data: bytes) -> bytes | None:
    if data[:2] != b"\xff\xd8":
        return None
    out = bytearray(b"\xff\xd8")
    orientation: int | None = None
    #: Where a kept orientation goes: after a leading JFIF header, as JFIF wants it first.
    insert_at = 2
    i = 2
    while i + 2 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out += data[i : i + 2]
            i += 2
            continue
        if i + 4 > len(data):
            return None
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        end = i + 2 + length
        if length < 2 or end > len(data):
            return None
        if marker == 0xDA:  # start of scan: the rest is the picture
            if orientation not in (None, 1):
                assert orientation is not None
                out[insert_at:insert_at] = _orientation_segment(orientation)
            out += data[i:]
            return bytes(out)
        if marker in _JPEG_DROPPED:
            payload = data[i + 4 : end]
            if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
                orientation = _exif_orientation(payload) or orientation
        else:
            out += data[i:end]
            if marker == 0xE0 and i == 2:
                insert_at = len(out)
        i = end
    return None


def _png(data: bytes) -> bytes | None:
    if data[:8] != _PNG_SIGNATURE:
        return None
    out = bytearray(_PNG_SIGNATURE)
    i = 8
    while i + 12 <= len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            return None
        if kind not in _PNG_DROPPED:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            return bytes(out)
    return None


def _webp(data: bytes) -> bytes | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    if int.from_bytes(data[4:8], "little") + 8 != len(data):
        return None
    chunks = bytearray()
    i = 12
    while i + 8 <= len(data):
        kind = data[i : i + 4]
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        end = i + 8 + size + (size & 1)
        if i + 8 + size > len(data):
            return None
        chunk = bytearray(data[i : min(end, len(data))])
        if kind == b"VP8X" and size >= 1:
            chunk[8] &= ~0x0C & 0xFF  # no EXIF (0x08), no XMP (0x04)
        if kind not in (b"EXIF", b"XMP "):
            chunks += chunk
        i = end
    if i != len(data) or not chunks:
        return None
    return b"RIFF" + (len(chunks) + 4).to_bytes(4, "little") + b"WEBP" + bytes(chunks)
