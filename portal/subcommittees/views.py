"""Subcommittee pages: overview and detail, proposals, membership, the lead's plan.

Each view loads and checks (``_load``, ``_lead_and`` with ``subcommittees.access``), runs one
operation inside the unit of work and renders or redirects. Actions that are buttons on the
subcommittee page flash their outcome and go back to it; pages with their own form re-render
it with the errors (422).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.core import versions
from portal.core.dates import fiscal_year, today_local
from portal.core.db import db
from portal.materials import storage as material_services
from portal.materials.forms import MaterialForm
from portal.materials.models import Material
from portal.materials.views import upload_from_form
from portal.subcommittees import access, notifications, operations, queries
from portal.subcommittees.forms import DoneForm, MilestoneForm, ProposalForm, SessionForm
from portal.subcommittees.models import (
    MembershipState,
    Milestone,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
)
from portal.subcommittees.pages import detail_page
from portal.web.access import get_or_404, require
from portal.web.conditional import shared
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import ActionForm, Form
from portal.web.lang import ja_message
from portal.web.uow import flash_errors, render_form, unit_of_work

bp = Blueprint("subcommittees", __name__)

Owned = TypeVar("Owned", SubcommitteeMember, SubcommitteeSession, Milestone, Material)


def _load(slug: str) -> Subcommittee:
    """The subcommittee, or 404 when it is missing or not for this viewer to see."""
    sub = queries.get_for_page(slug)
    if sub is None or not access.may_see(current_user, sub):
        abort(404)
    return sub


def _lead_of(slug: str) -> Subcommittee:
    """For a lead's action: the subcommittee (404), then the right to lead it (403)."""
    sub = _load(slug)
    require(access.may_lead(current_user, sub))
    return sub


def _lead_and(slug: str, model: type[Owned], ident: int) -> tuple[Subcommittee, Owned]:
    """…and the record acted on, 404 unless it belongs to this subcommittee."""
    sub = _lead_of(slug)
    return sub, get_or_404(model, ident, visible=lambda obj, _user: obj.subcommittee_id == sub.id)


def _back(sub: Subcommittee, anchor: str = "") -> Response:
    return redirect(url_for(".detail", slug=sub.slug) + anchor)


def _on_plan(sub: Subcommittee, form: Form, change: Callable[[], object], done: str) -> Response:
    """A form on the subcommittee page's plan: refused, its errors are flashed there; accepted,
    the change runs in one unit of work and ``done`` is flashed. Back to the plan either way."""
    if not form.validate_on_submit():
        flash_errors(form)
    else:
        with unit_of_work() as work:
            change()
        if work.ok:
            flash(done, "success")
    return _back(sub, "#plan")


# What the public pages read; their validators are made of these tables' versions.
PAGE_SCOPES = ("subcommittees", "subcommittee_members", "subcommittee_activities", "subcommittee_sessions",
               "milestones", "subcommittee_contacts", "materials", "organizations")


@bp.get("/subcommittees")
def overview() -> Response:
    return shared(lambda: versions.validator("subcommittees", scopes=PAGE_SCOPES), lambda: render_template(
        "subcommittees/overview.html", subcommittees=queries.open_subcommittees(),
        may_propose=access.may_propose(current_user)), last_modified=False)


@bp.get("/subcommittees/<slug>")
def detail(slug: str) -> Response:
    def validator() -> tuple[str, datetime]:
        # Checked first: one a visitor may not see answers 404, never a 304 to a guessed ETag.
        sub = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == slug))
        if sub is None or not access.may_see(current_user, sub):
            abort(404)
        # The plan marks today and the current quarter.
        return versions.validator("subcommittee", sub.id, today_local(), scopes=PAGE_SCOPES)

    def build() -> str:
        sub = _load(slug)
        page = detail_page(sub, current_user, str(get_locale()))
        return render_template(
            "subcommittees/detail.html",
            sub=sub, page=page, tl=page.timeline,
            form=ActionForm() if current_user.is_authenticated else None,
            session_form=SessionForm(fiscal_year=sub.fiscal_year) if page.lead else None,
            milestone_form=MilestoneForm(fiscal_year=sub.fiscal_year) if page.lead else None,
            material_form=MaterialForm() if page.lead else None,
            done_form=DoneForm() if page.lead else None,
        )

    return shared(validator, build, last_modified=False)


# Membership ---------------------------------------------------------------------------------

@bp.post("/subcommittees/<slug>/join")
@login_required
def join(slug: str) -> Response:
    sub = _load(slug)
    require(access.may_join(current_user, sub))
    with unit_of_work() as work:
        membership = operations.request_join(sub, current_user)
    if work.ok:
        flash(_("参加を申請しました。リーダーの承認をお待ちください。") if membership.state is MembershipState.PENDING
              else _("既にメンバーです。"), "success")
    return _back(sub)


