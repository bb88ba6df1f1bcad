"""Swedish texts that pages translate at run time, listed here so they are extracted.

shop/domain and shop/payments never import Flask, so their customer-facing
words (delivery methods, fee lines, payment methods, payment error messages)
are plain Swedish strings. Templates and views translate them with
``_(option.label_sv)`` / ``_(error.message)``; that works only if the
Swedish text is a msgid in the English catalog. ``pybabel extract`` cannot see
a variable, so each text is repeated here, word for word.

Nothing imports this module. tests/web/test_i18n.py checks that every such
text the domain and the payment registry produce is in the catalog, so a new
or reworded label fails the tests until it is added here and translated.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: Delivery methods (shop.domain.delivery, DEFAULT_POLICY.delivery).
DELIVERY_METHODS = (
    _l("Brev med PostNord (varubrev)"),
    _l("Paket med PostNord (hämtas hos ombud)"),
    _l("Paket med DHL (hämtas hos ombud)"),
)

#: Fee lines (shop.domain.delivery, shop.domain.invoices).
FEE_LINES = (
    _l("Frakt till dig (outlöst paket)"),
    _l("Returfrakt (outlöst paket)"),
    _l("Administrativ avgift (outlöst paket)"),
    _l("Fraktkostnad (felaktig adress, kom i retur)"),
    _l("Fakturaavgift"),
    _l("Påminnelseavgift"),
)

#: Payment methods: label and description (shop.payments.registry).
PAYMENT_METHODS = (
    _l("Kort"),
    _l("Swish"),
    _l("Klarna"),
    _l("Faktura"),
    _l("Testbetalning"),
    _l("Betala med kort via Stripe."),
    _l("Betala med Swish via Stripe."),
    _l("Betala med Klarna via Stripe."),
    _l("Betala med Klarna: faktura, delbetalning eller direkt."),
    _l("För organisationer efter kreditkontroll. Fakturaavgift 19 kr, 30 dagar netto."),
    _l("Endast för test: inga pengar dras."),
)

#: Messages of shop.payments.errors and the invoice credit check, shown to the buyer.
PAYMENT_ERRORS = (
    _l(
        "Betalningen kunde inte genomföras. Ingenting har dragits. "
        "Försök igen eller välj ett annat betalsätt."
    ),
    _l(
        "Betaltjänsten svarar inte just nu. Ingenting har dragits. "
        "Försök igen om en stund eller välj ett annat betalsätt."
    ),
    _l("Betalningen godkändes inte. Ingenting har dragits. Välj ett annat betalsätt."),
    _l(
        "Vi kan tyvärr inte erbjuda faktura efter vår kreditkontroll. Välj ett annat "
        "betalsätt eller kontakta oss om förskottsbetalning."
    ),
    _l("Meddelandet från betaltjänsten kunde inte verifieras."),
    _l(
        "Betaltjänsten kunde inte ta emot betalningen. Ingenting har dragits. "
        "Välj ett annat betalsätt eller kontakta oss."
    ),
    _l(
        "Betalsättet är inte tillgängligt just nu. Ingenting har dragits. Välj ett annat betalsätt."
    ),
    _l("Betalningen hittades inte hos betaltjänsten."),
    _l("Åtgärden är inte tillåten för betalningen i dess nuvarande läge."),
    _l("Betalningen kunde inte genomföras. Ingenting har dragits. Försök igen."),
    _l("Betalsättet går inte att välja för den här beställningen."),
    _l(
        "Beställningen är för stor för att betalas mot faktura utan manuell kontroll. "
        "Välj ett annat betalsätt eller kontakta oss om förskottsbetalning."
    ),
    _l(
        "Faktura kan endast väljas av organisationer (företag, skolor, kommuner, församlingar "
        "och föreningar). Välj ett annat betalsätt."
    ),
)

#: Complaint facts that contradict each other (shop.domain.complaints, T6).
COMPLAINT_FACTS = (
    _l("Reklamationen kan inte komma före mottagandet av varan."),
    _l("Felet måste upptäckas mellan mottagandet och reklamationen."),
)

#: Course booking refusals (shop.domain.courses, shop.domain.errors; T9).
COURSE_MESSAGES = (
    _l("Kursen börjar före bokningsdagen."),
    _l("En bokning måste ha minst en deltagare."),
    _l("Deltagaren är yngre än kursens åldersgräns."),
    _l("Deltagaren är äldre än kursens åldersgräns."),
    _l("Kursen är fullbokad. Anmäl dig gärna till väntelistan."),
    _l("Avbokningen ligger före bokningsdagen."),
    _l("Du måste vara myndig (18 år) för att handla hos oss."),
    _l("Överlåtelse av plats gäller bokningar gjorda av en organisation. Du kan avboka i stället."),
    _l("Platsen kan bara överlåtas till en annan person i samma organisation."),
    _l("Överlåtelsen kräver att vi har godkänt den."),
    _l(
        "Kursen kan inte längre ställas in av oss utan särskilt beslut: "
        "det är mindre än 14 dagar kvar till kursstart."
    ),
)
