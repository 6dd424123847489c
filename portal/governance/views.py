"""Governance screens: the account inventory and audit log (secretariat), and an account's own
data, deletion request and log-out everywhere."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from portal import access
from portal.accounts.models import AccountState, Role, User
from portal.audit.services import record
from portal.core.db import db
from portal.governance import services
from portal.secretariat.views import bp as secretariat_bp
from portal.web.client import client_address
from portal.web.redirects import back_or
from portal.web.responses import csv_response

bp = Blueprint("governance", __name__)



# Secretariat (the blueprint's own check covers these) -------------------------------------

@secretariat_bp.get("/inventory")
def inventory():
    name = request.args.get("filter") if request.args.get("filter") in services.FILTERS else None
    return render_template("governance/inventory.html", users=services.inventory(name), filter_name=name,
                           filters=services.FILTERS, leads=services.leads_by_user(), form=FlaskForm())


@secretariat_bp.get("/inventory.csv")
def inventory_csv():
    name = request.args.get("filter") if request.args.get("filter") in services.FILTERS else None
    users = services.inventory(name)
    record("export.inventory", actor_id=current_user.id, ip=client_address(), details={"filter": name, "rows": len(users)})
    db.session.commit()
    return csv_response(services.inventory_csv(users), f"accounts-{date.today():%Y%m%d}")


@secretariat_bp.post("/inventory/review")
def inventory_review():
    ids = [int(i) for i in request.form.getlist("user_id") if i.isdigit()]
    users = list(db.session.scalars(select(User).where(User.id.in_(ids)))) if ids else []
    if not users:
        flash(_("確認済みにするアカウントを選んでください。"), "error")
    else:
        services.mark_reviewed(users, current_user, client_address())
        db.session.commit()
        flash(_("%(count)s件のアカウントを確認済みにしました。", count=len(users)), "success")
    return redirect(url_for("secretariat.inventory", filter=request.form.get("filter") or None))


@secretariat_bp.post("/accounts/<int:user_id>/state")
def account_state(user_id: int):
    user = access.get_or_404(User, user_id)
    state = request.form.get("state")
    if state not in (AccountState.ACTIVE.value, AccountState.DEACTIVATED.value):
        abort(400)
    try:
        services.set_state(user, AccountState(state), current_user, client_address())
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("%(name)s さんのアカウントを停止しました。", name=user.name) if state == "deactivated"
              else _("%(name)s さんのアカウントを再開しました。", name=user.name), "success")
    return back_or(url_for("secretariat.inventory"))


@secretariat_bp.post("/accounts/<int:user_id>/role")
def account_role(user_id: int):
    user = access.get_or_404(User, user_id)
    role = request.form.get("role")
    if role not in {r.value for r in Role}:
        abort(400)
    try:
        services.set_role(user, Role(role), current_user, client_address())
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("%(name)s さんのロールを変更しました。", name=user.name), "success")
    return redirect(url_for("secretariat.inventory"))


@secretariat_bp.post("/accounts/<int:user_id>/anonymize")
def account_anonymize(user_id: int):
    user = access.get_or_404(User, user_id)
    try:
        services.anonymize(user, current_user, client_address())
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("アカウントを停止し、個人情報を匿名化しました（質問と統計は残ります）。"), "success")
    return redirect(url_for("secretariat.inventory"))


@secretariat_bp.get("/audit")
def audit():
    events = services.audit_events(request.args.get("q"), request.args.get("action"))
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id})))}
    return render_template("governance/audit.html", events=events, actors=actors,
                           q=request.args.get("q", ""), action=request.args.get("action", ""))


@secretariat_bp.get("/audit.csv")
def audit_csv():
    events = services.audit_events(request.args.get("q"), request.args.get("action"), limit=100_000)
    record("export.audit", actor_id=current_user.id, ip=client_address(), details={"rows": len(events)})
    db.session.commit()
    return csv_response(services.audit_csv(events), f"audit-{date.today():%Y%m%d}")


# The account's own -------------------------------------------------------------------------

@bp.get("/account/data.json")
@login_required
def own_data():
    record("account.data_exported", actor_id=current_user.id, subject=current_user.email, ip=client_address())
    db.session.commit()
    return Response(services.own_data_json(current_user), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=my-portal-data.json",
                             "Cache-Control": "no-store"})


@bp.post("/account/deletion-request")
@login_required
def deletion_request():
    services.request_deletion(current_user, client_address())
    db.session.commit()
    flash(_("アカウント削除の依頼を事務局に送りました。"), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/logout-everywhere")
@login_required
def logout_everywhere():
    services.end_sessions(current_user)
    record("logout.everywhere", actor_id=current_user.id, subject=current_user.email, ip=client_address())
    db.session.commit()
    logout_user()
    flash(_("すべての端末からログアウトしました。"), "info")
    return redirect(url_for("accounts.login"))
