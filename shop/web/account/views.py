"""Accounts: register, log in and out, password reset and change, contact details."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from shop import clock
from shop.domain.buyers import BuyerKind
from shop.extensions import limiter
from shop.models import Customer
from shop.services import accounts, data_requests, mail
from shop.services import orders as order_service
from shop.services.customers import password_matches
from shop.web.account.forms import (
    ChangePasswordForm,
    ConfirmRegistrationForm,
    DetailsForm,
    EraseAccountForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    parse_date,
)
from shop.web.account.redirects import safe_next_url
from shop.web.cart.views import CART_SESSION_KEY

bp = Blueprint("account", __name__, url_prefix="/konto")

#: Session keys that survive logging in and out (the language choice).
KEPT_SESSION_KEYS = ("lang",)


def _limit(name: str) -> Any:
    return limiter.limit(lambda: current_app.config[name], methods=["POST"])


def _start_session(customer: Customer, *, remember: bool) -> list[str]:
    """Log in on a fresh session: everything but the language is dropped, the guest
    cart is merged into the account, and the login is recorded (R2.1)."""
    guest_cart = session.get(CART_SESSION_KEY)
    kept = {key: session[key] for key in KEPT_SESSION_KEYS if key in session}
    session.clear()
    session.update(kept)
    login_user(customer, remember=remember)
    return accounts.record_login(customer, guest_cart, now=clock.now(), today=clock.today())


def _attach_error(form: Any, error: accounts.AccountError, fallback: str) -> None:
    field = getattr(form, error.field or fallback, None) or getattr(form, fallback)
    field.errors = [*field.errors, error.message]


@bp.route("/logga-in", methods=["GET", "POST"])
@_limit("RATELIMIT_LOGIN")
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next")) or url_for("account.overview"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next_url(request.args.get("next")) or ""
    failed = False
    if form.validate_on_submit():
        customer = accounts.authenticate(form.email.data or "", form.password.data or "")
        if customer is not None:
            notes = _start_session(customer, remember=bool(form.remember.data))
            for note in notes:
                flash(note, "info")
            flash(_("Du är inloggad."), "success")
            return redirect(safe_next_url(form.next.data) or url_for("account.overview"))
        failed = True
    return render_template("account/login.html", form=form, failed=failed)


@bp.post("/logga-ut")
def logout() -> Response:
    kept = {key: session[key] for key in KEPT_SESSION_KEYS if key in session}
    logout_user()
    session.clear()
    session.update(kept)
    flash(_("Du är utloggad."), "success")
    return redirect(url_for("storefront.home"))


@bp.route("/skapa", methods=["GET", "POST"])
@_limit("RATELIMIT_REGISTER")
def register() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("account.overview"))
    form = RegisterForm()
    next_url = safe_next_url(request.args.get("next"))
    if form.validate_on_submit():
        organisation = form.kind.data == "organisation"
        data = accounts.Registration(
            kind=BuyerKind.ORGANISATION if organisation else BuyerKind.CONSUMER,
            email=form.email.data or "",
            password=form.password.data or "",
            name=form.name.data or "",
            phone=form.phone.data,
            birth_date=None if organisation else parse_date(form.birth_date.data),
            organisation_name=form.organisation_name.data if organisation else None,
            organisation_number=form.organisation_number.data if organisation else None,
            adult_confirmed=bool(form.adult_confirmed.data) if organisation else False,
            newsletter=bool(form.newsletter.data),
            language=str(session.get("lang") or "sv"),
        )
        now = clock.now()
        base = str(current_app.config["SHOP_BASE_URL"]).rstrip("/")
        # Where the visitor was going (a course booking, say) travels in the activation link.
        then: dict[str, Any] = {"next": next_url} if next_url else {}
        try:
            message = accounts.request_registration(
                data,
                now=now,
                today=clock.today(),
                max_age_seconds=int(current_app.config["REGISTRATION_LINK_MAX_AGE"]),
                link_for=lambda token: (
                    base + url_for("account.confirm_registration", token=token, **then)
                ),
                login_url=base + url_for("account.login"),
                reset_url=base + url_for("account.forgot_password"),
            )
        except accounts.AccountError as error:
            _attach_error(form, error, "email")
        else:
            mail.deliver_now_in_development(current_app, message.id, now=now)
            # The same answer whether or not the address has an account (no enumeration).
            return render_template("account/register_sent.html", email=message.to_address)
    return render_template("account/register.html", form=form, next_url=next_url)


@bp.route("/aktivera/<token>", methods=["GET", "POST"])
def confirm_registration(token: str) -> Response | tuple[str, int] | str:
    """The mailed activation link: a button (mail scanners only GET), then the account."""
    now = clock.now()
    if not accounts.registration_link_valid(token, now=now):
        return render_template("account/register_invalid.html"), 404
    form = ConfirmRegistrationForm()
    if form.validate_on_submit():
        try:
            customer = accounts.confirm_registration(token, now=now, today=clock.today())
        except accounts.AccountError:
            return render_template("account/register_invalid.html"), 404
        for note in _start_session(customer, remember=False):
            flash(note, "info")
        flash(_("Välkommen! Ditt konto är skapat och du är inloggad."), "success")
        return redirect(safe_next_url(request.args.get("next")) or url_for("account.overview"))
    return render_template(
        "account/register_confirm.html",
        form=form,
        token=token,
        next_url=safe_next_url(request.args.get("next")),
    )


@bp.get("/")
@login_required
def overview() -> str:
    customer: Customer = current_user
    return render_template(
        "account/overview.html",
        customer=customer,
        address=accounts.delivery_address(customer),
        newsletter=accounts.newsletter_subscribed(customer),
        recent_orders=order_service.orders_for_customer(customer, limit=3),
    )


@bp.get("/ordrar")
@login_required
def orders() -> str:
    """The customer's orders with status, newest first ("Mina ordrar")."""
    return render_template(
        "orders/list.html", orders=order_service.orders_for_customer(current_user)
    )