@bp.post("/subcommittees/<slug>/leave")
@login_required
def leave(slug: str) -> Any:
    sub = _load(slug)
    membership = queries.membership_of(sub, current_user)
    active = membership is not None and membership.state in (MembershipState.APPROVED, MembershipState.PENDING)
    if active and not is_confirmed():  # leaving needs the lead's approval to be undone: ask first
        requested = membership is not None and membership.state is MembershipState.PENDING
        ahead = len(notifications.sessions_ahead(sub)) if not requested else 0
        return confirmation(
            title=_("参加申請を取り下げます") if requested else _("分科会を退会します"),
            message=(ja_message(_("「%(sub)s」への参加申請を取り下げます。"), sub=sub.name) if requested else
                     ja_message(_("「%(sub)s」を退会します。もう一度参加するにはリーダーの承認が必要です。"
                       "今後の会合 %(n)s 件の予定の取り消しをメールでお送りします。"),
                                plain={"n": ahead},
                                sub=sub.name)),
            action=url_for(".leave", slug=sub.slug), button=_("取り下げる") if requested else _("退会する"),
            back=url_for(".detail", slug=sub.slug), mails=1 if ahead else 0)
    with unit_of_work() as work:
        operations.leave(sub, current_user)
    if work.ok:
        flash(_("分科会を退会しました。"), "info")
    return _back(sub)


MEMBER_ACTIONS = ("approve", "decline", "lead")


def decision_confirmation(membership: SubcommitteeMember, approve: bool, action: str, back: str) -> str:
    """The page that asks before approving or declining a request to join (the lead's button
    and the secretariat's list): the applicant is mailed the decision, which cannot be taken back."""
    who = dict(name=membership.user.name, sub=membership.subcommittee.name)
    return confirmation(
        title=_("参加を承認します") if approve else _("参加申請をお断りします"),
        message=(ja_message(_("%(name)s さんの「%(sub)s」への参加を承認し、本人にメールでお知らせします"
                   "（今後の会合の案内も送ります）。"), **who) if approve else
                 ja_message(_("%(name)s さんの「%(sub)s」への参加申請をお断りし、本人にメールでお知らせします。"
                   "元に戻すことはできません。"), **who)),
        action=action, button=_("承認してメールを送る") if approve else _("お断りしてメールを送る"),
        back=back, mails=1, danger=not approve)


@bp.post("/subcommittees/<slug>/members/<int:member_id>/<action>")
@login_required
def member_action(slug: str, member_id: int, action: str) -> Any:
    sub, membership = _lead_and(slug, SubcommitteeMember, member_id)
    if action not in MEMBER_ACTIONS:
        abort(404)
    if action != "lead" and not is_confirmed():  # the applicant is mailed the decision: ask first
        return decision_confirmation(membership, action == "approve",
                                     url_for(".member_action", slug=sub.slug, member_id=member_id, action=action),
                                     url_for(".detail", slug=sub.slug) + "#members")
    with unit_of_work() as work:
        if action == "lead":
            operations.appoint_lead(membership, current_user)
        else:
            operations.decide(membership, current_user, approve=action == "approve")
    if work.ok:
        flash({"approve": _("参加を承認しました。"), "decline": _("参加申請をお断りしました。"),
               "lead": _("リーダーに任命しました。")}[action], "success")
    return _back(sub, "#members")


# The lead's plan ----------------------------------------------------------------------------

def _confirm_session(sub: Subcommittee, session: SubcommitteeSession | None, form: SessionForm,
                     action: str) -> str | None:
    """The confirmation page when saving the session would mail the members (a new date or link,
    a cancellation), the form's fields carried along; None when it mails nobody or was confirmed."""
    if is_confirmed() or not form.validate_on_submit():
        return None
    values = form.values()
    mails = operations.session_mails(sub, session, values)
    if not mails:
        return None
    title = values.get("title") or (session.title if session else "")
    return confirmation(
        title=_("会合をメンバーにお知らせします"),
        message=ja_message(_("会合「%(title)s」を保存し、メンバー全員に予定（カレンダーの招待・取り消し）を"
                             "メールで送ります。"), title=title),
        action=action, button=_("保存してメールを送る"), back=url_for(".detail", slug=sub.slug) + "#plan",
        mails=mails, carry=True, danger=False)


@bp.post("/subcommittees/<slug>/sessions")
@login_required
def session_add(slug: str) -> Any:
    sub = _lead_of(slug)
    form = SessionForm(fiscal_year=sub.fiscal_year)
    asked = _confirm_session(sub, None, form, url_for(".session_add", slug=sub.slug))
    if asked is not None:
        return asked
    return _on_plan(sub, form, lambda: operations.save_session(sub, None, form.values()),
                    _("会合を追加しました（メンバーにお知らせします）。"))


