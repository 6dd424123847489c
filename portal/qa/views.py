"""Q&A pages: attendees ask and vote; the secretariat moderates on the same list."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    get_flashed_messages,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.core.dates import format_time
from portal.extensions import limiter
from portal.qa import access, operations, queries
from portal.qa.forms import QuestionForm
from portal.qa.models import Question
from portal.seminars.access import is_visible
from portal.seminars.models import Seminar
from portal.web import access as web_access
from portal.web.forms import ActionForm
from portal.web.uow import render_form, unit_of_work

bp = Blueprint("qa", __name__)


def _seminar_for_qa(seminar_id: int) -> Seminar:
    """404 for a missing or draft seminar (but for the secretariat); 403 for anyone but its
    attendees and the secretariat."""
    seminar = web_access.get_or_404(Seminar, seminar_id, visible=is_visible)
    web_access.require(access.may_take_part(current_user, seminar))
    return seminar


def _form(seminar: Seminar) -> QuestionForm:
    form = QuestionForm()
    form.program_item.choices = [(0, _("（指定なし）"))] + [
        (item.id, " ".join(x for x in (format_time(item.start_time), item.title,
                                       "／".join(p.display for p in item.presenters)) if x))
        for item in seminar.program
    ]
    return form


def _render(seminar: Seminar, form: QuestionForm):
    sort = "time" if request.args.get("sort") == "time" else "votes"
    template = "qa/_list.html" if request.args.get("fragment") else "qa/questions.html"
    return render_form(template, form, seminar=seminar, sort=sort,
                       questions=queries.listing(seminar, current_user, sort=sort),
                       moderator=access.may_moderate(current_user, seminar), action_form=ActionForm())


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
        with unit_of_work(form) as work:
            question = operations.ask(seminar, current_user, form.body.data, anonymous=form.anonymous.data,
                                      program_item_id=form.program_item.data or None)
        if work.ok:
            flash(_("追加の質問を事務局にお送りしました。") if question.followup else _("質問を送信しました。"),
                  "success")
            return redirect(url_for(".questions", seminar_id=seminar.id))
    return _render(seminar, form)


@bp.post("/questions/<int:question_id>/vote")
@login_required
def vote(question_id: int):
    question = web_access.get_or_404(Question, question_id)
    seminar = _seminar_for_qa(question.seminar_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    with unit_of_work() as work:
        added = operations.vote(question, current_user)
    if wants_json:
        if not work.ok:
            get_flashed_messages()  # the JSON answer carries the refusal, not the next page
            return jsonify({"error": str(work.error)}), 409
        return jsonify({"question": question.id, "votes": queries.votes_of(question), "added": added})
    if not work.ok:
        return redirect(url_for(".questions", seminar_id=seminar.id))
    return redirect(url_for(".questions", seminar_id=seminar.id, sort=request.args.get("sort")) + f"#q{question.id}")
