"""Q&A changes: ask, vote, moderate, open and close, answer.

Each raises ``DomainError`` (in the person's words) when it refuses, and never commits: the
view's unit of work does.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal.accounts.models import User
from portal.audit.services import record
from portal.core.db import db, utcnow
from portal.core.errors import DomainError
from portal.qa import access, notifications
from portal.qa.models import BODY_MAX, Question, QuestionState, QuestionVote
from portal.seminars.models import Seminar
from portal.seminars.registrations import lock_seminar


def check_body(body: str | None) -> str:
    body = (body or "").strip()
    if not body:
        raise DomainError(_l("質問を入力してください。"), field="body")
    if len(body) > BODY_MAX:
        raise DomainError(_l("質問は%(max)s文字以内で入力してください（現在 %(length)s 文字）。",
                             max=BODY_MAX, length=len(body)), field="body")
    return body


def ask(seminar: Seminar, user: User, body: str | None, *, anonymous: bool = False,
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
            raise DomainError(_l("対象のプログラム項目が見つかりません。"), field="program_item")
    followup = not seminar.qa_open
    if followup and seminar.qa_closed_at is None:
        raise DomainError(_l("このセミナーのQ&Aはまだ始まっていません。"), field="body")
    question = Question(seminar_id=seminar.id, author_id=user.id, body=body, anonymous=anonymous,
                        program_item_id=item.id if item else None, followup=followup,
                        # A follow-up goes to the mailbox, never on the list: nothing to approve.
                        pending=seminar.qa_approval and not followup)
    db.session.add(question)
    db.session.flush()
    if followup:
        notifications.route_followup(question, seminar)
    return question


def vote(question: Question, user: User) -> bool:
    """Up-vote once per account; True when this call added the vote."""
    if question.author_id == user.id:
        raise DomainError(_l("ご自身の質問には投票できません。"))
    if not access.may_vote_on(question):
        raise DomainError(_l("この質問には投票できません。"))
    try:
        with db.session.begin_nested():
            db.session.add(QuestionVote(question_id=question.id, user_id=user.id))
    except IntegrityError:
        return False  # already voted (the unique constraint says so): nothing changes
    return True


def mark_answered_live(question: Question) -> None:
    if question.state is QuestionState.OPEN:
        question.state = QuestionState.ANSWERED_LIVE
        question.answered_live_at = utcnow()


def mark_answering(question: Question) -> None:
    """Pin the question as 回答中 for everyone (the one marked last is pinned)."""
    if question.state is not QuestionState.OPEN or question.pending:
        raise DomainError(_l("この質問は回答中にできません。"))
    question.answering_at = utcnow()


def approve(question: Question, by: User) -> None:
    """Show a question held back for approval on everyone's list."""
    if question.state is QuestionState.HIDDEN:
        raise DomainError(_l("非表示にした質問は承認できません。"))
    if question.pending:
        question.pending = False
        question.approved_at = utcnow()
        record("qa.approved", actor_id=by.id, subject=f"question:{question.id}")


def set_approval(seminar: Seminar, required: bool) -> None:
    """Hold new questions back until approved (questions already asked keep their state)."""
    seminar.qa_approval = required


def hide(question: Question, by: User) -> None:
    """Hide an inappropriate question; the asker is told. Nothing of it is edited."""
    if question.state is QuestionState.HIDDEN:
        return
    question.state = QuestionState.HIDDEN
    question.hidden_at = utcnow()
    record("qa.hidden", actor_id=by.id, subject=f"question:{question.id}")
    notifications.tell_hidden(question)


def open_qa(seminar: Seminar) -> None:
    seminar.qa_open = True


def close_qa(seminar: Seminar, by: User | None = None) -> int:
    """Close Q&A and route every question not answered live, not hidden, not yet routed to the
    mailbox in one digest. Returns how many questions the digest holds (0: no digest)."""
    lock_seminar(seminar.id)  # closes and late questions take turns: each question routed once
    db.session.refresh(seminar)
    seminar.qa_open = False
    seminar.qa_closed_at = utcnow()
    routed = notifications.route_unanswered(seminar)
    record("qa.closed", actor_id=by.id if by else None, subject=f"seminar:{seminar.id}",
           details={"routed": routed})
    return routed


def answer(question: Question, text: str | None, by: User, *, publish: bool = False) -> None:
    """The secretariat answers after the seminar; the asker is mailed the answer, once per
    wording (a corrected answer is mailed again, the same one re-saved is not)."""
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("回答を入力してください。"), field="answer")
    question.faq_published = publish
    if text == question.answer:
        return  # re-saved (e.g. only published as FAQ): the asker already has this answer
    question.answer = text
    question.answered_at = utcnow()
    question.answered_by_id = by.id
    notifications.send_answer(question)
