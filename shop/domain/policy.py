"""The shop's own terms as data: one frozen :class:`Policy` (T1–T9, R2).

Every number of the terms (14 days, 19 kr, 50 kr, 30 days, 10 days, the
course cancellation tiers, the retention periods, the delivery price list,
the version string of the terms) lives here, with the seed's terms as
defaults in :data:`DEFAULT_POLICY`. A shop changes its terms by building
another ``Policy``; no code changes.

What the law fixes cannot be configured away: a ``Policy`` with a
withdrawal period under 14 days (distansavtalslagen 2 kap. 12 §), complaint
windows under 3 years / 2 months (konsumentköplagen, T6.2), a refund
deadline over 14 days (T5.8), bookkeeping kept under 7 years
(bokföringslagen 7 kap. 2 §) or answers to data requests later than 30 days
(GDPR art. 12(3)) raises :class:`~shop.domain.errors.InvalidPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from shop.domain.delivery import DEFAULT_RATE_TABLE, DeliveryRateTable
from shop.domain.errors import InvalidPolicy
from shop.domain.money import BASIS_POINTS_PER_WHOLE

STATUTORY_WITHDRAWAL_DAYS = 14
STATUTORY_COMPLAINT_YEARS = 3
STATUTORY_DISCOVERY_MONTHS = 2
STATUTORY_REFUND_DAYS = 14
STATUTORY_BOOKKEEPING_YEARS = 7
STATUTORY_DATA_REQUEST_DAYS = 30


@dataclass(frozen=True)
class CancellationTier:
    """T9.3: keep ``keep_bp`` of the course fee when cancelled this many days before start.

    The tier applies when ``start − cancelled_on`` is at least
    ``min_days_before_start`` whole days; ``None`` means "any other day"
    (the last tier, including the start day and after).
    """

    min_days_before_start: int | None
    keep_bp: int


DEFAULT_CANCELLATION_TIERS: tuple[CancellationTier, ...] = (
    CancellationTier(min_days_before_start=29, keep_bp=0),
    CancellationTier(min_days_before_start=15, keep_bp=5000),
    CancellationTier(min_days_before_start=None, keep_bp=10000),
)


@dataclass(frozen=True)
class Policy:
    """The terms of one shop. Defaults are the seed's terms (see ``docs/terms.md``)."""

    terms_version: str = "2026-11-01"
    # T3 invoice
    invoice_fee_ore: int = 1900
    invoice_fee_vat_bp: int = 2500
    invoice_due_days: int = 30
    reminder_fee_ore: int = 5000
    reminder_fee_vat_bp: int = 0
    reminder_extra_days: int = 10
    collection_after_reminder_days: int = 10
    # T4 delivery
    dispatch_working_days: tuple[int, int] = (1, 4)
    # T5 withdrawal
    withdrawal_days: int = 14
    refund_deadline_days: int = 14
    # T6 complaints
    complaint_normal_months: int = 2
    complaint_statutory_years: int = 3
    complaint_discovery_months: int = 2
    # T7 parcels that come back
    unclaimed_admin_fee_ore: int = 5000
    unclaimed_admin_fee_vat_bp: int = 0
    # T9 courses
    course_invoice_days_before_start: int = 14
    shop_cancel_course_days_before_start: int = 14
    course_cancellation_tiers: tuple[CancellationTier, ...] = DEFAULT_CANCELLATION_TIERS
    # R2 retention, R4 data requests
    account_inactive_years: int = 3
    never_bought_years: int = 2
    bookkeeping_years: int = 7
    credit_data_months_after_settled: int = 3
    participants_months_after_course: int = 12
    consent_withdrawal_proof_years: int = 2
    marketing_months: int = 6
    data_request_years: int = 3
    access_request_days: int = 30
    erasure_request_days: int = 7
    # T2.2 delivery price list
    delivery: DeliveryRateTable = DEFAULT_RATE_TABLE

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (type(value) is not int or value < 0):
                raise InvalidPolicy(f"{f.name} måste vara ett heltal ≥ 0, inte {value!r}.")
        if not isinstance(self.terms_version, str) or not self.terms_version.strip():
            raise InvalidPolicy("Villkoren måste ha en version.")
        self._check_statutory_floors()
        self._check_rates()
        self._check_tiers()
        first, last = self.dispatch_working_days
        if not (type(first) is int and type(last) is int and 0 <= first <= last):
            raise InvalidPolicy("Expedieringstiden måste vara två heltal 0 ≤ från ≤ till.")

    def _check_statutory_floors(self) -> None:
        floors = (
            (self.withdrawal_days >= STATUTORY_WITHDRAWAL_DAYS, "Ångerfristen är minst 14 dagar."),
            (
                self.complaint_statutory_years >= STATUTORY_COMPLAINT_YEARS,
                "Reklamationsrätten gäller minst 3 år från mottagandet.",
            ),
            (
                self.complaint_discovery_months >= STATUTORY_DISCOVERY_MONTHS,
                "En reklamation inom 2 månader från upptäckten är alltid i tid.",
            ),
            (
                self.refund_deadline_days <= STATUTORY_REFUND_DAYS,
                "Återbetalning vid ånger ska ske inom högst 14 dagar.",
            ),
            (
                self.bookkeeping_years >= STATUTORY_BOOKKEEPING_YEARS,
                "Räkenskapsinformation ska sparas i minst 7 år.",
            ),
            (
                self.access_request_days <= STATUTORY_DATA_REQUEST_DAYS
                and self.erasure_request_days <= STATUTORY_DATA_REQUEST_DAYS,
                "En begäran om registerutdrag eller radering besvaras inom högst 30 dagar.",
            ),
        )
        for ok, message in floors:
            if not ok:
                raise InvalidPolicy(message)

    def _check_rates(self) -> None:
        for name in ("invoice_fee_vat_bp", "reminder_fee_vat_bp", "unclaimed_admin_fee_vat_bp"):
            if getattr(self, name) > BASIS_POINTS_PER_WHOLE:
                raise InvalidPolicy(f"{name} får vara högst 100 %.")

    def _check_tiers(self) -> None:
        tiers = self.course_cancellation_tiers
        if not tiers or tiers[-1].min_days_before_start is not None:
            raise InvalidPolicy("Avbokningstrappan måste sluta med ett steg för alla övriga dagar.")
        previous_min: int | None = None
        previous_keep = -1
        for tier in tiers:
            if type(tier.keep_bp) is not int or not 0 <= tier.keep_bp <= BASIS_POINTS_PER_WHOLE:
                raise InvalidPolicy("Avbokningsavgiften måste vara mellan 0 och 100 %.")
            if tier.keep_bp < previous_keep:
                raise InvalidPolicy("Avbokningsavgiften får inte sjunka närmare kursstart.")
            previous_keep = tier.keep_bp
            if tier is tiers[-1]:
                break
            days = tier.min_days_before_start
            if type(days) is not int or (previous_min is not None and days >= previous_min):
                raise InvalidPolicy(
                    "Avbokningstrappans dagar måste vara heltal i fallande ordning."
                )
            previous_min = days

    def cancellation_keep_bp(self, days_before_start: int) -> int:
        """T9.3: the share of the course fee kept (basis points) for ``start − cancelled_on``."""
        for tier in self.course_cancellation_tiers:
            if (
                tier.min_days_before_start is None
                or days_before_start >= tier.min_days_before_start
            ):
                return tier.keep_bp
        raise AssertionError("the last tier always applies")  # pragma: no cover


DEFAULT_POLICY = Policy()
"""The seed's terms (musikskolan.se köpvillkor) read as ``docs/terms.md`` describes."""
