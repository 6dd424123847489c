"""Log-in, log-out, sign-up, password reset, the account page."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm

from portal.accounts import services
from portal.accounts.forms import CodeForm, LoginForm, PasswordResetForm, PasswordResetRequestForm, SignupForm
from portal.accounts.models import Membership, OrganizationKind, User
from portal.audit.services import record
from portal.core.db import db
from portal.extensions import limiter
from portal.web.client import client_address
from portal.web.redirects import safe_next
from portal.web.urls import external_url

bp = Blueprint("accounts", __name__)



def _limit(name: str):
    """A rate limit on POSTs only, its rate read from the configuration."""
    return limiter.limit(lambda: current_app.config[name], methods=["POST"])


@bp.route("/login", methods=["GET", "POST"])
@_limit("RATELIMIT_LOGIN")
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data, ip=client_address())
        db.session.commit()  # failures and lock-outs are recorded even when refused
        if result.user is not None and result.needs_second_factor:
            # Password checked; the session is not logged in until the second factor.
            session["2fa"] = {"user": result.user.id, "version": result.user.session_version,
                              "next": safe_next(request.args.get("next"))}
            return redirect(url_for("accounts.second_factor"))
        if result.user is not None:
            return _finish_login(result.user, safe_next(request.args.get("next")))
        error = result.error
    status = 200 if error is None and not form.errors else 422
    return render_template("accounts/login.html", form=form, error=error), status


def _finish_login(user, next_url: str | None):
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
    login_user(user)
    flash(_("ようこそ、%(name)s さん。", name=user.name), "success")
    return redirect(next_url or url_for("public.home"))


@bp.route("/login/2fa", methods=["GET", "POST"])
@_limit("RATELIMIT_LOGIN")
def second_factor():
    pending = session.get("2fa")
    user = db.session.get(User, pending["user"]) if pending else None
    if user is None or not user.is_active or user.session_version != pending["version"]:
        session.pop("2fa", None)
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit():
        if services.verify_second_factor(user, form.code.data, ip=client_address()):
            services.complete_login(user, client_address())
            db.session.commit()
            session.pop("2fa", None)
            return _finish_login(user, pending.get("next"))
        db.session.commit()
        form.code.errors = [*form.code.errors, _("確認コードが正しくありません。")]
    return render_template("accounts/second_factor.html", form=form), 422 if form.errors else 200


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def two_factor():
    """Enrol (scan the QR code, confirm a code, keep the recovery codes) or switch off."""
    form = CodeForm()
    if current_user.totp_secret:
        if form.validate_on_submit():
            try:
                services.disable_totp(current_user, form.code.data, ip=client_address())
            except services.AccountError as exc:
                db.session.rollback()
                form.code.errors = [*form.code.errors, str(exc)]
            else:
                db.session.commit()
                flash(_("二要素認証を無効にしました。"), "info")
                return redirect(url_for("accounts.account"))
        return render_template("accounts/two_factor.html", form=form, enabled=True), 422 if form.errors else 200
    secret = session.get("totp_setup") or services.new_totp_secret()
    session["totp_setup"] = secret
    if form.validate_on_submit():
        try:
            codes = services.enable_totp(current_user, secret, form.code.data, ip=client_address())
        except services.AccountError as exc:
            db.session.rollback()
            form.code.errors = [*form.code.errors, str(exc)]
        else:
            db.session.commit()
            session.pop("totp_setup", None)
            return render_template("accounts/recovery_codes.html", codes=codes)
    uri = services.totp_uri(current_user, secret)
    return render_template("accounts/two_factor.html", form=form, enabled=False, secret=secret, uri=uri,
                           qr=services.totp_qr_data_uri(uri)), 422 if form.errors else 200


@bp.post("/logout")
def logout():
    form = FlaskForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        record("logout", actor_id=current_user.id, subject=current_user.email, ip=client_address())
        db.session.commit()
        logout_user()
        flash(_("ログアウトしました。"), "info")
    return redirect(url_for("public.home"))


@bp.route("/signup", methods=["GET", "POST"])
@_limit("RATELIMIT_SIGNUP")
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        try:
            services.sign_up(
                email=form.email.data,
                name=form.name.data,
                password=form.password.data,
                organization_name=form.organization.data,
                organization_kind=OrganizationKind(form.organization_kind.data),
                membership=Membership(form.membership.data),
                ip=client_address(),
            )
        except services.AccountError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "email")
            field.errors = [*field.errors, str(exc)]
        else:
            db.session.commit()
            return render_template("accounts/signup_done.html")
    status = 422 if form.errors else 200
    return render_template("accounts/signup.html", form=form), status


@bp.route("/password-reset", methods=["GET", "POST"])
@_limit("RATELIMIT_PASSWORD_RESET")
def password_reset_request():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, ip=client_address())
        db.session.commit()
        return render_template("accounts/password_reset_sent.html")
    return render_template("accounts/password_reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def password_reset(token: str):
    if services.valid_reset_token(token) is None:
        return render_template("accounts/password_reset_invalid.html"), 404
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data, ip=client_address())
        except services.AccountError as exc:
            db.session.rollback()
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("パスワードを再設定しました。新しいパスワードでログインしてください。"), "success")
            return redirect(url_for("accounts.login"))
    status = 422 if form.errors else 200
    return render_template("accounts/password_reset.html", form=form), status


@bp.get("/account")
@login_required
def account():
    feed = external_url(f"/calendar/{current_user.calendar_token}.ics")
    return render_template("accounts/account.html", feed_url=feed, form=FlaskForm())
