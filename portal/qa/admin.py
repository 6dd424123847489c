"""Back office for Q&A, nested under the secretariat's blueprint (its guard covers these
routes; URLs under /secretariat): open and close Q&A, moderation during the seminar, answers
and FAQ afterwards, CSV."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.audit.services import record
from portal.qa import exports, operations, queries
from portal.qa.forms import AnswerForm, ApprovalForm
from portal.qa.models import Question
from portal.seminars.models import Seminar
from portal.web.access import get_or_404
from portal.web.client import client_address
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import ActionForm, submitted
from portal.web.lang import ja
from portal.web.redirects import back_or, referrer_path, safe_next
from portal.web.responses import csv_response
from portal.web.uow import unit_of_work

bp = Blueprint("qa", __name__)


@bp.post("/seminars/<int:seminar_id>/qa/open")
def open_qa(seminar_id: int):
    seminar = get_or_404(Seminar, seminar_id)
    with unit_of_work():
        operations.open_qa(seminar)
    flash(_("Q&Aを開始しました。"), "success")
    return back_or(url_for("secretariat.seminars.manage", seminar_id=seminar.id))


@bp.get("/seminars/<int:seminar_id>/qa/close")
def close_qa_confirm(seminar_id: int):
    """Ask before closing (it cannot be undone): how many questions go to the mailbox."""
    seminar = get_or_404(Seminar, seminar_id)
    back = safe_next(request.args.get("next")) or url_for("secretariat.seminars.manage", seminar_id=seminar.id)
    pending = len(queries.unrouted(seminar))
    return confirmation(
        title=_("Q&Aを終了します"),
        message=_("終了すると質問の受付を締め切り、当日回答していない質問 %(n)s 件を"
                  "事務局あてに1通のメールでまとめて送ります。元に戻すことはできません。", n=pending),
        action=url_for(".close_qa", seminar_id=seminar.id), button=_("Q&Aを終了する"), back=back,
        mails=1 if pending else 0, keep={"next": back})


@bp.post("/seminars/<int:seminar_id>/qa/close")
def close_qa(seminar_id: int):
    seminar = get_or_404(Seminar, seminar_id)
    with unit_of_work():
        routed = operations.close_qa(seminar, current_user)
    flash(_("Q&Aを終了しました。未回答の質問 %(count)s 件を事務局宛てにまとめて送ります。", count=routed) if routed
          else _("Q&Aを終了しました（事務局へ送る未回答の質問はありません）。"), "info")
    back = safe_next(request.form.get("next"))  # from the confirmation page: where it was asked
    return redirect(back) if back else back_or(url_for("secretariat.seminars.manage", seminar_id=seminar.id))


@bp.post("/questions/<int:question_id>/answered")
def answered(question_id: int):
    question = get_or_404(Question, question_id)
    submitted(ActionForm())
    with unit_of_work():
        operations.mark_answered_live(question)
    return back_or(url_for("qa.questions", seminar_id=question.seminar_id))


@bp.post("/questions/<int:question_id>/answering")
def answering(question_id: int):
    """Pin the question as 回答中 on everyone's list and on the presenter screen."""
    question = get_or_404(Question, question_id)
    submitted(ActionForm())
    with unit_of_work():
        operations.mark_answering(question)
    return back_or(url_for("qa.questions", seminar_id=question.seminar_id))


@bp.post("/questions/<int:question_id>/approve")
def approve(question_id: int):
    question = get_or_404(Question, question_id)
    submitted(ActionForm())
    with unit_of_work():
        operations.approve(question, current_user)
    return back_or(url_for("qa.questions", seminar_id=question.seminar_id))


@bp.post("/seminars/<int:seminar_id>/qa/approval")
def approval(seminar_id: int):
    """Turn approve-before-shown on (``required`` checked) or off for the seminar's new questions."""
    seminar = get_or_404(Seminar, seminar_id)
    required = bool(submitted(ApprovalForm()).required.data)
    with unit_of_work():
        operations.set_approval(seminar, required)
    flash(_("新しい質問は事務局が承認してから表示します。") if required
          else _("新しい質問はすぐに表示します。"), "info")
    return back_or(url_for("qa.questions", seminar_id=seminar.id))


@bp.post("/questions/<int:question_id>/hide")
def hide(question_id: int):
    """Asked first (it mails the asker and cannot be undone): the list's button answers the
    confirmation page, whose form posts here again with ``confirmed``."""
    question = get_or_404(Question, question_id)
    submitted(ActionForm())
    back = (safe_next(request.form.get("next")) or referrer_path()
            or url_for("qa.questions", seminar_id=question.seminar_id))
    if not is_confirmed():
        return confirmation(
            title=_("質問を非表示にします"),
            message=_("この質問を一覧から非表示にし、質問者にメールでお知らせします。元に戻すことはできません。"),
            details=[ja(question.body)], action=url_for(".hide", question_id=question.id), button=_("非表示にする"),
            back=back, mails=1, keep={"next": back})
    with unit_of_work():
        operations.hide(question, current_user)
    flash(_("質問を非表示にしました（質問者にお知らせします）。"), "info")
    return redirect(back)


@bp.get("/seminars/<int:seminar_id>/questions")
def questions(seminar_id: int):
    seminar = get_or_404(Seminar, seminar_id)
    return render_template("secretariat/questions.html", seminar=seminar,
                           questions=queries.for_back_office(seminar, current_user), form=AnswerForm())


@bp.post("/questions/<int:question_id>/answer")
def answer(question_id: int):
    question = get_or_404(Question, question_id)
    form = AnswerForm()
    if form.validate_on_submit():
        with unit_of_work() as work:
            operations.answer(question, form.answer.data, current_user, publish=form.publish.data)
        if work.ok:
            flash(_("回答を保存し、質問者にメールでお送りします。"), "success")
    else:
        flash(_("回答を入力してください。"), "error")
    return redirect(url_for(".questions", seminar_id=question.seminar_id) + f"#q{question.id}")


@bp.get("/seminars/<int:seminar_id>/questions.csv")
def questions_csv(seminar_id: int):
    seminar = get_or_404(Seminar, seminar_id)
    with unit_of_work():  # the export is on the audit log before any data leaves
        record("export.questions", actor_id=current_user.id, subject=f"seminar:{seminar.id}", ip=client_address())
    return csv_response(exports.questions_csv(seminar), f"questions-{seminar.key}")
