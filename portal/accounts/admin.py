"""Accounts in the back office: applications to approve or reject, and the inventory
(棚卸し) with deactivation, role changes and anonymization.

Nested under the secretariat's blueprint (registered there), so its one guard covers every
route here; URLs are /secretariat/accounts… and /secretariat/inventory….
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts import operations, queries
from portal.accounts.forms import ROLE_LABELS, ApproveForm, RejectForm, RoleForm, StateForm
from portal.accounts.models import AccountState, Role, User
from portal.audit.services import record
from portal.governance import operations as governance
from portal.governance import queries as inventory_queries
from portal.governance.exports import inventory_csv as inventory_file
from portal.web.access import get_or_404
from portal.web.client import client_address
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import submitted
from portal.web.lang import ja_message
from portal.web.redirects import back_or
from portal.web.responses import csv_response
from portal.web.uow import unit_of_work

bp = Blueprint("accounts", __name__)


# Applications ------------------------------------------------------------------------------

@bp.get("/accounts")
def index():
    state = request.args.get("state")
    chosen = AccountState(state) if state in {s.value for s in AccountState} else None
    users = queries.accounts(chosen)
    return render_template("secretariat/accounts.html", users=users, state=chosen,
                           filters=[AccountState.PENDING, AccountState.ACTIVE], roles=ROLE_LABELS,
                           decidable={u.id for u in users if u.state is AccountState.PENDING},
                           approve_form=ApproveForm(), reject_form=RejectForm())


@bp.post("/accounts/<int:user_id>/approve")
def approve(user_id: int):
    user = get_or_404(User, user_id)
    form = submitted(ApproveForm())
    if not is_confirmed():  # the applicant is mailed: ask first (the chosen role carried along)
        return confirmation(
            title=_("アカウントを承認します"),
            message=ja_message(_("%(name)s さん（%(email)s）のアカウントを「%(role)s」として承認し、"
                      "本人にメールでお知らせします。"),
                               plain={"email": user.email, "role": ROLE_LABELS.get(form.role.data, form.role.data)},
                               name=user.name),
            action=url_for(".approve", user_id=user.id), button=_("承認してメールを送る"), back=url_for(".index"),
            mails=1, carry=True, danger=False)
    with unit_of_work() as work:
        operations.approve(user, current_user, Role(form.role.data), ip=client_address())
    if work.ok:
        flash(ja_message(_("%(name)s さんのアカウントを承認しました（通知メールを送信します）。"),
                         name=user.name), "success")
    return redirect(url_for(".index"))


@bp.post("/accounts/<int:user_id>/reject")
def reject(user_id: int):
    user = get_or_404(User, user_id)
    form = submitted(RejectForm())
    if not is_confirmed():  # mails the applicant and cannot be undone: ask first (the reason carried along)
        return confirmation(
            title=_("申請を却下します"),
            message=ja_message(_("%(name)s さん（%(email)s）の申請を却下し、本人にメールでお知らせします。"
                      "元に戻すことはできません。"), plain={"email": user.email}, name=user.name),
            details=[_("理由: %(reason)s", reason=form.reason.data)] if form.reason.data else [],
            action=url_for(".reject", user_id=user.id), button=_("却下してメールを送る"), back=url_for(".index"),
            mails=1, carry=True)
    with unit_of_work() as work:
        operations.reject(user, current_user, form.reason.data or "", ip=client_address())
    if work.ok:
        flash(ja_message(_("%(name)s さんの申請を却下しました（通知メールを送信します）。"), name=user.name), "info")
    return redirect(url_for(".index"))


# Inventory (棚卸し) -------------------------------------------------------------------------

def _filter() -> str | None:
    name = request.values.get("filter")
    return name if name in inventory_queries.FILTERS else None


@bp.get("/inventory")
def inventory():
    name = _filter()
    users = inventory_queries.inventory(name)
    return render_template(
        "governance/inventory.html", users=users, filter_name=name, filters=inventory_queries.FILTERS,
        leads=inventory_queries.leads_by_user(), roles=ROLE_LABELS, form=StateForm(),
        # What each row offers: stop an active account; reactivate or anonymize a stopped one.
        deactivatable={u.id for u in users if u.state is AccountState.ACTIVE},
        restorable={u.id for u in users if u.state is AccountState.DEACTIVATED and not u.anonymized_at},
    )


@bp.get("/inventory.csv")
def inventory_csv():
    name = _filter()
    users = inventory_queries.inventory(name)
    with unit_of_work():  # the export itself is audited
        record("export.inventory", actor_id=current_user.id, ip=client_address(),
               details={"filter": name, "rows": len(users)})
    return csv_response(inventory_file(users), f"accounts-{date.today():%Y%m%d}")


@bp.post("/inventory/review")
def inventory_review():
    ids = [int(i) for i in request.form.getlist("user_id") if i.isdigit()]
    users = inventory_queries.users_by_id(ids)
    with unit_of_work() as work:
        governance.mark_reviewed(users, current_user, client_address())
    if work.ok:
        flash(_("%(count)s件のアカウントを確認済みにしました。", count=len(users)), "success")
    return redirect(url_for(".inventory", filter=_filter()))


@bp.post("/accounts/<int:user_id>/state")
def set_state(user_id: int):
    user = get_or_404(User, user_id)
    form = submitted(StateForm())
    state = AccountState(form.state.data)
    with unit_of_work() as work:
        operations.set_state(user, state, current_user, client_address())
    if work.ok:
        flash(ja_message(_("%(name)s さんのアカウントを停止しました。"),
                         name=user.name) if state is AccountState.DEACTIVATED
              else ja_message(_("%(name)s さんのアカウントを再開しました。"), name=user.name), "success")
    if is_confirmed():  # from the confirmation page: back to the list, not to the question
        return redirect(url_for(".inventory"))
    return back_or(url_for(".inventory"))


@bp.get("/accounts/<int:user_id>/state")
def set_state_confirm(user_id: int):
    """Ask before stopping an account (its sessions end at once, its feed URL stops)."""
    user = get_or_404(User, user_id)
    return confirmation(
        title=_("アカウントを停止します"),
        message=ja_message(_("%(name)s さん（%(email)s）のアカウントを停止します。"
                             "ログイン中の端末はすべてログアウトし、"
                             "個人用カレンダーのURLは使えなくなります（再開しても元のURLには戻りません）。"),
                           plain={"email": user.email}, name=user.name),
        action=url_for(".set_state", user_id=user.id), button=_("停止する"), back=url_for(".inventory"),
        mails=0, keep={"state": AccountState.DEACTIVATED.value})


@bp.get("/accounts/<int:user_id>/anonymize")
def anonymize_confirm(user_id: int):
    user = get_or_404(User, user_id)
    return confirmation(
        title=_("アカウントを匿名化します"),
        message=ja_message(_("%(name)s さん（%(email)s）のアカウントを停止し、"
                             "個人情報を匿名化します。元に戻すことはできません。"),
                           plain={"email": user.email}, name=user.name),
        action=url_for(".anonymize", user_id=user.id), button=_("匿名化する"), back=url_for(".inventory"), mails=0)


@bp.post("/accounts/<int:user_id>/role")
def set_role(user_id: int):
    user = get_or_404(User, user_id)
    form = submitted(RoleForm())
    with unit_of_work() as work:
        operations.set_role(user, Role(form.role.data), current_user, client_address(), keep=session.get("sid"))
    if work.ok:
        flash(ja_message(_("%(name)s さんのロールを変更しました。"), name=user.name), "success")
    return redirect(url_for(".inventory"))


@bp.post("/accounts/<int:user_id>/anonymize")
def anonymize(user_id: int):
    user = get_or_404(User, user_id)
    with unit_of_work() as work:
        governance.anonymize(user, current_user, client_address())
    if work.ok:
        flash(_("アカウントを停止し、個人情報を匿名化しました（質問と統計は残ります）。"), "success")
    return redirect(url_for(".inventory"))
