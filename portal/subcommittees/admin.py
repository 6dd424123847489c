"""Back office for subcommittees (/secretariat/subcommittees…): reviewing proposals.

Nested under the secretariat's blueprint (registered in ``portal.secretariat.views``), whose one
guard lets only the secretariat in.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.subcommittees import operations, queries
from portal.subcommittees.forms import ReviewForm
from portal.subcommittees.models import Subcommittee, SubcommitteeMember
from portal.subcommittees.views import decision_confirmation
from portal.web.access import get_or_404
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import ActionForm, submitted
from portal.web.lang import ja_message
from portal.web.uow import render_form, unit_of_work

bp = Blueprint("subcommittees", __name__, url_prefix="/subcommittees")


@bp.get("")
def index() -> str:
    return render_template("secretariat/subcommittees.html", proposals=queries.proposals_to_review(),
                           subcommittees=queries.all_subcommittees())


@bp.route("/<int:sub_id>", methods=["GET", "POST"])
def review(sub_id: int) -> Any:
    sub = get_or_404(Subcommittee, sub_id)
    form = ReviewForm()
    if form.validate_on_submit() and not is_confirmed():  # final, and the proposer is mailed: ask first
        decision = {c[0]: c[1] for c in form.decision.iter_choices()}.get(form.decision.data, form.decision.data)
        return confirmation(
            title=_("提案への判断を送ります"),
            message=ja_message(_("「%(sub)s」の提案を「%(decision)s」とし、提案者にメールでお知らせします。"
                                 "送った判断は取り消せません。"), plain={"decision": decision}, sub=sub.name),
            action=url_for(".review", sub_id=sub.id), button=_("決定してメールを送る"),
            back=url_for(".review", sub_id=sub.id), mails=1 if sub.proposed_by_id else 0, carry=True,
            danger=form.decision.data == "reject")
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            operations.review(sub, current_user, form.decision.data, form.note.data or "")
        if work.ok:
            flash(_("提案を処理しました（提案者にメールでお知らせします）。"), "success")
            return redirect(url_for(".index"))
    return render_form("secretariat/subcommittee_review.html", form, sub=sub)


@bp.get("/requests")
def requests() -> str:
    """Requests to join, across subcommittees: where the secretariat's mail points."""
    return render_template("secretariat/subcommittee_requests.html", pending=queries.pending_requests(),
                           form=ActionForm())


@bp.post("/requests/<int:member_id>/<any(approve, decline):action>")
def decide_request(member_id: int, action: str) -> Any:
    membership = get_or_404(SubcommitteeMember, member_id)
    submitted(ActionForm())
    if not is_confirmed():  # the applicant is mailed the decision: ask first
        return decision_confirmation(membership, action == "approve",
                                     url_for(".decide_request", member_id=member_id, action=action),
                                     url_for(".requests"))
    with unit_of_work() as work:
        operations.decide(membership, current_user, approve=action == "approve")
    if work.ok:
        flash(_("参加を承認しました。") if action == "approve" else _("参加申請をお断りしました。"), "success")
    return redirect(url_for(".requests"))
