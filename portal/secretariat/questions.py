"""Back office for Q&A: moderation during the seminar, answers and FAQ afterwards, CSV."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import access
from portal.accounts.models import User
from portal.audit.services import record
from portal.core.db import db
from portal.qa import services
from portal.qa.forms import AnswerForm
from portal.qa.models import Question
from portal.secretariat.forms import ActionForm
from portal.secretariat.views import bp
from portal.seminars.models import Seminar
from portal.web.client import client_address
from portal.web.responses import csv_response


def _back(question: Question):
    from urllib.parse import urlsplit

    referrer = request.referrer
    if referrer and urlsplit(referrer).netloc == request.host:
        return redirect(referrer)
    return redirect(url_for("qa.questions", seminar_id=question.seminar_id))


@bp.post("/questions/<int:question_id>/answered")
def question_answered(question_id: int):
    question = access.get_or_404(Question, question_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.mark_answered_live(question)
    db.session.commit()
    return _back(question)


@bp.post("/questions/<int:question_id>/hide")
def question_hide(question_id: int):
    question = access.get_or_404(Question, question_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.hide(question, current_user)
    db.session.commit()
    flash(_("質問を非表示にしました（質問者にお知らせします）。"), "info")
    return _back(question)


@bp.get("/seminars/<int:seminar_id>/questions")
def questions_admin(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    questions = list(db.session.scalars(
        select(Question).where(Question.seminar_id == seminar.id)
        .options(selectinload(Question.author).selectinload(User.organization), selectinload(Question.program_item))
        .order_by(Question.created_at, Question.id)
    ))
    return render_template("secretariat/questions.html", seminar=seminar, questions=questions,
                           votes=services.votes_by_question(seminar.id), form=AnswerForm())


@bp.post("/questions/<int:question_id>/answer")
def question_answer(question_id: int):
    question = access.get_or_404(Question, question_id)
    form = AnswerForm()
    if form.validate_on_submit():
        services.answer(question, form.answer.data, current_user, publish=form.publish.data)
        db.session.commit()
        flash(_("回答を保存し、質問者にメールでお送りします。"), "success")
    else:
        flash(_("回答を入力してください。"), "error")
    return redirect(url_for(".questions_admin", seminar_id=question.seminar_id) + f"#q{question.id}")


@bp.get("/seminars/<int:seminar_id>/questions.csv")
def questions_csv(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    record("export.questions", actor_id=current_user.id, subject=f"seminar:{seminar.id}", ip=client_address())
    db.session.commit()
    return csv_response(services.questions_csv(seminar), f"questions-{seminar.key}")
