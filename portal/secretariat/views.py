"""Back office (事務局): visitors are sent to log in; other accounts get 403.

The secretariat's blueprint holds the one guard and the dashboard. Each domain's back-office
routes live in that domain's ``admin.py`` as a blueprint of its own, nested here, so this guard
covers them and no domain imports this module (no import cycle).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.access import is_secretariat, lacks_second_factor
from portal.accounts.admin import bp as accounts_bp
from portal.accounts.queries import pending_count
from portal.announcements.admin import bp as announcements_bp
from portal.audit.admin import bp as audit_bp
from portal.mail.admin import bp as mail_bp
from portal.mail.queries import outbox_counts, waiting_too_long
from portal.qa.admin import bp as qa_bp
from portal.seminars.admin import bp as seminars_bp
from portal.subcommittees.admin import bp as subcommittees_bp
from portal.web.access import require

bp = Blueprint("secretariat", __name__, url_prefix="/secretariat")
for child in (seminars_bp, qa_bp, subcommittees_bp, accounts_bp, mail_bp, audit_bp, announcements_bp):
    bp.register_blueprint(child)


@bp.before_request
def only_secretariat():
    # 都市OS①-3: the secretariat's accounts hold everyone's data, so where it is required their
    # session must have passed the second factor (accounts.access.is_secretariat says so for
    # every domain); here the way there is shown: enrol, or give this session's code.
    if lacks_second_factor(current_user):
        if current_user.totp_secret:
            flash(_("このページを表示するには、認証アプリの確認コードを入力してください。"), "info")
            return redirect(url_for("accounts.second_factor", next=request.full_path.rstrip("?")))
        flash(_("事務局のアカウントは二要素認証の設定が必要です。認証アプリで設定してください。"), "info")
        return redirect(url_for("accounts.two_factor"))
    require(is_secretariat(current_user))
    return None


@bp.get("/")
def dashboard():
    return render_template("secretariat/dashboard.html", pending=pending_count(), outbox_counts=outbox_counts(),
                           waiting=waiting_too_long())
