"""An account's own pages: log-in (with the second factor), log-out, sign-up, password reset,
the account page, and what the account may do with its own data (download it, ask for its
deletion, log out everywhere)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.accounts import authentication, operations
from portal.accounts.forms import (
    CodeForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    PasswordResetRequestForm,
    SignupForm,
)
from portal.accounts.models import Membership, OrganizationKind, User
from portal.audit.services import record
from portal.calendar.forms import RemindersForm
from portal.calendar.reminders import chosen
from portal.core.db import db
from portal.extensions import limiter
from portal.governance import operations as governance
from portal.governance.exports import own_data_json
from portal.web.client import client_address
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import ActionForm
from portal.web.lang import ja_message
from portal.web.redirects import safe_next
from portal.web.uow import render_form, unit_of_work
from portal.web.urls import external_url_for

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
        with unit_of_work():  # failures and lock-outs are recorded even when refused
            result = authentication.authenticate(form.email.data, form.password.data, ip=client_address())
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


def _finish_login(user: User, next_url: str | None, second_factor: bool = False):
    with unit_of_work():  # the session's server-side record, which logout deletes
        session_id = authentication.start_session(user, second_factor=second_factor)
    session.permanent = True  # idle: expires after PERMANENT_SESSION_LIFETIME
    session["sid"] = session_id
    login_user(user)
    flash(ja_message(_("ようこそ、%(name)s さん。"), name=user.name), "success")
    return redirect(next_url or url_for("public.home"))


@bp.route("/login/2fa", methods=["GET", "POST"])
@_limit("RATELIMIT_LOGIN")
def second_factor():
    """The code after the password; or, for a session logged in without one (e.g. started before
    the account enrolled), the step-up the secretariat's powers ask for."""
    if current_user.is_authenticated and current_user.totp_secret and not current_user.session_second_factor:
        return _step_up()
    pending = session.get("2fa")
    user = db.session.get(User, pending["user"]) if pending else None
    if user is None or not user.is_active or user.session_version != pending["version"]:
        session.pop("2fa", None)
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit():
        with unit_of_work():  # a spent code or recovery code and a failure are recorded either way
            error = authentication.second_factor_error(user, form.code.data, ip=client_address())
            if error is None:
                authentication.complete_login(user, client_address())
        if error is None:
            session.pop("2fa", None)
            return _finish_login(user, pending.get("next"), second_factor=True)
        form.code.errors = [*form.code.errors, error]
    return render_form("accounts/second_factor.html", form)


def _step_up():
    form = CodeForm()
    if form.validate_on_submit():
        with unit_of_work():
            error = authentication.second_factor_error(current_user, form.code.data, ip=client_address())
            if error is None:
                authentication.mark_second_factor(current_user, session.get("sid"))
        if error is None:
            return redirect(safe_next(request.args.get("next")) or url_for("public.home"))
        form.code.errors = [*form.code.errors, error]
    return render_form("accounts/second_factor.html", form)


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def two_factor():
    """Enrol (scan the QR code, confirm a code, keep the recovery codes) or switch off."""
    form = CodeForm()
    if current_user.totp_secret:
        if form.validate_on_submit():
            with unit_of_work(form) as work:
                authentication.disable_totp(current_user, form.code.data, ip=client_address(),
                                            keep=session.get("sid"))
            if work.ok:
                flash(_("二要素認証を無効にしました。"), "info")
                return redirect(url_for("accounts.account"))
        return render_form("accounts/two_factor.html", form, enabled=True)
    if current_user.is_secretariat and authentication.valid_enrolment_token(
            current_user, session.get("totp_enrolment")) is None:
        # The password alone does not enrol a secretariat's first authenticator: a link mailed
        # to the account's address does (request it here).
        session.pop("totp_enrolment", None)
        status = 403 if request.method == "POST" else 200  # a code without the link enrols nothing
        return render_template("accounts/two_factor_link.html", form=ActionForm()), status
    secret = session.get("totp_setup") or authentication.new_totp_secret()
    session["totp_setup"] = secret
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            codes = authentication.enable_totp(current_user, secret, form.code.data, ip=client_address(),
                                               keep=session.get("sid"), enrolment_token=session.get("totp_enrolment"))
        if work.ok:
            session.pop("totp_setup", None)
            session.pop("totp_enrolment", None)
            return render_template("accounts/recovery_codes.html", codes=codes)
    uri = authentication.totp_uri(current_user, secret)
    return render_form("accounts/two_factor.html", form, enabled=False, secret=secret, uri=uri,
                       qr=authentication.totp_qr_data_uri(uri))


@bp.post("/account/2fa/link")
@_limit("RATELIMIT_PASSWORD_RESET")
@login_required
def two_factor_link():
    """Mail this secretariat account's address the link that lets it enrol a first authenticator
    (members enrol with the password and a code: they need none)."""
    if ActionForm().validate_on_submit() and current_user.is_secretariat and not current_user.totp_secret:
        with unit_of_work():
            authentication.request_enrolment_link(current_user, ip=client_address())
        flash(_("登録メールアドレスに設定用のリンクを送りました。メールのリンクを開いて設定を続けてください。"), "info")
    return redirect(url_for("accounts.two_factor"))


