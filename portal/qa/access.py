"""Who may take part in a seminar's Q&A, and what each viewer sees of a question.

Typed rules of a user and an object, no request objects: views check them through
``portal.web.access`` and hand their answers to templates as flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, false, select

from portal.accounts.access import is_secretariat
from portal.core.db import db
from portal.qa.models import Question, QuestionState
from portal.seminars.models import Registration, RegistrationState, Seminar, SeminarStatus


def is_attendee(user: Any, seminar: Seminar) -> bool:
    """Registered (not waiting) for the seminar, with an active account."""
    if not _may_attend(user):
        return False  # no query for a visitor
    return bool(db.session.scalar(select(attending(user)).where(Seminar.id == seminar.id)))


def _may_attend(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def attending(user: Any) -> ColumnElement[bool]:
    """``is_attendee`` as SQL of a row of seminars, to read with the seminar in one query."""
    if not _may_attend(user):
        return false()
    return exists().where(Registration.seminar_id == Seminar.id, Registration.user_id == user.id,
                          Registration.state == RegistrationState.REGISTERED)


def may_know_of(seminar: Seminar, user: Any) -> bool:
    """A draft seminar is not found by anyone but the secretariat (the seminars' draft rule;
    in ``get_or_404(..., visible=...)`` order: object first)."""
    return seminar.status is not SeminarStatus.DRAFT or is_secretariat(user)


def may_take_part(user: Any, seminar: Seminar, *, attendee: bool | None = None) -> bool:
    """Ask, vote and read the list: the seminar's registered attendees and the secretariat
    (``attendee``: ``attending`` read with the seminar, else asked here)."""
    return is_secretariat(user) or (is_attendee(user, seminar) if attendee is None else attendee)


def may_moderate(user: Any, seminar: Seminar | None = None) -> bool:
    """Open and close Q&A, mark answered, hide, answer, export: the secretariat."""
    return is_secretariat(user)


def shown_to_attendees(question: Question) -> bool:
    """On the shared list: not hidden, and approved when the seminar holds questions back."""
    return shown(question.state, question.pending)


def shown(state: QuestionState, pending: bool) -> bool:
    """``shown_to_attendees`` of a question in this state (a list works it out once per state)."""
    return state is not QuestionState.HIDDEN and not pending


def may_vote_on(question: Question) -> bool:
    """A question anyone but its asker may up-vote."""
    return shown_to_attendees(question)


def may_vote(user: Any, question: Question) -> bool:
    """Once per account (the unique constraint), never on one's own question."""
    return may_vote_on(question) and question.author_id != user.id


@dataclass(frozen=True)
class Moderation:
    """The moderator's actions on one question, from its state alone: who moderates is asked
    once per list (``may_moderate``), not per question and action (a list of 1,200 questions
    asked the session's second factor 4,800 times per rebuild)."""

    mark_answering: bool  # pin as 回答中: an open, shown question
    mark_answered: bool  # an open question
    approve: bool  # a held-back question not hidden
    hide: bool  # any question not yet hidden


NO_MODERATION = Moderation(mark_answering=False, mark_answered=False, approve=False, hide=False)


def _moderation(state: QuestionState, pending: bool) -> Moderation:
    is_open = state is QuestionState.OPEN
    hidden = state is QuestionState.HIDDEN
    return Moderation(mark_answering=is_open and not pending, mark_answered=is_open,
                      approve=pending and not hidden, hide=not hidden)


# Every state and held-back flag, worked out once: a rebuild looks up 1,200 of them.
_MODERATIONS = {(state, pending): _moderation(state, pending) for state in QuestionState for pending in (False, True)}


def moderation(state: QuestionState, pending: bool) -> Moderation:
    return _MODERATIONS[(state, bool(pending))]


def may_answer(user: Any, question: Question) -> bool:
    """Answered after the seminar in the back office; a hidden question gets no answer."""
    return is_secretariat(user) and question.state is not QuestionState.HIDDEN
