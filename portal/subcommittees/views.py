"""Subcommittee pages: overview and detail, proposals, membership, the lead's plan."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal import access
from portal.accounts.access import is_secretariat
from portal.core.dates import Precision, fiscal_year, to_local, today_local
from portal.core.db import db
from portal.materials import services as material_services
from portal.materials.forms import MaterialForm
from portal.materials.models import Material
from portal.materials.views import upload_from_form
from portal.subcommittees import services
from portal.subcommittees.forms import DoneForm, MilestoneForm, ProposalForm, SessionForm
from portal.subcommittees.models import (
    Activity,
    ContactPerson,
    MembershipState,
    Milestone,
    SessionStatus,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
    SubcommitteeStatus,
)

bp = Blueprint("subcommittees", __name__)


def _load(slug: str) -> Subcommittee:
    """404 for a missing subcommittee, or one not active, for anyone but the secretariat."""
    sub = services.get_for_page(slug)
    if sub is None or (sub.status is not SubcommitteeStatus.ACTIVE and not is_secretariat(current_user)):
        abort(404)
    return sub


def _back(sub: Subcommittee, anchor: str = ""):
    return redirect(url_for(".detail", slug=sub.slug) + anchor)


@bp.get("/subcommittees")
def overview():
    return render_template("subcommittees/overview.html", subcommittees=services.open_subcommittees())


@bp.get("/subcommittees/<slug>")
def detail(slug: str):
    sub = _load(slug)
    membership = services.membership_of(sub, current_user)
    show_members = access.can("see_subcommittee_members", sub)
    lead = access.can("lead_subcommittee", sub)
    return render_template(
        "subcommittees/detail.html",
        sub=sub, membership=membership, is_member=services.is_member(sub, current_user),
        lead=lead, members=services.members(sub) if show_members else [],
        pending=services.members(sub, (MembershipState.PENDING,)) if lead else [],
        quarter_of=services.quarter_of, quarters=services.QUARTER_LABELS, tl=services.timeline(sub),
        form=FlaskForm() if current_user.is_authenticated else None,
        session_form=SessionForm(fiscal_year=sub.fiscal_year) if lead else None,
        milestone_form=MilestoneForm() if lead else None,
        material_form=MaterialForm() if lead else None,
        done_form=DoneForm() if lead else None,
    )


# Membership ---------------------------------------------------------------------------------

@bp.post("/subcommittees/<slug>/join")
@login_required
def join(slug: str):
    sub = _load(slug)
    access.require("join_subcommittee", sub)  # observers read, but do not join
    try:
        membership = services.request_join(sub, current_user)
    except services.SubcommitteeError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(sub)
    db.session.commit()
    flash(_("参加を申請しました。リーダーの承認をお待ちください。") if membership.state is MembershipState.PENDING
          else _("既にメンバーです。"), "success")
    return _back(sub)


@bp.post("/subcommittees/<slug>/leave")
@login_required
def leave(slug: str):
    sub = _load(slug)
    try:
        services.leave(sub, current_user)
    except services.SubcommitteeError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("分科会を退会しました。"), "info")
    return _back(sub)


def _lead_and(slug: str, model: type, ident: int) -> tuple[Subcommittee, Any]:
    """For a lead's action on one of the subcommittee's own records: the subcommittee (404),
    the lead's right (403), then the record, 404 unless it belongs to this subcommittee."""
    sub = _load(slug)
    access.require("lead_subcommittee", sub)
    obj = access.get_or_404(model, ident)
    if obj.subcommittee_id != sub.id:
        abort(404)
    return sub, obj


@bp.post("/subcommittees/<slug>/members/<int:member_id>/<action>")
@login_required
def member_action(slug: str, member_id: int, action: str):
    sub, membership = _lead_and(slug, SubcommitteeMember, member_id)
    try:
        if action == "approve":
            services.decide(membership, current_user, True)
        elif action == "decline":
            services.decide(membership, current_user, False)
        elif action == "lead":
            services.appoint_lead(membership, current_user)
        else:
            abort(404)
    except services.SubcommitteeError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash({"approve": _("参加を承認しました。"), "decline": _("参加申請をお断りしました。"),
               "lead": _("リーダーに任命しました。")}[action], "success")
    return _back(sub, "#members")


# The lead's plan ----------------------------------------------------------------------------

def _session_values(form: SessionForm) -> dict:
    return services.session_values(
        form.number.data, form.title.data.strip(), Precision(form.precision.data), form.parsed_date,
        form.start.data, form.end.data, (form.join_url.data or "").strip() or None, SessionStatus(form.status.data))


def _form_errors(form: FlaskForm) -> None:
    for errors in form.errors.values():
        for message in errors:
            flash(str(message), "error")  # validator messages may be lazy strings


@bp.post("/subcommittees/<slug>/sessions")
@login_required
def session_add(slug: str):
    sub = _load(slug)
    access.require("lead_subcommittee", sub)
    form = SessionForm(fiscal_year=sub.fiscal_year)
    if form.validate_on_submit():
        try:
            services.save_session(sub, None, _session_values(form))
        except services.SubcommitteeError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("会合を追加しました（メンバーにお知らせします）。"), "success")
    else:
        _form_errors(form)
    return _back(sub, "#plan")