@bp.route("/glomt-losenord", methods=["GET", "POST"])
@_limit("RATELIMIT_RESET")
def forgot_password() -> str:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        now = clock.now()
        base = str(current_app.config["SHOP_BASE_URL"]).rstrip("/")
        message = accounts.request_password_reset(
            form.email.data or "",
            now=now,
            max_age_seconds=int(current_app.config["PASSWORD_RESET_MAX_AGE"]),
            link_for=lambda token: base + url_for("account.reset_password", token=token),
        )
        if message is not None:
            mail.deliver_now_in_development(current_app, message.id, now=now)
        # The same answer whether or not there is such an account (no enumeration).
        return render_template("account/forgot_password_sent.html", email=form.email.data)
    return render_template("account/forgot_password.html", form=form)


@bp.route("/aterstall/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int] | str:
    now = clock.now()
    if accounts.customer_for_reset_token(token, now=now) is None:
        return render_template("account/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.password.data or "", now=now)
        except accounts.InvalidResetToken:
            return render_template("account/reset_invalid.html"), 404
        except accounts.AccountError as error:
            _attach_error(form, error, "password")
        else:
            if current_user.is_authenticated:
                logout_user()
            flash(_("Ditt lösenord är ändrat. Logga in med det nya lösenordet."), "success")
            return redirect(url_for("account.login"))
    return render_template("account/reset_password.html", form=form, token=token)


@bp.route("/losenord", methods=["GET", "POST"])
@login_required
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        customer: Customer = current_user._get_current_object()
        try:
            accounts.change_password(
                customer,
                form.current_password.data or "",
                form.new_password.data or "",
                now=clock.now(),
            )
        except accounts.AccountError as error:
            _attach_error(form, error, "current_password")
        else:
            # Other sessions are out (new session version); this one stays in.
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
            login_user(customer, remember=remembered in request.cookies)
            flash(_("Ditt lösenord är ändrat. Andra inloggningar är utloggade."), "success")
            return redirect(url_for("account.overview"))
    return render_template("account/change_password.html", form=form)


@bp.route("/uppgifter", methods=["GET", "POST"])
@login_required
def edit_details() -> Response | str:
    customer: Customer = current_user._get_current_object()
    address = accounts.delivery_address(customer)
    form = DetailsForm()
    if request.method == "GET":
        form.name.data = customer.name
        form.phone.data = customer.phone or ""
        form.language.data = customer.language
        form.newsletter.data = accounts.newsletter_subscribed(customer)
        if address is not None:
            form.address_name.data = address.name if address.name != customer.name else ""
            form.street.data = address.street
            form.postcode.data = address.postcode
            form.city.data = address.city
    if form.validate_on_submit():
        name = (form.name.data or "").strip()
        details = accounts.ContactDetails(
            name=name,
            phone=form.phone.data,
            language=form.language.data or "sv",
            address=accounts.AddressDetails(
                name=(form.address_name.data or "").strip() or name,
                street=form.street.data or "",
                postcode=form.postcode.data or "",
                city=form.city.data or "",
            )
            if form.has_address
            else None,
            newsletter=bool(form.newsletter.data),
        )
        try:
            accounts.update_details(customer, details, now=clock.now())
        except accounts.AccountError as error:
            _attach_error(form, error, "name")
        else:
            session["lang"] = customer.language
            flash(_("Dina uppgifter är sparade."), "success")
            return redirect(url_for("account.overview"))
    return render_template("account/edit_details.html", form=form)


@bp.route("/radera", methods=["GET", "POST"])
@login_required
def erase() -> tuple[str, int] | str:
    """R4.3: the customer erases the account; what must stay is listed with reason and date."""
    customer: Customer = current_user._get_current_object()
    form = EraseAccountForm()
    if request.method == "POST":
        if form.validate_on_submit():
            if not password_matches(customer, form.password.data or ""):
                form.password.errors = [_("Lösenordet stämmer inte.")]
            else:
                try:
                    outcome = data_requests.request_erasure(
                        customer,
                        channel="account",
                        verified_by=customer.pseudonym,
                        received_on=clock.today(),
                        today=clock.today(),
                        now=clock.now(),
                    )
                except data_requests.DataRequestProblem as problem:
                    form.password.errors = [problem.message]
                else:
                    logout_user()
                    kept = {key: session[key] for key in KEPT_SESSION_KEYS if key in session}
                    session.clear()
                    session.update(kept)
                    return render_template(
                        "account/erased.html",
                        done=outcome.done,
                        items=outcome.waiting,
                        due_on=outcome.request.due_on,
                    )
        return render_template("account/erase.html", form=form), 400
    return render_template("account/erase.html", form=form)


from shop.web.account import privacy as _privacy  # noqa: E402, F401 - consent and register extract (issue 7)
