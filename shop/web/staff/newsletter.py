"""Staff: write and send a newsletter to the customers who consented (R2.6).

Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from shop import clock
from shop.models.customer import Role
from shop.services import newsletter
from shop.web.auth import staff_required
from shop.web.staff.views import bp


class NewsletterForm(FlaskForm):
    subject = StringField(
        _l("Ämnesrad"),
        validators=[
            InputRequired(message=_l("Skriv en ämnesrad.")),
            Length(max=200, message=_l("Texten är för lång.")),
        ],
    )
    body = TextAreaField(
        _l("Text"),
        validators=[
            InputRequired(message=_l("Skriv nyhetsbrevets text.")),
            Length(max=20000, message=_l("Texten är för lång.")),
        ],
        render_kw={"rows": 14},
    )


@bp.route("/nyhetsbrev", methods=["GET", "POST"])
@staff_required(Role.STAFF)
def newsletter_send() -> str | Response | tuple[str, int]:
    form = NewsletterForm()
    if form.validate_on_submit():
        base = str(current_app.config["SHOP_BASE_URL"]).rstrip("/")
        sent = newsletter.queue_newsletter(
            subject=(form.subject.data or "").strip(),
            body=(form.body.data or "").strip(),
            link_for=lambda token: base + url_for("newsletter.unsubscribe_page", token=token),
            staff_id=current_user.id,
            now=clock.now(),
        )
        flash(
            _("Nyhetsbrevet ligger i kön till %(count)d mottagare.", count=sent.recipients),
            "success",
        )
        return redirect(url_for("staff.newsletter_send"))
    page = render_template(
        "staff/newsletter.html", form=form, subscribers=len(newsletter.subscribers())
    )
    return (page, 400) if form.is_submitted() else page
