"""The account's privacy section: newsletter consent and the register extract (R2.6, R4.1, R4.4).

Routes on the ``account`` blueprint (imported from :mod:`shop.web.account.views`).
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import HiddenField

from shop import clock
from shop.models import Customer
from shop.services import accounts, newsletter, register_extract
from shop.web.account.views import bp

#: Readable names of the extract's fields; a field without one shows its key.
FIELD_LABELS = {
    "email": _l("E-postadress"),
    "name": _l("Namn"),
    "phone": _l("Telefon"),
    "kind": _l("Typ"),
    "organisation_name": _l("Organisation"),
    "organisation_number": _l("Organisationsnummer"),
    "birth_date": _l("Födelsedatum"),
    "adult_confirmed_at": _l("Bekräftat 18 år"),
    "language": _l("Språk"),
    "created_at": _l("Skapad"),
    "last_login_at": _l("Senaste inloggning"),
    "last_activity_on": _l("Senaste aktivitet"),
    "pseudonym": _l("Kundkod"),
    "password_set": _l("Lösenord finns"),
    "roles": _l("Roller"),
    "street": _l("Gatuadress"),
    "postcode": _l("Postnummer"),
    "city": _l("Ort"),
    "country": _l("Land"),
    "number": _l("Nummer"),
    "order": _l("Ordernummer"),
    "placed_at": _l("Lagd"),
    "status": _l("Status"),
    "buyer_kind": _l("Kundtyp"),
    "delivery_address": _l("Leveransadress"),
    "billing_address": _l("Fakturaadress"),
    "payment_method": _l("Betalsätt"),
    "delivery_method": _l("Leveranssätt"),
    "terms_version": _l("Köpvillkor (version)"),
    "lines": _l("Rader"),
    "fees": _l("Avgifter"),
    "payments": _l("Betalningar"),
    "invoices": _l("Fakturor"),
    "shipments": _l("Försändelser"),
    "documents": _l("Kvitton och kreditfakturor"),
    "title": _l("Vara"),
    "quantity": _l("Antal"),
    "total_ore": _l("Summa"),
    "vat_ore": _l("Varav moms"),
    "amount_ore": _l("Belopp"),
    "issued_on": _l("Utfärdad"),
    "due_on": _l("Förfallodatum"),
    "received_at": _l("Mottagen"),
    "received_on": _l("Mottagen"),
    "checked_at": _l("Prövad"),
    "approved": _l("Godkänd"),
    "reason": _l("Skäl"),
    "purpose": _l("Ändamål"),
    "action": _l("Händelse"),
    "at": _l("Tidpunkt"),
    "source": _l("Källa"),
    "wording_version": _l("Textversion"),
    "confirmed_at": _l("Bekräftad"),
    "cancelled_at": _l("Avbruten"),
    "sku": _l("Artikelnummer"),
    "unit_price_ore": _l("Styckpris"),
    "vat_rate_bp": _l("Momssats"),
    "label": _l("Beskrivning"),
    "downloads": _l("Nedladdningar"),
    "downloads_used": _l("Nedladdade"),
    "downloads_allowed": _l("Tillåtna nedladdningar"),
    "first_download_at": _l("Första nedladdning"),
    "last_download_at": _l("Senaste nedladdning"),
    "expires_at": _l("Gäller till"),
    "issued_at": _l("Utfärdad"),
    "fiscal_year": _l("Räkenskapsår"),
    "content": _l("Innehåll"),
    "seller": _l("Säljare"),
    "buyer": _l("Köpare"),
    "ocr": _l("OCR-nummer"),
    "paid_ore": _l("Betalt"),
    "paid_on": _l("Betald"),
    "reminder": _l("Påminnelse"),
    "fee_ore": _l("Avgift"),
    "new_due_on": _l("Nytt förfallodatum"),
    "provider": _l("Betaltjänst"),
    "method": _l("Betalsätt"),
    "provider_reference": _l("Referens"),
    "refunded_ore": _l("Återbetalt"),
    "captured_at": _l("Dragen"),
    "carrier": _l("Fraktbolag"),
    "tracking_number": _l("Kollinummer"),
    "dispatched_on": _l("Skickad"),
    "delivered_on": _l("Levererad"),
    "returned_kind": _l("Kom tillbaka"),
    "returned_on": _l("Kom tillbaka den"),
    "channel": _l("Kanal"),
    "refund_due_on": _l("Återbetalas senast"),
    "acknowledged_at": _l("Bekräftelse skickad"),
    "inspections": _l("Kontroller"),
    "condition": _l("Skick"),
    "deduction_ore": _l("Avdrag"),
    "credit_ore": _l("Krediteras"),
    "inspected_at": _l("Kontrollerad"),
    "completed_at": _l("Klar"),
    "refused_reason": _l("Nekad"),
    "product": _l("Vara"),
    "updated_at": _l("Ändrad"),
    "actor": _l("Utförd av"),
    "subject": _l("Gäller"),
    "rule": _l("Regel"),
    "details": _l("Detaljer"),
    "booking": _l("Kursbokning"),
    "course": _l("Kurs"),
    "starts_at": _l("Kursstart"),
    "ends_at": _l("Kursslut"),
    "sessions": _l("Kurstillfällen"),
    "place": _l("Plats"),
    "online": _l("Online"),
    "booked_on": _l("Bokad"),
    "participants": _l("Deltagare"),
    "participant": _l("Deltagare"),
    "cancellations": _l("Avbokningar"),
    "days_before_start": _l("Dagar före kursstart"),
    "kept_ore": _l("Avgift som behålls"),
    "credited_ore": _l("Krediteras"),
    "transfers": _l("Överlåtelser"),
    "same_organisation": _l("Samma organisation"),
    "requested_at": _l("Begärd"),
    "decided_at": _l("Beslutad"),
    "refunds": _l("Återbetalningar"),
    "invoice": _l("Faktura"),
    "seats": _l("Antal platser"),
    "offered_at": _l("Erbjudande skickat"),
    "offer_expires_at": _l("Erbjudandet gäller till"),
}


class NewsletterForm(FlaskForm):
    #: "1" to subscribe, "0" to unsubscribe: the page shows one button for the change.
    subscribe = HiddenField()


def _no_store(response: BaseResponse) -> BaseResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/nyhetsbrev", methods=["GET", "POST"])
@login_required
def newsletter_consent() -> BaseResponse | tuple[str, int] | str:
    customer: Customer = current_user._get_current_object()
    form = NewsletterForm()
    if form.validate_on_submit():
        if form.subscribe.data not in ("0", "1"):
            return _newsletter_page(customer, form), 400
        subscribe = form.subscribe.data == "1"
        newsletter.set_subscription(
            customer, subscribe, source=newsletter.SOURCE_ACCOUNT, now=clock.now()
        )
        if subscribe:
            flash(_("Du prenumererar nu på nyhetsbrevet."), "success")
        else:
            flash(_("Du prenumererar inte längre på nyhetsbrevet."), "success")
        return redirect(url_for("account.newsletter_consent"))
    if form.is_submitted():
        return _newsletter_page(customer, form), 400
    return _newsletter_page(customer, form)


def _newsletter_page(customer: Customer, form: NewsletterForm) -> str:
    return render_template(
        "account/newsletter.html",
        form=form,
        subscribed=accounts.newsletter_subscribed(customer),
        history=newsletter.history(customer),
        wording=newsletter.WORDING,
        wording_version=accounts.NEWSLETTER_WORDING_VERSION,
    )


@bp.get("/mina-uppgifter")
@login_required
def my_data() -> BaseResponse:
    customer: Customer = current_user._get_current_object()
    now = clock.now()
    extract = register_extract.build_extract(customer, now=now)
    page = render_template(
        "account/my_data.html",
        extract=extract,
        generated_at=now,
        titles=register_extract.titles(),
        labels=FIELD_LABELS,
    )
    return _no_store(Response(page, mimetype="text/html"))


@bp.get("/mina-uppgifter/ladda-ner")
@login_required
def download_my_data() -> BaseResponse:
    customer: Customer = current_user._get_current_object()
    data = register_extract.extract_json(customer, now=clock.now())
    filename = register_extract.extract_filename(customer, today=clock.today())
    response = Response(data, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _no_store(response)