@bp.route("/subcommittees/<slug>/sessions/<int:session_id>", methods=["GET", "POST"])
@login_required
def session_edit(slug: str, session_id: int):
    sub, session = _lead_and(slug, SubcommitteeSession, session_id)
    form = SessionForm(fiscal_year=sub.fiscal_year)
    if request.method == "GET":
        form.number.data, form.title.data = session.number, session.title
        form.precision.data = session.precision.value
        form.date.data = (session.date_on.isoformat() if session.precision is Precision.DAY
                          else session.date_on.strftime("%Y-%m") if session.date_on else "")
        form.start.data = to_local(session.starts_at).time() if session.starts_at else None
        form.end.data = to_local(session.ends_at).time() if session.ends_at else None
        form.join_url.data, form.status.data = session.join_url, session.status.value
    elif form.validate_on_submit():
        if any(s.number == form.number.data and s.id != session.id for s in sub.sessions):
            form.number.errors = [*form.number.errors, _("第%(number)s回の会合は既にあります。", number=form.number.data)]
        else:
            services.save_session(sub, session, _session_values(form))
            db.session.commit()
            flash(_("会合を更新しました。"), "success")
            return _back(sub, "#plan")
    return render_template("subcommittees/session_form.html", sub=sub, session=session, form=form), 422 if form.errors else 200


@bp.post("/subcommittees/<slug>/milestones")
@login_required
def milestone_add(slug: str):
    sub = _load(slug)
    access.require("lead_subcommittee", sub)
    form = MilestoneForm()
    if form.validate_on_submit():
        due = getattr(form, "parsed_due", None) or services.quarter_bounds(sub.fiscal_year, int(form.quarter.data))[1]
        services.save_milestone(sub, None, title=form.title.data.strip(), due_on=due)
        db.session.commit()
        flash(_("マイルストーンを追加しました。"), "success")
    else:
        _form_errors(form)
    return _back(sub, "#plan")


@bp.post("/subcommittees/<slug>/milestones/<int:milestone_id>/done")
@login_required
def milestone_done(slug: str, milestone_id: int):
    sub, milestone = _lead_and(slug, Milestone, milestone_id)
    form = DoneForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(sub, "#plan")
    services.mark_done(milestone, form.parsed_done_on)
    db.session.commit()
    flash(_("「%(title)s」を完了にしました。", title=milestone.title), "success")
    return _back(sub, "#plan")


@bp.post("/subcommittees/<slug>/materials")
@login_required
def material_upload(slug: str):
    sub = _load(slug)
    access.require("lead_subcommittee", sub)
    form = MaterialForm()
    form.program_item_id.choices = [(0, "")]
    upload_from_form(form, subcommittee_id=sub.id)
    return _back(sub, "#materials")


@bp.post("/subcommittees/<slug>/materials/<int:material_id>/delete")
@login_required
def material_delete(slug: str, material_id: int):
    sub, material = _lead_and(slug, Material, material_id)
    material_services.delete_material(material)
    db.session.commit()
    return _back(sub, "#materials")


# Proposals and the dashboard ------------------------------------------------------------------

def _proposal_values(form: ProposalForm) -> dict:
    return {
        "name": form.name.data.strip(), "fiscal_year": form.fiscal_year.data,
        "purpose": form.purpose.data.strip(), "main_theme": (form.main_theme.data or "").strip() or None,
        "issues": [x.strip() for x in form.issues.data.splitlines() if x.strip()],
        "outcomes": [x.strip() for x in form.outcomes.data.splitlines() if x.strip()],
        "fields": list(form.fields.data), "fields_other": (form.fields_other.data or "").strip() or None,
        "activities": [Activity(position=i, **a) for i, a in enumerate(form.parsed_activities)],
        "contacts": [ContactPerson(position=i, **c) for i, c in enumerate(form.parsed_contacts)],
    }


@bp.route("/subcommittees/propose", methods=["GET", "POST"])
@login_required
def propose():
    access.require("propose_subcommittee")
    form = ProposalForm()
    if request.method == "GET":
        form.fiscal_year.data = fiscal_year(today_local())
    if form.validate_on_submit():
        try:
            services.propose(current_user, _proposal_values(form))
        except services.SubcommitteeError as exc:
            db.session.rollback()
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("分科会を提案しました。事務局の確認結果をメールでお知らせします。"), "success")
            return redirect(url_for(".dashboard"))
    return render_template("subcommittees/propose.html", form=form), 422 if form.errors else 200


@bp.route("/subcommittees/proposals/<int:sub_id>/edit", methods=["GET", "POST"])
@login_required
def revise(sub_id: int):
    sub = access.get_or_404(Subcommittee, sub_id)
    if sub.proposed_by_id != current_user.id:
        abort(404)
    form = ProposalForm(obj=None)
    if request.method == "GET":
        form.name.data, form.fiscal_year.data, form.purpose.data = sub.name, sub.fiscal_year, sub.purpose
        form.main_theme.data = sub.main_theme
        form.issues.data, form.outcomes.data = "\n".join(sub.issues), "\n".join(sub.outcomes)
        form.fields.data, form.fields_other.data = sub.fields, sub.fields_other
        form.activities.data = "\n".join(
            " / ".join([a.label, a.title] + ([f"{a.starts_on:%Y-%m}", f"{(a.ends_on or a.starts_on):%Y-%m}"] if a.starts_on else []))
            for a in sub.activities)
        form.contacts.data = "\n".join(" / ".join(x or "" for x in (c.name, c.organization, c.department, c.email)) for c in sub.contacts)
    elif form.validate_on_submit():
        try:
            services.revise(sub, current_user, _proposal_values(form))
        except services.SubcommitteeError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("修正した提案を事務局に送りました。"), "success")
            return redirect(url_for(".dashboard"))
    return render_template("subcommittees/propose.html", form=form, sub=sub), 422 if form.errors else 200


@bp.get("/account/subcommittees")
@login_required
def dashboard():
    return render_template("subcommittees/dashboard.html", views=services.dashboard(current_user),
                           proposals=services.proposals_of(current_user))
