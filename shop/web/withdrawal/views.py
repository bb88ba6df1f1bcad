"""The withdrawal function "Ångra köpet" (T5.9): two steps, from the account or a guest link.

Step one (``start``/``guest_start``) asks for name, order number, the e-mail
to confirm to and the items; step two (``confirm``/``guest_confirm``) shows a
summary and the button "Bekräfta ångrande". The submission key made at step
one is kept in the session, so sending step two twice gives one withdrawal.
``/angra`` mails the personal link to a guest, ``/angerblankett`` (and
``.pdf``) is the EU model withdrawal form. Anyone else's order gives 404.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from shop import clock
from shop.domain.errors import WithdrawalRefused
from shop.extensions import db, limiter
from shop.models import Customer, Order
from shop.services import fulfilment, mail, pdf, receipts, withdrawals
from shop.services import orders as order_service
from shop.web.withdrawal.forms import (
    ConfirmForm,
    GuestLinkForm,
    QuantityError,
    StepOneForm,
    chosen_quantities,
)

bp = Blueprint("withdrawal", __name__)

#: Session key: {submission key: step one's answers}, the newest few.
PENDING_KEY = "withdrawal_pending"
MAX_PENDING = 5
GUEST_LIMIT_DEFAULT = "5 per hour"


@dataclass(frozen=True)
class Target:
    """Where the pages of one order's withdrawal live: the account or a guest link."""

    order: Order
    token: str | None = None

    @property
    def args(self) -> dict[str, Any]:
        return {"token": self.token} if self.token else {"number": self.order.number}

    def url(self, step: str, **values: Any) -> str:
        prefix = "withdrawal.guest_" if self.token else "withdrawal."
        return url_for(prefix + step, **self.args, **values)

    @property
    def order_url(self) -> str:
        if self.token:
            return url_for("orders.guest_detail", token=self.token)
        return url_for("orders.detail", number=self.order.number)

    @property
    def actor(self) -> str:
        if current_user.is_authenticated and current_user.id == self.order.customer_id:
            return order_service.customer_actor(current_user)  # type: ignore[arg-type]
        owner = db.session.get(Customer, self.order.customer_id) if self.order.customer_id else None
        return order_service.customer_actor(owner) if owner else "customer:guest"


def _own_order(number: str) -> Target:
    order = order_service.order_for_customer(current_user, number)  # type: ignore[arg-type]
    if order is None:
        abort(404)
    return Target(order)


def _guest_order(token: str) -> Target:
    order = order_service.order_from_guest_token(token)
    if order is None:
        abort(404)
    return Target(order, token)


# --- The entry on the order page ----------------------------------------------------------


@bp.app_context_processor
def _entry_helper() -> dict[str, Any]:
    def withdrawal_entry(order: Order, guest_token: str | None = None) -> dict[str, Any] | None:
        """The "Ångra köpet" entry for the order page while something can be withdrawn."""
        view = withdrawals.overview(order, clock.today())
        if not view.open:
            return None
        target = Target(order, guest_token)
        return {"url": target.url("start"), "last_day": view.last_day}

    return {"withdrawal_entry": withdrawal_entry}


# --- Step one ---------------------------------------------------------------------------


