"""The data map: which tables and columns hold personal data, and which rule keeps them.

privacy.md section 1 sorts what the shop keeps about people into categories,
each with a legal basis and a retention rule (section 2). This module says,
for every table, which category its personal data belongs to, which
retention rule applies, and which of its columns hold personal data; every
other column of a text kind is listed as holding none. A column may belong
to another category than its table (an order's buyer fields are ``account``
data in an ``order history`` table).

``tests/test_datamap.py`` walks every SQLAlchemy model and fails when a
column that could hold personal data (by its name, or any text, JSON or
binary column) is in neither list, so a new column is classified when it is
added. Adding a table is one line in :data:`DATA_MAP`::

    "complaint": personal(ORDER_HISTORY, "description", not_personal="outcome reason"),

The module imports nothing from the database layer, so the retention
sweeper, the register extract and the tests can all read it.
"""

# ruff: noqa: E501 - one line per table in DATA_MAP

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """The categories of personal data of privacy.md section 1."""

    ACCOUNT = "account"
    ORDER_HISTORY = "order history"
    BOOKKEEPING = "bookkeeping records"
    CREDIT_DATA = "invoice credit data"
    COURSE_PARTICIPANTS = "course participants"
    NEWSLETTER_CONSENT = "newsletter consent"
    MARKETING = "marketing and behaviour data"
    DATA_REQUESTS = "data-request records"


@dataclass(frozen=True)
class CategoryInfo:
    """A category's legal basis and the retention rules that decide how long it is kept."""

    basis: str
    rules: tuple[str, ...]


#: privacy.md section 1: basis and "kept until" of each category.
CATEGORIES: dict[Category, CategoryInfo] = {
    Category.ACCOUNT: CategoryInfo("contract", ("R2.1", "R2.2")),
    Category.ORDER_HISTORY: CategoryInfo("contract", ("R2.1",)),
    Category.BOOKKEEPING: CategoryInfo("legal obligation (Bokföringslagen)", ("R2.3",)),
    Category.CREDIT_DATA: CategoryInfo("contract / legitimate interest", ("R2.4",)),
    Category.COURSE_PARTICIPANTS: CategoryInfo("contract", ("R2.5",)),
    Category.NEWSLETTER_CONSENT: CategoryInfo("consent", ("R2.6",)),
    Category.MARKETING: CategoryInfo("legitimate interest / consent", ("R2.7",)),
    Category.DATA_REQUESTS: CategoryInfo("legal obligation", ("R2.8",)),
}

ACCOUNT = Category.ACCOUNT
ORDER_HISTORY = Category.ORDER_HISTORY
BOOKKEEPING = Category.BOOKKEEPING
CREDIT_DATA = Category.CREDIT_DATA
COURSE_PARTICIPANTS = Category.COURSE_PARTICIPANTS
NEWSLETTER_CONSENT = Category.NEWSLETTER_CONSENT
MARKETING = Category.MARKETING
DATA_REQUESTS = Category.DATA_REQUESTS


@dataclass(frozen=True)
class TableEntry:
    """One table in the data map.

    ``category`` is None for a table about no person (the catalogue).
    ``personal`` maps each column holding personal data to its category;
    ``not_personal`` lists the text-kind columns checked and found to hold none.
    """

    category: Category | None
    rules: tuple[str, ...]
    personal: Mapping[str, Category] = field(default_factory=dict)
    not_personal: frozenset[str] = frozenset()

    @property
    def classified(self) -> frozenset[str]:
        return frozenset(self.personal) | self.not_personal


def personal(
    category: Category,
    columns: str = "",
    *,
    not_personal: str = "",
    also: Mapping[str, Category] | None = None,
    rules: tuple[str, ...] | None = None,
) -> TableEntry:
    """A table about people: ``columns`` (space-separated) hold ``category`` data.

    ``also`` gives columns of another category; ``rules`` overrides the
    category's retention rules; ``not_personal`` lists the other text columns.
    """
    mapping = dict.fromkeys(columns.split(), category)
    mapping.update(also or {})
    return TableEntry(
        category=category,
        rules=rules if rules is not None else CATEGORIES[category].rules,
        personal=mapping,
        not_personal=frozenset(not_personal.split()),
    )


def no_personal_data(not_personal: str = "") -> TableEntry:
    """A table about no person; ``not_personal`` lists its text columns."""
    return TableEntry(category=None, rules=(), not_personal=frozenset(not_personal.split()))


#: The buyer and address fields an order copies (``account`` data in an order).
_ORDER_BUYER = (
    "email name phone organisation_name organisation_number country "
    "delivery_name delivery_street delivery_postcode delivery_city "
    "billing_name billing_street billing_postcode billing_city"
)

