"""Log-in, log-out, sign-up, password reset, the account page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm

from portal.accounts import services
from portal.accounts.forms import LoginForm, PasswordResetForm, PasswordResetRequestForm, SignupForm
from portal.accounts.models import Membership, OrganizationKind
from portal.audit.services import record
from portal.extensions import db
from portal.urls import safe_next
from portal.web import external_url

bp = Blueprint("accounts", __name__)


def client_ip() -> str | None:
    return request.remote_addr


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data, ip=client_ip())
        db.session.commit()  # failures and lock-outs are recorded even when refused
        if result.user is not None:
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
            login_user(result.user)
            flash(f"ようこそ、{result.user.name} さん。", "success")
            return redirect(safe_next(request.args.get("next")) or url_for("public.home"))
        error = result.error
    status = 200 if error is None and not form.errors else 422
    return render_template("accounts/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    form = FlaskForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        record("logout", actor_id=current_user.id, subject=current_user.email, ip=client_ip())
        db.session.commit()
        logout_user()
        flash("ログアウトしました。", "info")
    return redirect(url_for("public.home"))


@bp.route("/signup", methods=["GET", "POST"])
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
                ip=client_ip(),
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
def password_reset_request():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, ip=client_ip())
        db.session.commit()
        return render_template("accounts/password_reset_sent.html")
    return render_template("accounts/password_reset_request.html", form=form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def password_reset(token: str):
    if services.valid_reset_token(token) is None:
        return render_template("accounts/password_reset_invalid.html"), 404
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data, ip=client_ip())
        except services.AccountError as exc:
            db.session.rollback()
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            db.session.commit()
            flash("パスワードを再設定しました。新しいパスワードでログインしてください。", "success")
            return redirect(url_for("accounts.login"))
    status = 422 if form.errors else 200
    return render_template("accounts/password_reset.html", form=form), status


@bp.get("/account")
@login_required
def account():
    feed = external_url(f"/calendar/{current_user.calendar_token}.ics")
    return render_template("accounts/account.html", feed_url=feed, form=FlaskForm())
