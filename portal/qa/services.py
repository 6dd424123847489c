"""Q&A rules: who may ask and vote, moderation, and routing to the secretariat mailbox.

Routing is exactly once by construction: closing Q&A locks the seminar, takes every question
not answered live, not hidden and not yet routed, and in the same transaction writes one digest
to the outbox and stamps each question with it. A second close finds nothing left to route; a
crash rolls back both; a mail outage only delays the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.audit.services import record
from portal.core.csv import to_csv
from portal.core.dates import to_local
from portal.core.db import db, utcnow
from portal.mail.services import enqueue
from portal.qa.models import BODY_MAX, Question, QuestionState, QuestionVote
from portal.seminars.models import Registration, RegistrationState, Seminar
from portal.seminars.notifications import seminar_title
from portal.seminars.registrations import lock_seminar
from portal.web.urls import external_url


class QuestionRefused(Exception):
    """The message says why, in the person's words."""


def is_attendee(seminar: Seminar, user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return db.session.scalar(
        select(func.count()).select_from(Registration).where(
            Registration.seminar_id == seminar.id, Registration.user_id == user.id,
            Registration.state == RegistrationState.REGISTERED)
    ) > 0


def mailbox(seminar: Seminar) -> str:
    return seminar.mailbox or current_app.config["SECRETARIAT_EMAIL"]


def check_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise QuestionRefused(_l("質問を入力してください。"))
    if len(body) > BODY_MAX:
        raise QuestionRefused(_l("質問は%(max)s文字以内で入力してください（現在 %(length)s 文字）。", max=BODY_MAX, length=len(body)))
    return body


def ask(seminar: Seminar, user: User, body: str, *, anonymous: bool = False,
        program_item_id: int | None = None) -> Question:
    """Ask during the seminar (Q&A open), or send a follow-up after it closed.

    A follow-up goes to the mailbox at once, as its own message.
    """
    body = check_body(body)
    # Take turns with close_qa: a question is either in the closing digest or a follow-up.
    lock_seminar(seminar.id)
    db.session.refresh(seminar)
    item = None
    if program_item_id:
        item = next((i for i in seminar.program if i.id == program_item_id), None)
        if item is None:
            raise QuestionRefused(_l("対象のプログラム項目が見つかりません。"))
    followup = not seminar.qa_open
    if followup and seminar.qa_closed_at is None:
        raise QuestionRefused(_l("このセミナーのQ&Aはまだ始まっていません。"))
    question = Question(seminar_id=seminar.id, author_id=user.id, body=body, anonymous=anonymous,
                        program_item_id=item.id if item else None, followup=followup)
    db.session.add(question)
    db.session.flush()
    if followup:
        _route([question], seminar, kind="qa.followup",
               subject=f"【Q&A追加質問】{seminar_title(seminar)}")
    return question


def vote(question: Question, user: User) -> bool:
    """Up-vote once per account; True when this call added the vote."""
    if question.state is QuestionState.HIDDEN:
        raise QuestionRefused(_l("この質問には投票できません。"))
    try:
        with db.session.begin_nested():
            db.session.add(QuestionVote(question_id=question.id, user_id=user.id))
    except IntegrityError:
        return False  # already voted: nothing changes
    return True


def votes_by_question(seminar_id: int) -> dict[int, int]:
    rows = db.session.execute(
        select(QuestionVote.question_id, func.count())
        .join(Question, Question.id == QuestionVote.question_id)
        .where(Question.seminar_id == seminar_id)
        .group_by(QuestionVote.question_id)
    )
    return dict(rows.all())


@dataclass
class ListedQuestion:
    question: Question
    votes: int
    voted: bool
    show_name: bool

    @property
    def author_label(self) -> str:
        if not self.show_name:
            return gettext("匿名")
        author = self.question.author
        org = f"（{author.organization.name}）" if author.organization else ""
        return f"{author.name}{org}"


def listing(seminar: Seminar, viewer: User, *, sort: str = "votes", secretariat: bool = False) -> list[ListedQuestion]:
    """Questions as this viewer may see them: hidden ones only for the secretariat and the asker."""
    questions = list(db.session.scalars(
        select(Question).where(Question.seminar_id == seminar.id, Question.followup.is_(False))
        .options(selectinload(Question.author).selectinload(User.organization),
                 selectinload(Question.program_item))
        .order_by(Question.created_at, Question.id)
    ))
    votes = votes_by_question(seminar.id)
    mine = set(db.session.scalars(
        select(QuestionVote.question_id).join(Question, Question.id == QuestionVote.question_id)
        .where(Question.seminar_id == seminar.id, QuestionVote.user_id == viewer.id)
    ))
    listed = [
        ListedQuestion(q, votes.get(q.id, 0), q.id in mine,
                       show_name=secretariat or not q.anonymous or q.author_id == viewer.id)
        for q in questions
        if secretariat or q.state is not QuestionState.HIDDEN or q.author_id == viewer.id
    ]
    if sort == "votes":
        listed.sort(key=lambda x: (-x.votes, x.question.created_at, x.question.id))
    return listed


def mark_answered_live(question: Question) -> None:
    if question.state is QuestionState.OPEN:
        question.state = QuestionState.ANSWERED_LIVE
        question.answered_live_at = utcnow()


def hide(question: Question, by: User) -> None:
    """Hide an inappropriate question; the asker is told. Nothing of it is edited."""
    if question.state is QuestionState.HIDDEN:
        return
    question.state = QuestionState.HIDDEN
    question.hidden_at = utcnow()
    record("qa.hidden", actor_id=by.id, subject=f"question:{question.id}")
    enqueue(
        question.author.email,
        f"【官民連携プラットフォーム】ご質問の非表示について：{seminar_title(question.seminar)}",
        render_template("mail/question_hidden.txt", question=question),
        kind="qa.hidden",
    )


def open_qa(seminar: Seminar) -> None:
    seminar.qa_open = True


def close_qa(seminar: Seminar, by: User | None = None) -> int:
    """Close Q&A and route every question not answered live, not hidden, not yet routed to the
    mailbox in one digest. Returns how many questions the digest holds (0: no digest)."""
    lock_seminar(seminar.id)
    db.session.refresh(seminar)
    seminar.qa_open = False
    seminar.qa_closed_at = utcnow()
    pending = list(db.session.scalars(
        select(Question).where(
            Question.seminar_id == seminar.id, Question.state == QuestionState.OPEN,
            Question.routed_at.is_(None), Question.followup.is_(False))
        .options(selectinload(Question.author).selectinload(User.organization),
                 selectinload(Question.program_item))
        .order_by(Question.created_at, Question.id)
    ))
    if pending:
        _route(pending, seminar, kind="qa.digest",
               subject=f"【Q&A未回答の質問 {len(pending)}件】{seminar_title(seminar)}")
    record("qa.closed", actor_id=by.id if by else None, subject=f"seminar:{seminar.id}",
           details={"routed": len(pending)})
    return len(pending)


def _route(questions: list[Question], seminar: Seminar, *, kind: str, subject: str) -> None:
    votes = votes_by_question(seminar.id)
    now = utcnow()
    message = enqueue(
        mailbox(seminar), subject,
        render_template("mail/question_digest.txt", seminar=seminar, questions=questions, votes=votes,
                        followup=kind == "qa.followup", url=external_url(f"/seminars/{seminar.id}/questions")),
        kind=kind,
        # The database refuses a second message for the same first question.
        dedupe_key=f"{kind}:{seminar.id}:{questions[0].id}",
    )
    db.session.flush()
    for question in questions:
        question.routed_at = now
        question.routed_message_id = message.id
    record("qa.routed", subject=f"seminar:{seminar.id}",
           details={"questions": [q.id for q in questions], "outbox": message.id})


def answer(question: Question, text: str, by: User, *, publish: bool = False) -> None:
    """The secretariat answers after the seminar; the asker is mailed the answer."""
    text = (text or "").strip()
    if not text:
        raise QuestionRefused(_l("回答を入力してください。"))
    question.answer = text
    question.answered_at = utcnow()
    question.answered_by_id = by.id
    question.faq_published = publish
    enqueue(
        question.author.email,
        f"【官民連携プラットフォーム】ご質問への回答：{seminar_title(question.seminar)}",
        render_template("mail/question_answer.txt", question=question,
                        url=external_url(f"/seminars/{question.seminar_id}")),
        kind="qa.answer",
    )


def faq(seminar: Seminar) -> list[Question]:
    return list(db.session.scalars(
        select(Question).where(Question.seminar_id == seminar.id, Question.faq_published.is_(True),
                               Question.answer.is_not(None))
        .order_by(Question.created_at, Question.id)
    ))


def questions_csv(seminar: Seminar) -> bytes:
    states = {"open": "未回答", "answered_live": "当日回答済み", "hidden": "非表示"}
    votes = votes_by_question(seminar.id)
    rows = []
    for q in db.session.scalars(
        select(Question).where(Question.seminar_id == seminar.id)
        .options(selectinload(Question.author).selectinload(User.organization), selectinload(Question.program_item))
        .order_by(Question.created_at, Question.id)
    ):
        rows.append([
            to_local(q.created_at).strftime("%Y-%m-%d %H:%M"), q.body,
            q.program_item.title if q.program_item else "", q.author.name,
            q.author.organization.name if q.author.organization else "", "はい" if q.anonymous else "",
            votes.get(q.id, 0), states[q.state.value], "追加質問" if q.followup else "",
            to_local(q.routed_at).strftime("%Y-%m-%d %H:%M") if q.routed_at else "", q.answer or "",
        ])
    return to_csv(["日時", "質問", "プログラム項目", "質問者", "所属団体", "匿名", "投票数", "状態",
                   "区分", "事務局へ送付", "回答"], rows)


