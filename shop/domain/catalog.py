"""Kinds of goods and their delivery classes (T2.2, T2.3, T5.4).

The catalogue stores these values; the terms decide what each kind means:
physical goods travel by letter or parcel and carry a delivery fee, boxed
software is physical but loses the right of withdrawal once its seal is
broken, codes and downloads carry no delivery fee and lose the right of
withdrawal once taken into use.
"""

from __future__ import annotations

from enum import StrEnum


class ProductKind(StrEnum):
    """What a product is, as far as the terms care (T2.2, T2.3, T5.4)."""

    PHYSICAL = "physical"
    SOFTWARE_BOXED = "software_boxed"
    SOFTWARE_CODE = "software_code"
    DOWNLOAD = "download"

    @property
    def is_shipped(self) -> bool:
        """True for goods that travel by post and carry a delivery fee (T2.2)."""
        return self in (ProductKind.PHYSICAL, ProductKind.SOFTWARE_BOXED)

    @property
    def is_digital(self) -> bool:
        """True for codes and downloads, which carry no delivery fee (T2.3)."""
        return not self.is_shipped


class SizeClass(StrEnum):
    """How big a shipped item is, for choosing letter or parcel (T2.2).

    ``THIN`` fits a letter (varubrev); ``SMALL`` and ``LARGE`` go as parcels;
    ``OVERSIZE`` (a cello, a keyboard) goes as a parcel at the freight price
    for its weight.
    """

    THIN = "thin"
    SMALL = "small"
    LARGE = "large"
    OVERSIZE = "oversize"


class DeliveryMode(StrEnum):
    """How an item reaches the buyer, as shown on the product page."""

    LETTER = "letter"
    PARCEL = "parcel"
    DOWNLOAD = "download"
    CODE = "code"
