"""Unsubscribing: the link in every announcement (a page with a button, and the one-click POST
of RFC 8058 that mail programs send without any session), and the account page's switch."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.accounts.models import User
from portal.announcements import notifications, operations, queries
from portal.core.db import db
from portal.extensions import csrf
from portal.web.forms import ActionForm, submitted

bp = Blueprint("announcements", __name__)


def _user_of(token: str) -> User:
    user_id = notifications.user_id_of(token)
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None:
        abort(404)
    return user


@bp.get("/announcements/unsubscribe/<token>")
def unsubscribe(token: str) -> ResponseReturnValue:
    user = _user_of(token)
    return render_template("announcements/unsubscribe.html", token=token, subscribed=queries.subscribed(user),
                           done=False)


@bp.post("/announcements/unsubscribe/<token>")
@csrf.exempt  # RFC 8058: the mail program POSTs "List-Unsubscribe=One-Click" with no session; the token is the proof
def unsubscribe_post(token: str) -> ResponseReturnValue:
    user = _user_of(token)
    operations.set_subscribed(user, False)
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 204
    return render_template("announcements/unsubscribe.html", token=token, subscribed=False, done=True)


@bp.post("/account/announcements")
@login_required
def account_subscription() -> ResponseReturnValue:
    submitted(ActionForm())
    wanted = request.form.get("subscribed") == "y"
    operations.set_subscribed(current_user, wanted)
    db.session.commit()
    flash(_("開催案内メールを受け取ります。") if wanted else _("開催案内メールの配信を停止しました。"), "success")
    return redirect(url_for("accounts.account"))