#: Every table of the shop, by table name, one line each. Staff ids (``created_by`` …)
#: and the audit log's pseudonymous actors are not customer data.
# fmt: off
DATA_MAP: dict[str, TableEntry] = {
    # People
    "customer": personal(ACCOUNT, "email password_hash name phone organisation_name organisation_number birth_date", not_personal="kind language pseudonym"),
    "address": personal(ACCOUNT, "name street postcode city country", not_personal="kind"),
    "role_grant": personal(ACCOUNT, not_personal="role"),
    "password_reset_token": personal(ACCOUNT, not_personal="token_hash"),
    "consent": personal(NEWSLETTER_CONSENT, "email", not_personal="purpose action source wording_version"),
    "cart_line": personal(ACCOUNT),
    "outbox_message": personal(ACCOUNT, "to_address subject body_text body_html headers", not_personal="template status last_error"),
    "outbox_attachment": personal(ACCOUNT, "data", not_personal="filename content_type"),
    # Buying and after the sale
    "shop_order": personal(ORDER_HISTORY, also=dict.fromkeys(_ORDER_BUYER.split(), ACCOUNT), not_personal="number checkout_key buyer_kind language status payment_method delivery_method terms_version"),
    "order_line": personal(ORDER_HISTORY, not_personal="sku title kind"),
    "order_fee": personal(ORDER_HISTORY, not_personal="kind label"),
    "shipment": personal(ORDER_HISTORY, "tracking_number", not_personal="carrier created_by returned_kind"),
    "shipment_line": personal(ORDER_HISTORY),
    "download_grant": personal(ORDER_HISTORY, not_personal="token_hash"),
    "software_code": personal(ORDER_HISTORY, not_personal="code"),
    "withdrawal": personal(ORDER_HISTORY, also={"name": ACCOUNT, "email": ACCOUNT}, not_personal="channel status entered_by submission_key"),
    "withdrawal_line": personal(ORDER_HISTORY),
    "return_parcel": personal(ORDER_HISTORY, not_personal="refused_reason registered_by"),
    "inspection": personal(ORDER_HISTORY, not_personal="condition inspected_by"),
    # Courses (T9): bookings and participants are R2.5. The course itself is public, but it
    # names its teacher, a staff account (account data, never swept while staff).
    "course": personal(
        ACCOUNT,
        "teacher_name",
        not_personal="description cancel_reason slug title place instrument",
    ),
    "course_session": no_personal_data(),
    "course_booking": personal(
        COURSE_PARTICIPANTS,
        "organisation_name organisation_number",
        not_personal="booking_key buyer_kind status",
    ),
    "course_participant": personal(COURSE_PARTICIPANTS, "name birth_date", not_personal="status"),
    "seat_transfer": personal(
        COURSE_PARTICIPANTS, "name birth_date", not_personal="status decided_by"
    ),
    "waiting_list_entry": personal(COURSE_PARTICIPANTS, not_personal="status"),
    "course_cancellation": personal(COURSE_PARTICIPANTS, not_personal="channel recorded_by"),
    "course_refund": personal(
        COURSE_PARTICIPANTS, not_personal="reason idempotency_key status approved_by"
    ),
    # A registration waiting for its activation link (issue 8): account data, swept (R2.2).
    "pending_registration": personal(
        ACCOUNT, "email details", not_personal="token_hash password_hash"
    ),
    # Data requests and the retention machinery (R2.8, S4)
    "data_request": personal(DATA_REQUESTS, not_personal="kind channel verified_by status outcome"),
    "legal_hold": personal(ACCOUNT, "reason", not_personal="created_by released_by"),
    "retention_log": no_personal_data("rule_id action subject_type subject"),
    "retention_run": no_personal_data("status runner counts"),
    "retention_lock": no_personal_data("name holder"),
    "complaint": personal(
        ORDER_HISTORY,
        "description reason",
        not_personal="window_kind window_rule status outcome return_label_reference reported_by decided_by",
    ),
    "complaint_photo": personal(ORDER_HISTORY, "stored_path", not_personal="content_type sha256"),
    # Bookkeeping records and credit data
    "bookkeeping_record": personal(BOOKKEEPING, "content pdf", not_personal="kind pdf_sha256"),
    "invoice": personal(BOOKKEEPING, not_personal="ocr status"),
    "invoice_reminder": personal(BOOKKEEPING, "pdf", not_personal="created_by"),
    "incoming_payment": personal(BOOKKEEPING, not_personal="reference registered_by"),
    "payment": personal(BOOKKEEPING, not_personal="provider method provider_reference idempotency_key status failure_message"),
    "refund": personal(BOOKKEEPING, not_personal="idempotency_key status provider_reference last_error approved_by"),
    "credit_check": personal(CREDIT_DATA, "organisation_number reason"),
    # No person
    "audit_entry": no_personal_data("actor action subject_type subject_id details rule_id"),
    "category": no_personal_data("slug name_sv name_en"),
    "product": no_personal_data("sku slug title sort_title description kind size_class composer arranger instrumentation publisher edition_number author isbn search_text"),
    "stock_level": no_personal_data(),
    "stock_movement": no_personal_data("kind"),
    "download_file": no_personal_data("filename stored_path content_type sha256"),
    "number_series": no_personal_data("name"),
    "provider_event": no_personal_data("provider event_id kind"),
}
# fmt: on


def entry(table: str) -> TableEntry:
    """The data map's entry for ``table``; KeyError when the table is not mapped."""
    return DATA_MAP[table]


def tables_in(category: Category) -> list[str]:
    """Tables whose rows are of ``category`` (for the sweeper and the staff overview)."""
    return [name for name, item in DATA_MAP.items() if item.category is category]


def personal_columns(table: str, category: Category | None = None) -> list[str]:
    """The columns of ``table`` holding personal data (of ``category``, if given)."""
    return [
        column
        for column, found in DATA_MAP[table].personal.items()
        if category is None or found is category
    ]
