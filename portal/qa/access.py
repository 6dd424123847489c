"""Who may take part in a seminar's Q&A, and what each viewer sees of a question.

Typed rules of a user and an object, no request objects: views check them through
``portal.web.access`` and hand their answers to templates as flags.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from portal.accounts.access import is_secretariat
from portal.core.db import db
from portal.qa.models import Question, QuestionState
from portal.seminars.models import Registration, RegistrationState, Seminar, SeminarStatus


def is_attendee(user: Any, seminar: Seminar) -> bool:
    """Registered (not waiting) for the seminar, with an active account."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(db.session.scalar(
        select(func.count()).select_from(Registration).where(
            Registration.seminar_id == seminar.id, Registration.user_id == user.id,
            Registration.state == RegistrationState.REGISTERED)
    ))


def may_know_of(seminar: Seminar, user: Any) -> bool:
    """A draft seminar is not found by anyone but the secretariat (the seminars' draft rule;
    in ``get_or_404(..., visible=...)`` order: object first)."""
    return seminar.status is not SeminarStatus.DRAFT or is_secretariat(user)


def may_take_part(user: Any, seminar: Seminar) -> bool:
    """Ask, vote and read the list: the seminar's registered attendees and the secretariat."""
    return is_secretariat(user) or is_attendee(user, seminar)


def may_moderate(user: Any, seminar: Seminar | None = None) -> bool:
    """Open and close Q&A, mark answered, hide, answer, export: the secretariat."""
    return is_secretariat(user)


def sees_question(user: Any, question: Question) -> bool:
    """A hidden question stays on the list for the secretariat and its asker only."""
    return question.state is not QuestionState.HIDDEN or is_secretariat(user) or question.author_id == user.id


def sees_asker_on_list(user: Any, question: Question) -> bool:
    """On the attendees' list an anonymous question names nobody, to anyone but its asker
    (the secretariat included: it sees the asker in the back office, the digest and the CSV)."""
    return not question.anonymous or question.author_id == user.id


def may_vote(user: Any, question: Question) -> bool:
    return question.state is not QuestionState.HIDDEN


def may_mark_answered(user: Any, question: Question) -> bool:
    return is_secretariat(user) and question.state is QuestionState.OPEN


def may_hide(user: Any, question: Question) -> bool:
    return is_secretariat(user) and question.state is not QuestionState.HIDDEN


def may_answer(user: Any, question: Question) -> bool:
    """Answered after the seminar in the back office; a hidden question gets no answer."""
    return is_secretariat(user) and question.state is not QuestionState.HIDDEN