def _pending() -> dict[str, Any]:
    value = session.get(PENDING_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _remember(key: str, data: dict[str, Any]) -> None:
    pending = _pending()
    pending[key] = data
    session[PENDING_KEY] = dict(list(pending.items())[-MAX_PENDING:])


def _step_one(target: Target) -> Any:
    order = target.order
    view = withdrawals.overview(order, clock.today())
    form = StepOneForm()
    if request.method == "GET":
        form.name.data = order.name
        form.order_number.data = order.number
        form.email.data = order.email
    chosen: dict[int, int] = {}
    error: str | None = None
    if request.method == "POST":
        try:
            chosen = chosen_quantities(request.form)
        except QuantityError as problem:
            error = str(problem)
    if form.validate_on_submit() and error is None:
        if (form.order_number.data or "").strip() != order.number:
            form.order_number.errors = [_("Ordernumret stämmer inte med den här ordern.")]
        else:
            try:
                withdrawals.validate_selection(view, chosen)
            except WithdrawalRefused as refusal:
                error = refusal.message
            except withdrawals.WithdrawalInputError as problem:
                error = problem.message
            else:
                key = secrets.token_urlsafe(32)
                _remember(
                    key,
                    {
                        "order": order.id,
                        "name": (form.name.data or "").strip(),
                        "email": (form.email.data or "").strip(),
                        "lines": {str(line_id): qty for line_id, qty in chosen.items()},
                    },
                )
                return redirect(target.url("confirm", k=key))
    if request.method == "GET" and not view.open:
        error = view.closed_reason or _("Det finns inget kvar i ordern som kan ångras.")
    return (
        render_template(
            "withdrawal/step_one.html",
            target=target,
            order=order,
            view=view,
            form=form,
            chosen=chosen,
            error=error,
        ),
        200,
    )


@bp.route("/konto/ordrar/<number>/angra", methods=["GET", "POST"])
@login_required
def start(number: str) -> Any:
    return _step_one(_own_order(number))


@bp.route("/order/<token>/angra", methods=["GET", "POST"])
def guest_start(token: str) -> Any:
    return _step_one(_guest_order(token))


# --- Step two ---------------------------------------------------------------------------


def _done_redirect(target: Target, key: str) -> Any:
    existing = withdrawals.find_by_key(key)
    if existing is not None and existing.order_id == target.order.id:
        return redirect(target.url("done", withdrawal_id=existing.id))
    return None


def _step_two(target: Target) -> Any:
    order = target.order
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        key = form.submission_key.data or ""
    else:
        key = request.args.get("k", "")
        form.submission_key.data = key
    done = _done_redirect(target, key) if key else None
    if done is not None:
        return done
    data = _pending().get(key)
    if not isinstance(data, dict) or data.get("order") != order.id:
        flash(_("Börja om med att välja vad du vill ångra."), "info")
        return redirect(target.url("start"))
    quantities = {int(line_id): int(qty) for line_id, qty in data["lines"].items()}
    view = withdrawals.overview(order, clock.today())
    error: str | None = None
    if request.method == "POST":
        now = clock.now()
        try:
            withdrawal, _created = withdrawals.submit_withdrawal(
                order,
                name=data["name"],
                email=data["email"],
                quantities=quantities,
                submission_key=key,
                channel="function",
                received_at=now,
                actor=target.actor,
                now=now,
            )
        except WithdrawalRefused as refusal:
            error = refusal.message
        except withdrawals.WithdrawalInputError as problem:
            error = problem.message
        else:
            return redirect(target.url("done", withdrawal_id=withdrawal.id))
        view = withdrawals.overview(target.order, clock.today())
    rows = [
        (view.state(line_id), qty) for line_id, qty in quantities.items() if view.state(line_id)
    ]
    return (
        render_template(
            "withdrawal/step_two.html",
            target=target,
            order=target.order,
            data=data,
            rows=rows,
            form=form,
            error=error,
        ),
        200,
    )


@bp.route("/konto/ordrar/<number>/angra/bekrafta", methods=["GET", "POST"])
@login_required
def confirm(number: str) -> Any:
    return _step_two(_own_order(number))


@bp.route("/order/<token>/angra/bekrafta", methods=["GET", "POST"])
def guest_confirm(token: str) -> Any:
    return _step_two(_guest_order(token))


# --- Received -----------------------------------------------------------------------------


def _done(target: Target, withdrawal_id: int) -> str:
    withdrawal = next(
        (w for w in withdrawals.withdrawals_of(target.order) if w.id == withdrawal_id), None
    )
    if withdrawal is None:
        abort(404)
    return render_template(
        "withdrawal/done.html",
        target=target,
        order=target.order,
        withdrawal=withdrawal,
        received=withdrawals.received_text(withdrawal),
    )


@bp.get("/konto/ordrar/<number>/angra/<int:withdrawal_id>")
@login_required
def done(number: str, withdrawal_id: int) -> str:
    return _done(_own_order(number), withdrawal_id)


@bp.get("/order/<token>/angra/<int:withdrawal_id>")
def guest_done(token: str, withdrawal_id: int) -> str:
    return _done(_guest_order(token), withdrawal_id)


# --- /angra: the personal link for guests ----------------------------------------------------


def _guest_limit() -> str:
    return str(current_app.config.get("RATELIMIT_WITHDRAWAL_GUEST", GUEST_LIMIT_DEFAULT))


def _link_mail(order: Order, link: str) -> tuple[str, str]:
    subject = _("Länk för att ångra köpet, order %(number)s", number=order.number)
    return subject, render_template("withdrawal/link_mail.txt", order=order, link=link)


@bp.route("/angra", methods=["GET", "POST"])
@limiter.limit(_guest_limit, methods=["POST"])
def lookup() -> str:
    form = GuestLinkForm()
    if form.validate_on_submit():
        now = clock.now()
        message_id = withdrawals.send_guest_link(
            form.order_number.data or "",
            form.email.data or "",
            link_for=lambda order: fulfilment.absolute_url(
                "withdrawal.guest_start", token=order_service.guest_order_token(order)
            ),
            render=_link_mail,
            now=now,
        )
        if message_id is not None:
            mail.deliver_now_in_development(current_app, message_id, now=now)
        # The same answer whether or not the order exists (no enumeration).
        return render_template("withdrawal/lookup_sent.html")
    return render_template("withdrawal/lookup.html", form=form)


# --- The EU model withdrawal form ----------------------------------------------------------


@bp.get("/angerblankett")
def model_form() -> str:
    return render_template("withdrawal/model_form.html", seller=receipts.seller())


@bp.get("/angerblankett.pdf")
def model_form_pdf() -> Response:
    data = pdf.render_withdrawal_form(fulfilment.withdrawal_form(receipts.seller()))
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = 'inline; filename="angerblankett.pdf"'
    return response