@bp.get("/account/2fa/enrol/<token>")
@login_required
def two_factor_enrolment(token: str):
    """The mailed link, opened by the logged-in account it was sent to: enrolment may go on."""
    if current_user.totp_secret or authentication.valid_enrolment_token(current_user, token) is None:
        return render_template("accounts/two_factor_link_invalid.html"), 404
    session["totp_enrolment"] = token
    return redirect(url_for("accounts.two_factor"))


@bp.post("/logout")
def logout():
    form = ActionForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        with unit_of_work():
            authentication.end_session(session.get("sid"))
            record("logout", actor_id=current_user.id, subject=current_user.email, ip=client_address())
        logout_user()
        session.pop("sid", None)
        flash(_("ログアウトしました。"), "info")
    return redirect(url_for("public.home"))


@bp.route("/signup", methods=["GET", "POST"])
@_limit("RATELIMIT_SIGNUP")
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            operations.sign_up(
                email=form.email.data,
                name=form.name.data,
                password=form.password.data,
                organization_name=form.organization.data,
                organization_kind=OrganizationKind(form.organization_kind.data),
                membership=Membership(form.membership.data),
                ip=client_address(),
            )
        if work.ok:
            return render_template("accounts/signup_done.html")
    return render_form("accounts/signup.html", form)


@bp.route("/password-reset", methods=["GET", "POST"])
@_limit("RATELIMIT_PASSWORD_RESET")
def password_reset_request():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        with unit_of_work():
            authentication.request_password_reset(form.email.data, ip=client_address())
        return render_template("accounts/password_reset_sent.html")
    return render_form("accounts/password_reset_request.html", form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def password_reset(token: str):
    if authentication.valid_reset_token(token) is None:
        return render_template("accounts/password_reset_invalid.html"), 404
    form = PasswordResetForm()
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            authentication.reset_password(token, form.password.data or "", ip=client_address())
        if work.ok:
            flash(_("パスワードを再設定しました。新しいパスワードでログインしてください。"), "success")
            return redirect(url_for("accounts.login"))
    return render_form("accounts/password_reset.html", form)


@bp.get("/account")
@login_required
def account():
    feed = external_url_for("calendar.personal", token=current_user.calendar_token)
    from portal.announcements.queries import subscribed

    return render_template("accounts/account.html", feed_url=feed, form=ActionForm(),
                           reminders=RemindersForm(alarms=chosen(current_user)),
                           announcements=subscribed(current_user))


@bp.route("/account/password", methods=["GET", "POST"])
@_limit("RATELIMIT_LOGIN")  # guessing the current password from a stolen session
@login_required
def change_password():
    """The current password, the new one twice; the account's other sessions end, this one stays."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            authentication.change_password(current_user, form.current_password.data or "",
                                           form.password.data or "", ip=client_address(), keep=session.get("sid"))
        if work.ok:
            flash(_("パスワードを変更しました。ほかの端末でのログインは終了しました。"), "success")
            return redirect(url_for("accounts.account"))
        if work.error is not None and work.error.field == "current_password":
            with unit_of_work():
                authentication.password_change_refused(current_user, client_address())
    return render_form("accounts/password_change.html", form)


# The account's own data (data protection) -------------------------------------------------

@bp.get("/account/data.json")
@login_required
def own_data():
    with unit_of_work():  # the export itself is audited
        record("account.data_exported", actor_id=current_user.id, subject=current_user.email, ip=client_address())
    return Response(own_data_json(current_user), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=my-portal-data.json",
                             "Cache-Control": "no-store"})


@bp.post("/account/deletion-request")
@login_required
def deletion_request():
    if current_user.deletion_requested_at is None and not is_confirmed():  # it mails the secretariat: ask first
        return confirmation(
            title=_("アカウントの削除を依頼します"),
            message=_("事務局にアカウント削除の依頼をメールで送ります。事務局が確認のうえアカウントを停止し、"
                      "個人情報を匿名化します。依頼は取り消せません。"),
            action=url_for("accounts.deletion_request"), button=_("削除を依頼する"),
            back=url_for("accounts.account") + "#privacy", mails=1)
    with unit_of_work() as work:
        governance.request_deletion(current_user, client_address())
    if work.ok:
        flash(_("アカウント削除の依頼を事務局に送りました。"), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/logout-everywhere")
@login_required
def logout_everywhere():
    with unit_of_work():
        operations.end_sessions(current_user)
        record("logout.everywhere", actor_id=current_user.id, subject=current_user.email, ip=client_address())
    logout_user()
    session.pop("sid", None)
    flash(_("すべての端末からログアウトしました。"), "info")
    return redirect(url_for("accounts.login"))
