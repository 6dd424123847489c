"""Back office for subcommittees: reviewing proposals."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import access
from portal.core.db import db
from portal.secretariat.views import bp
from portal.subcommittees import services
from portal.subcommittees.forms import ReviewForm
from portal.subcommittees.models import Subcommittee


@bp.get("/subcommittees")
def subcommittees():
    everything = list(db.session.scalars(select(Subcommittee).order_by(Subcommittee.created_at.desc())))
    return render_template("secretariat/subcommittees.html", proposals=services.proposals_to_review(),
                           subcommittees=everything)


@bp.route("/subcommittees/<int:sub_id>", methods=["GET", "POST"])
def subcommittee_review(sub_id: int):
    sub = access.get_or_404(Subcommittee, sub_id)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.review(sub, current_user, form.decision.data, form.note.data or "")
        except services.SubcommitteeError as exc:
            db.session.rollback()
            form.note.errors = [*form.note.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("提案を処理しました（提案者にメールでお知らせします）。"), "success")
            return redirect(url_for(".subcommittees"))
    return render_template("secretariat/subcommittee_review.html", sub=sub, form=form), 422 if form.errors else 200
