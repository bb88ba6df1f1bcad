"""The terms of purchase and the privacy policy as plain Python.

This package is what the shop *means* by its terms (``docs/terms.md`` maps
every rule ID, T1.1–T9.6 and R2.1–R3.5, to the function that enforces it and
the tests that prove it). Services, pages, e-mails and the retention
sweeper ask these functions instead of computing anything themselves. There
is no Flask, no database and no clock in here: the caller passes ``today``
and the facts, and gets an answer, or a :class:`~shop.domain.errors.DomainError`
whose Swedish message can be shown as it is.

Money is a whole number of öre (``money``): never a float, percentages in
basis points, every rounding half up to the öre, VAT computed per line from
VAT-inclusive prices so that receipts add up exactly (``vat``, T2.1). Days
are calendar dates in Sweden; where a period ends on a Saturday, Sunday,
public holiday, Midsummer Eve, Christmas Eve or New Year's Eve, it runs to
the next working day (``calendar``, T5.3).

Who may buy (``buyers``, T1): adults; consumers and organisations, the
latter with a checked organisation number. Only consumers may withdraw from
a purchase, within 14 days of receiving the last parcel, except for opened
software, used codes and started downloads (``withdrawal``, T5). Faults are
reported within 2 months; a consumer's later complaint within the
statutory limits goes to staff, never refused by the system (``complaints``,
T6). Organisations may pay by invoice after a credit check: 19 kr fee, 30
days, one reminder with a 50 kr fee, then debt collection
(``invoices``, T3). Delivery fees come from a price list; downloads and
codes travel free; parcels that come back are charged (``delivery``, T2,
T4, T7). Course cancellations keep 0, 50 or 100 % of the fee by the days
left to the start (``courses``, T9).

Every status change goes through a transition table (``lifecycle``), and
the retention sweeper gets keep, anonymise, purge or hold for each record,
with the rule ID as the reason (``retention``, privacy.md R2, R3).

All the numbers are in one frozen :class:`~shop.domain.policy.Policy`
(``DEFAULT_POLICY`` holds the seed's terms); a shop changes its terms by
configuration, but never below what the law requires.
"""