@bp.route("/subcommittees/<slug>/sessions/<int:session_id>", methods=["GET", "POST"])
@login_required
def session_edit(slug: str, session_id: int) -> Any:
    sub, session = _lead_and(slug, SubcommitteeSession, session_id)
    form = SessionForm(fiscal_year=sub.fiscal_year) if request.method == "POST" else SessionForm.from_model(session)
    asked = _confirm_session(sub, session, form, url_for(".session_edit", slug=sub.slug, session_id=session.id))
    if asked is not None:
        return asked
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            operations.save_session(sub, session, form.values())
        if work.ok:
            flash(_("会合を更新しました。"), "success")
            return _back(sub, "#plan")
    return render_form("subcommittees/session_form.html", form, sub=sub, session=session)


@bp.post("/subcommittees/<slug>/milestones")
@login_required
def milestone_add(slug: str) -> Response:
    sub = _lead_of(slug)
    form = MilestoneForm(fiscal_year=sub.fiscal_year)
    return _on_plan(sub, form, lambda: operations.save_milestone(sub, None, **form.values()),
                    _("マイルストーンを追加しました。"))


@bp.post("/subcommittees/<slug>/milestones/<int:milestone_id>/done")
@login_required
def milestone_done(slug: str, milestone_id: int) -> Response:
    sub, milestone = _lead_and(slug, Milestone, milestone_id)
    form = DoneForm()
    return _on_plan(sub, form, lambda: operations.mark_done(milestone, form.done_on.data),
                    ja_message(_("「%(title)s」を完了にしました。"), title=milestone.title))


@bp.post("/subcommittees/<slug>/milestones/<int:milestone_id>/undone")
@login_required
def milestone_undone(slug: str, milestone_id: int) -> Response:
    sub, milestone = _lead_and(slug, Milestone, milestone_id)
    return _on_plan(sub, ActionForm(), lambda: operations.mark_not_done(milestone),
                    ja_message(_("「%(title)s」の完了を取り消しました。"), title=milestone.title))


@bp.post("/subcommittees/<slug>/materials")
@login_required
def material_upload(slug: str) -> Response:
    sub = _lead_of(slug)
    form = MaterialForm()
    form.program_item_id.choices = [(0, "")]
    upload_from_form(form, subcommittee_id=sub.id)
    return _back(sub, "#materials")


@bp.get("/subcommittees/<slug>/materials/<int:material_id>/delete")
@login_required
def material_delete_confirm(slug: str, material_id: int) -> Any:
    sub, material = _lead_and(slug, Material, material_id)
    return confirmation(
        title=_("資料を削除します"),
        message=ja_message(_("「%(title)s」（%(file)s）を削除します。元に戻すことはできません。"),
                           title=material.title, file=material.filename),
        action=url_for(".material_delete", slug=sub.slug, material_id=material.id), button=_("削除する"),
        back=url_for(".detail", slug=sub.slug) + "#materials", mails=0)


@bp.post("/subcommittees/<slug>/materials/<int:material_id>/delete")
@login_required
def material_delete(slug: str, material_id: int) -> Response:
    sub, material = _lead_and(slug, Material, material_id)
    with unit_of_work():
        material_services.delete_material(material)
    return _back(sub, "#materials")


# Proposals and the dashboard ------------------------------------------------------------------

@bp.route("/subcommittees/propose", methods=["GET", "POST"])
@login_required
def propose() -> Any:
    require(access.may_propose(current_user))
    form = ProposalForm()
    if request.method == "GET":
        form.fiscal_year.data = fiscal_year(today_local())
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            operations.propose(current_user, form.values())
        if work.ok:
            flash(_("分科会を提案しました。事務局の確認結果をメールでお知らせします。"), "success")
            return redirect(url_for(".dashboard"))
    return render_form("subcommittees/propose.html", form)


@bp.route("/subcommittees/proposals/<int:sub_id>/edit", methods=["GET", "POST"])
@login_required
def revise(sub_id: int) -> Any:
    sub = get_or_404(Subcommittee, sub_id, visible=lambda s, user: access.is_proposer(user, s))
    form = ProposalForm() if request.method == "POST" else ProposalForm.from_model(sub)
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            operations.revise(sub, current_user, form.values())
        if work.ok:
            flash(_("修正した提案を事務局に送りました。"), "success")
            return redirect(url_for(".dashboard"))
    return render_form("subcommittees/propose.html", form, sub=sub)


@bp.get("/account/subcommittees")
@login_required
def dashboard() -> str:
    return render_template("subcommittees/dashboard.html", views=queries.dashboard(current_user),
                           requests=queries.requests_of(current_user),
                           proposals=queries.proposals_of(current_user), may_propose=access.may_propose(current_user))
