"""Q&A pages: attendees ask and vote; the secretariat moderates on the same list."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal import access
from portal.accounts.access import is_secretariat
from portal.core.dates import format_time
from portal.core.db import db
from portal.extensions import limiter
from portal.qa import services
from portal.qa.forms import QuestionForm
from portal.qa.models import Question
from portal.secretariat.forms import ActionForm
from portal.seminars.models import Seminar, SeminarStatus

bp = Blueprint("qa", __name__)


def _seminar_for_qa(seminar_id: int) -> Seminar:
    """404 for a missing or unpublished seminar; 403 for anyone but its attendees and the secretariat."""
    seminar = access.get_or_404(Seminar, seminar_id)
    if seminar.status is SeminarStatus.DRAFT and not is_secretariat(current_user):
        abort(404)
    access.require("take_part_in_qa", seminar)
    return seminar


def _form(seminar: Seminar) -> QuestionForm:
    form = QuestionForm()
    form.program_item.choices = [(0, _("（指定なし）"))] + [
        (item.id, " ".join(x for x in (format_time(item.start_time), item.title,
                                       "／".join(p.display for p in item.presenters)) if x))
        for item in seminar.program
    ]
    return form


def _render(seminar: Seminar, form: QuestionForm, status: int = 200):
    sort = "time" if request.args.get("sort") == "time" else "votes"
    secretariat = is_secretariat(current_user)
    questions = services.listing(seminar, current_user, sort=sort, secretariat=secretariat)
    template = "qa/_list.html" if request.args.get("fragment") else "qa/questions.html"
    return render_template(template, seminar=seminar, form=form, questions=questions, sort=sort,
                           secretariat=secretariat, action_form=ActionForm()), status


@bp.get("/seminars/<int:seminar_id>/questions")
@login_required
def questions(seminar_id: int):
    seminar = _seminar_for_qa(seminar_id)
    return _render(seminar, _form(seminar))


@bp.post("/seminars/<int:seminar_id>/questions")
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_QUESTIONS"],
               key_func=lambda: f"user:{current_user.get_id()}")
def ask(seminar_id: int):
    seminar = _seminar_for_qa(seminar_id)
    form = _form(seminar)
    if form.validate_on_submit():
        try:
            question = services.ask(seminar, current_user, form.body.data, anonymous=form.anonymous.data,
                                    program_item_id=form.program_item.data or None)
        except services.QuestionRefused as exc:
            db.session.rollback()
            form.body.errors = [*form.body.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("追加の質問を事務局にお送りしました。") if question.followup else _("質問を送信しました。"), "success")
            return redirect(url_for(".questions", seminar_id=seminar.id))
    return _render(seminar, form, 422)


@bp.post("/questions/<int:question_id>/vote")
@login_required
def vote(question_id: int):
    question = access.get_or_404(Question, question_id)
    seminar = _seminar_for_qa(question.seminar_id)
    try:
        added = services.vote(question, current_user)
    except services.QuestionRefused as exc:
        db.session.rollback()
        if request.accept_mimetypes.best == "application/json":
            return jsonify({"error": str(exc)}), 409
        flash(str(exc), "error")
        return redirect(url_for(".questions", seminar_id=seminar.id))
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        votes = services.votes_by_question(seminar.id).get(question.id, 0)
        return jsonify({"question": question.id, "votes": votes, "added": added})
    return redirect(url_for(".questions", seminar_id=seminar.id, sort=request.args.get("sort")) + f"#q{question.id}")
