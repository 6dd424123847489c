"""Back office (事務局): visitors are sent to log in; other accounts get 403."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import access
from portal.accounts import services as account_services
from portal.accounts.models import AccountState, Role, User
from portal.accounts.services import pending_count
from portal.core.db import db
from portal.mail import services as mail_services
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.qa.admin import bp as qa_admin_bp
from portal.secretariat import services
from portal.secretariat.forms import ActionForm, ApproveForm, RejectForm
from portal.seminars.admin import bp as seminars_admin_bp
from portal.subcommittees import admin as subcommittees_admin
from portal.web.client import client_address

bp = Blueprint("secretariat", __name__, url_prefix="/secretariat")
# Each domain's back office, nested: this blueprint's one guard covers its routes.
bp.register_blueprint(seminars_admin_bp)
bp.register_blueprint(qa_admin_bp)
bp.register_blueprint(subcommittees_admin.bp)


@bp.before_request
def only_secretariat():
    access.require("secretariat")
    # 都市OS①-3: the secretariat's accounts hold everyone's data, so they need a second factor.
    if current_app.config["TOTP_REQUIRED_FOR_SECRETARIAT"] and not current_user.totp_secret:
        flash(_("事務局のアカウントは二要素認証の設定が必要です。認証アプリで設定してください。"), "info")
        return redirect(url_for("accounts.two_factor"))
    return None



@bp.get("/")
def dashboard():
    return render_template(
        "secretariat/dashboard.html",
        pending=pending_count(),
        outbox_counts=services.outbox_counts(),
    )


@bp.get("/accounts")
def accounts():
    state = request.args.get("state")
    state = AccountState(state) if state in {s.value for s in AccountState} else None
    return render_template(
        "secretariat/accounts.html",
        users=services.accounts(state),
        state=state,
        approve_form=ApproveForm(),
        reject_form=RejectForm(),
    )


@bp.post("/accounts/<int:user_id>/approve")
def approve(user_id: int):
    user = access.get_or_404(User, user_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        account_services.approve(user, current_user, Role(form.role.data), ip=client_address())
    except account_services.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("%(name)s さんのアカウントを承認しました（通知メールを送信します）。", name=user.name), "success")
    return redirect(url_for(".accounts"))


@bp.post("/accounts/<int:user_id>/reject")
def reject(user_id: int):
    user = access.get_or_404(User, user_id)
    form = RejectForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        account_services.reject(user, current_user, form.reason.data or "", ip=client_address())
    except account_services.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("%(name)s さんの申請を却下しました（通知メールを送信します）。", name=user.name), "info")
    return redirect(url_for(".accounts"))


@bp.get("/outbox")
def outbox():
    status = request.args.get("status")
    status = OutboxStatus(status) if status in {s.value for s in OutboxStatus} else None
    return render_template(
        "secretariat/outbox.html",
        messages=services.outbox(status),
        status=status,
        counts=services.outbox_counts(),
        form=ActionForm(),
    )


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = access.get_or_404(OutboxMessage, message_id)
    return render_template("secretariat/outbox_message.html", message=message, form=ActionForm())


@bp.post("/outbox/<int:message_id>/retry")
def outbox_retry(message_id: int):
    message = access.get_or_404(OutboxMessage, message_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if message.status is OutboxStatus.FAILED:
        mail_services.retry(message)
        db.session.commit()
        flash(_("再送信を予約しました。"), "success")
    return redirect(url_for(".outbox_message", message_id=message.id))


