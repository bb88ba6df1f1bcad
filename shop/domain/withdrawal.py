"""Right of withdrawal, ångerrätt (T5).

Only consumers may withdraw (T5.1). The period is 14 days from the day the
consumer received the goods, from the last parcel when the order came in
several (T5.2); the consumer may withdraw before receiving anything. If the
last day is a Saturday, Sunday, public holiday or Midsummer, Christmas or
New Year's Eve, the period ends on the next working day (T5.3). For
downloads and codes (digital content, no parcel) the period runs from the
day of the order, when the contract was made (distansavtalslagen 2 kap.
12 §; the spec is silent).

Excluded (T5.4): boxed software whose seal is broken, codes taken into use,
downloads started with the consumer's consent. At inspection the credit
depends on the recorded condition (T5.5); a withdrawal of the whole order
refunds the delivery fee up to the cheapest standard method (T5.6); the
refund is due within 14 days of the notice but may wait for the goods or a
proof of sending (T5.8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from shop.domain.buyers import BuyerKind
from shop.domain.calendar import format_date_sv, period_end
from shop.domain.catalog import ProductKind
from shop.domain.errors import (
    InvalidAmount,
    InvalidFacts,
    NoWithdrawalRightForOrganisations,
    WithdrawalExcluded,
    WithdrawalPeriodOver,
    WithdrawalRefused,
)
from shop.domain.money import require_non_negative
from shop.domain.policy import DEFAULT_POLICY, Policy

REASON_ORGANISATION = NoWithdrawalRightForOrganisations.default_message
REASON_SEAL_BROKEN = (
    "Ångerrätten gäller inte programvara vars försegling (omslutande plast eller "
    "klistermärke) har brutits."
)
REASON_CODE_USED = "Ångerrätten gäller inte när koden har tagits i bruk."
REASON_DOWNLOAD_STARTED = (
    "Ångerrätten gäller inte när nedladdningen har påbörjats med ditt samtycke."
)
REASON_NOT_YET_DELIVERED = "Du kan ångra köpet redan innan du har fått varan."


@dataclass(frozen=True)
class WithdrawalOrder:
    """The facts of an order that decide its withdrawal period (T5.1, T5.2).

    ``parcels_delivered_on`` has one entry per parcel: the day the consumer
    received it, or ``None`` while it is on its way. An order with no
    parcels holds only downloads and codes.
    """

    buyer_kind: BuyerKind
    ordered_on: date
    parcels_delivered_on: tuple[date | None, ...] = ()

    def __post_init__(self) -> None:
        for delivered in self.parcels_delivered_on:
            if delivered is not None and delivered < self.ordered_on:
                raise InvalidFacts(
                    f"Leveransdatumet {delivered.isoformat()} ligger före "
                    f"beställningsdagen {self.ordered_on.isoformat()}."
                )

    @property
    def last_delivered_on(self) -> date | None:
        """The day the last parcel arrived; None while any parcel is on its way or none exists."""
        if not self.parcels_delivered_on or None in self.parcels_delivered_on:
            return None
        return max(d for d in self.parcels_delivered_on if d is not None)


@dataclass(frozen=True)
class WithdrawalItem:
    """The facts of one item that decide whether it is excluded (T5.4)."""

    kind: ProductKind
    seal_broken: bool = False
    code_activated: bool = False
    download_started: bool = False
    download_consent_given: bool = False

    def __post_init__(self) -> None:
        if self.seal_broken and self.kind is not ProductKind.SOFTWARE_BOXED:
            raise InvalidFacts("Endast förpackad programvara har en försegling.")
        if self.code_activated and self.kind not in (
            ProductKind.SOFTWARE_CODE,
            ProductKind.SOFTWARE_BOXED,
        ):
            raise InvalidFacts("Endast programvara levereras med en kod.")
        if (self.download_started or self.download_consent_given) and (
            self.kind is not ProductKind.DOWNLOAD
        ):
            raise InvalidFacts("Endast nedladdningsbara filer kan laddas ner.")

    @property
    def exclusion_reason(self) -> str | None:
        """T5.4: why this item cannot be withdrawn, or None."""
        if self.seal_broken:
            return REASON_SEAL_BROKEN
        if self.code_activated:
            return REASON_CODE_USED
        if self.download_started and self.download_consent_given:
            return REASON_DOWNLOAD_STARTED
        return None


@dataclass(frozen=True)
class WithdrawalDecision:
    """Whether an item may be withdrawn on a day, why, and until when (T5)."""

    allowed: bool
    rule: str
    reason_sv: str
    last_day: date | None


def last_day_to_withdraw(order: WithdrawalOrder, *, policy: Policy = DEFAULT_POLICY) -> date | None:
    """T5.2, T5.3: the last day to withdraw from the order's goods ("Sista dag att ångra").

    14 days after the last parcel arrived, moved to the next working day if
    that day is not one. ``None`` while a parcel is on its way (the period
    has not started; withdrawal is possible now). For an order with no
    parcels (downloads, codes) the period runs from the order day.
    """
    if not order.parcels_delivered_on:
        return period_end(order.ordered_on, policy.withdrawal_days)
    last = order.last_delivered_on
    return None if last is None else period_end(last, policy.withdrawal_days)


def last_day_to_withdraw_item(
    order: WithdrawalOrder, item: WithdrawalItem, *, policy: Policy = DEFAULT_POLICY
) -> date | None:
    """T5.2, T5.3: the last day for one item: shipped goods follow the last parcel,
    downloads and codes run from the order day."""
    if item.kind.is_shipped:
        if not order.parcels_delivered_on:
            raise InvalidFacts("En vara som skickas måste höra till ett paket.")
        return last_day_to_withdraw(order, policy=policy)
    return period_end(order.ordered_on, policy.withdrawal_days)


def withdrawal_decision(
    order: WithdrawalOrder,
    item: WithdrawalItem,
    today: date,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> WithdrawalDecision:
    """T5.1–T5.4: may the consumer withdraw from ``item`` on ``today``, and why (Swedish)."""
    if today < order.ordered_on:
        raise InvalidFacts("Dagens datum ligger före beställningsdagen.")
    if any(d is not None and d > today for d in order.parcels_delivered_on):
        raise InvalidFacts("Ett leveransdatum ligger i framtiden.")
    if order.buyer_kind is not BuyerKind.CONSUMER:
        return WithdrawalDecision(False, "T5.1", REASON_ORGANISATION, None)
    last_day = last_day_to_withdraw_item(order, item, policy=policy)
    exclusion = item.exclusion_reason
    if exclusion is not None:
        return WithdrawalDecision(False, "T5.4", exclusion, None)
    if last_day is None:
        return WithdrawalDecision(True, "T5.2", REASON_NOT_YET_DELIVERED, None)
    if today > last_day:
        return WithdrawalDecision(
            False, "T5.2", f"Ångerfristen gick ut den {format_date_sv(last_day)}.", last_day
        )
    return WithdrawalDecision(
        True,
        "T5.3" if last_day != _unmoved_end(order, item, policy) else "T5.2",
        f"Du kan ångra köpet till och med den {format_date_sv(last_day)}.",
        last_day,
    )


def _unmoved_end(order: WithdrawalOrder, item: WithdrawalItem, policy: Policy) -> date | None:
    start = order.last_delivered_on if item.kind.is_shipped else order.ordered_on
    return None if start is None else start + timedelta(days=policy.withdrawal_days)


def require_withdrawal_allowed(
    order: WithdrawalOrder,
    item: WithdrawalItem,
    today: date,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> WithdrawalDecision:
    """T5.1–T5.4: the decision if allowed, else the matching :class:`WithdrawalRefused`.

    Raises :class:`NoWithdrawalRightForOrganisations` (T5.1),
    :class:`WithdrawalExcluded` (T5.4) or :class:`WithdrawalPeriodOver`
    (T5.2), each with the customer-readable reason.
    """
    decision = withdrawal_decision(order, item, today, policy=policy)
    if decision.allowed:
        return decision
    error: type[WithdrawalRefused] = {
        "T5.1": NoWithdrawalRightForOrganisations,
        "T5.4": WithdrawalExcluded,
    }.get(decision.rule, WithdrawalPeriodOver)
    raise error(decision.reason_sv)


class ReturnCondition(StrEnum):
    """T5.5: the condition staff record when inspecting a returned item."""

    UNUSED = "unused"
    HANDLED = "handled"
    DAMAGED_BY_PACKING = "damaged_by_packing"


def credit_for_returned_item(
    price_ore: int, condition: ReturnCondition, deduction_ore: int = 0
) -> int:
    """T5.5: the credit for one returned item from its inspected condition.

    Unused: the full price (no deduction allowed). Handled beyond what was
    needed to examine it: the price minus the reduced value staff recorded
    (0 ≤ deduction ≤ price). Damaged because badly packed for return: 0.
    """
    require_non_negative(price_ore, "price_ore")
    require_non_negative(deduction_ore, "deduction_ore")
    if condition is ReturnCondition.UNUSED:
        if deduction_ore:
            raise InvalidFacts("En oanvänd vara krediteras fullt: inget avdrag.")
        return price_ore
    if condition is ReturnCondition.HANDLED:
        if deduction_ore > price_ore:
            raise InvalidAmount("Värdeminskningen kan inte vara större än priset.")
        return price_ore - deduction_ore
    return 0


def delivery_fee_refund(
    delivery_fee_paid_ore: int, cheapest_standard_fee_ore: int, *, whole_order_withdrawn: bool
) -> int:
    """T5.6: the original delivery fee refunded on withdrawal.

    For a withdrawal of the whole order: what was paid, up to the cheapest
    standard delivery method offered for that order (see
    :func:`shop.domain.delivery.estimate_delivery_fee`). A partial
    withdrawal refunds no delivery fee. Return freight is the buyer's.
    """
    require_non_negative(delivery_fee_paid_ore, "delivery_fee_paid_ore")
    require_non_negative(cheapest_standard_fee_ore, "cheapest_standard_fee_ore")
    if not whole_order_withdrawn:
        return 0
    return min(delivery_fee_paid_ore, cheapest_standard_fee_ore)


def goods_to_return(kinds: Iterable[ProductKind]) -> bool:
    """T5.5, T5.8: whether a withdrawal of items of these kinds waits for goods sent back.

    Shipped goods (printed music, instruments, boxed software) come back by
    post and are inspected. Downloads and software codes that could still be
    withdrawn (T5.4: not started, not taken into use) send nothing back, and
    neither does a withdrawal whose credit is only a fee: the refund needs
    no parcel and is due 14 days after the notice (:func:`refund_due_by`).
    """
    return any(kind.is_shipped for kind in kinds)


def credit_without_return(price_ore: int) -> int:
    """T5.5, T5.8: the credit for a withdrawn item with nothing to send back.

    There is nothing to inspect, so no reduced value can be deducted: the
    full price is credited.
    """
    require_non_negative(price_ore, "price_ore")
    return price_ore


def refund_deadline(notified_on: date, *, policy: Policy = DEFAULT_POLICY) -> date:
    """T5.8: the refund is paid within 14 days of the day the shop was told.

    Not moved to a working day: the shop pays earlier instead.
    """
    return notified_on + timedelta(days=policy.refund_deadline_days)


def refund_due_by(
    notified_on: date,
    *,
    goods_to_return: bool,
    goods_back_on: date | None = None,
    proof_of_sending_on: date | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> date | None:
    """T5.8: the day by which the refund must be paid, or None while it may wait.

    The shop may hold the refund until the goods are back or the buyer shows
    they were sent, whichever is first; then it is due at once (but never
    later than needed: the deadline of :func:`refund_deadline` still holds
    when the evidence came in time). Nothing to return: the deadline.
    """
    deadline = refund_deadline(notified_on, policy=policy)
    if not goods_to_return:
        return deadline
    evidence = [d for d in (goods_back_on, proof_of_sending_on) if d is not None]
    if not evidence:
        return None
    return max(deadline, min(evidence))
