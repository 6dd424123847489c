"""Q&A reads: the list as one viewer sees it, vote counts, the back office's list, the FAQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from portal.accounts.access import is_secretariat
from portal.accounts.models import User
from portal.core.db import db
from portal.qa import access
from portal.qa.models import Question, QuestionState, QuestionVote
from portal.seminars.models import Seminar


def votes_by_question(seminar_id: int) -> dict[int, int]:
    rows = db.session.execute(
        select(QuestionVote.question_id, func.count())
        .join(Question, Question.id == QuestionVote.question_id)
        .where(Question.seminar_id == seminar_id)
        .group_by(QuestionVote.question_id)
    )
    return dict(rows.all())


def votes_of(question: Question) -> int:
    return votes_by_question(question.seminar_id).get(question.id, 0)


def asker_label(question: Question) -> str:
    """Name (organization), as the secretariat's pages and mails name an asker."""
    author = question.author
    org = f"（{author.organization.name}）" if author.organization else ""
    return f"{author.name}{org}"


def _questions(seminar: Seminar, *conditions: Any) -> Select:
    return (
        select(Question).where(Question.seminar_id == seminar.id, *conditions)
        .options(selectinload(Question.author).selectinload(User.organization),
                 selectinload(Question.program_item))
        .order_by(Question.created_at, Question.id)
    )


@dataclass(frozen=True)
class ListedQuestion:
    """One question on the attendees' list, with what this viewer sees of it and may do."""

    question: Question
    votes: int
    voted: bool
    asker: str  # name (organization), or 匿名
    mine: bool
    state_shown: bool  # answered live or hidden: the list says so
    routed_shown: bool  # the secretariat sees that it went to the mailbox
    can_vote: bool
    can_mark_answered: bool
    can_hide: bool


def listing(seminar: Seminar, viewer: Any, *, sort: str = "votes") -> list[ListedQuestion]:
    """Questions as this viewer may see them (hidden ones only for the secretariat and the
    asker), by votes or in the order asked. Follow-ups go to the mailbox, not on the list."""
    questions = list(db.session.scalars(_questions(seminar, Question.followup.is_(False))))
    votes = votes_by_question(seminar.id)
    mine = set(db.session.scalars(
        select(QuestionVote.question_id).join(Question, Question.id == QuestionVote.question_id)
        .where(Question.seminar_id == seminar.id, QuestionVote.user_id == viewer.id)
    ))
    secretariat = is_secretariat(viewer)
    listed = [
        ListedQuestion(
            question=q, votes=votes.get(q.id, 0), voted=q.id in mine,
            asker=asker_label(q) if access.sees_asker_on_list(viewer, q) else gettext("匿名"),
            mine=q.author_id == viewer.id,
            state_shown=q.state is not QuestionState.OPEN,
            routed_shown=secretariat and q.routed_at is not None,
            can_vote=access.may_vote(viewer, q),
            can_mark_answered=access.may_mark_answered(viewer, q),
            can_hide=access.may_hide(viewer, q),
        )
        for q in questions
        if access.sees_question(viewer, q)
    ]
    if sort == "votes":
        listed.sort(key=lambda x: (-x.votes, x.question.created_at, x.question.id))
    return listed


@dataclass(frozen=True)
class AdminQuestion:
    """One question in the back office: who asked (also when anonymous to attendees)."""

    question: Question
    votes: int
    asker: str
    can_answer: bool


def for_back_office(seminar: Seminar, viewer: Any) -> list[AdminQuestion]:
    votes = votes_by_question(seminar.id)
    return [
        AdminQuestion(q, votes.get(q.id, 0), asker_label(q), access.may_answer(viewer, q))
        for q in db.session.scalars(_questions(seminar))
    ]


def all_questions(seminar: Seminar) -> list[Question]:
    """Every question of the seminar, follow-ups and hidden ones included, in the order asked."""
    return list(db.session.scalars(_questions(seminar)))


def unrouted(seminar: Seminar) -> list[Question]:
    """Asked during Q&A, not answered live, not hidden, not yet sent to the mailbox."""
    return list(db.session.scalars(_questions(
        seminar, Question.state == QuestionState.OPEN, Question.routed_at.is_(None), Question.followup.is_(False))))


def faq(seminar: Seminar) -> list[Question]:
    return list(db.session.scalars(
        select(Question).where(Question.seminar_id == seminar.id, Question.faq_published.is_(True),
                               Question.answer.is_not(None))
        .order_by(Question.created_at, Question.id)
    ))
