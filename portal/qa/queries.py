"""Q&A reads: the list as one viewer sees it, vote counts, the back office's list, the FAQ."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core import versions
from portal.core.db import db, latest
from portal.core.labels import label
from portal.qa import access
from portal.qa.models import Question, QuestionState, QuestionVote
from portal.seminars.models import Seminar


def votes_of(question: Question) -> int:
    """Its up-votes as the database counts them now (the session's copy misses the trigger's update)."""
    return db.session.scalar(select(Question.vote_count).where(Question.id == question.id)) or 0


def asker_label(question: Question) -> str:
    """Name (organization), as the secretariat's pages and mails name an asker."""
    author = question.author
    org = f"（{author.organization.name}）" if author.organization else ""
    return f"{author.name}{org}"


def _questions(seminar: Seminar, *conditions: Any) -> Select:
    return (
        select(Question).where(Question.seminar_id == seminar.id, *conditions)
        # Each is one row per question: joined in the same query, not one query each.
        .options(joinedload(Question.author).joinedload(User.organization), joinedload(Question.program_item))
        .order_by(Question.created_at, Question.id)
    )


# What the list's rules read of every question: a long live list reads these columns (no
# objects and no dates: 1,200 rows twice a second in each process), and loads whole only the
# questions it shows whole. Which one is pinned and which changed last the database works out.
_LIVE_COLUMNS = (Question.id, Question.author_id, Question.state, Question.pending, Question.anonymous,
                 Question.vote_count, Question.routed_at.is_not(None).label("routed"))
# A question's last change of state: asked, approved, pinned, answered, hidden or routed.
_CHANGED = latest(Question.created_at, Question.approved_at, Question.answering_at, Question.answered_live_at,
                  Question.hidden_at, Question.routed_at)


@dataclass(slots=True)
class ListedQuestion:
    """One question on the list, with what this viewer sees of it and may do.

    The shared list (``shared=True`` in ``listing``) is the same for every attendee: nothing in it
    is the viewer's own (``voted`` and ``mine`` are False there; the page adds them). Slotted and
    not frozen: a rebuild makes 1,200 of them, and a frozen one takes six times as long to make."""

    question: Question  # whole when ``whole``; else only the columns of _LIVE_COLUMNS
    votes: int
    voted: bool
    mine: bool
    answering: bool  # pinned as 回答中 for everyone
    status: str  # 回答中 / 承認待ち / the state's label when not open; "" for an open question
    routed_shown: bool  # the secretariat sees that it went to the mailbox
    can_vote: bool
    can_mark_answered: bool
    can_mark_answering: bool
    can_approve: bool
    can_hide: bool
    whole: bool = False  # shown whole (body, asker, item); else by its id, votes and state only

    @property
    def css(self) -> str:
        """The item's classes: its state, and whether it is pinned, held back or the viewer's own."""
        q = self.question
        return " ".join(("question", f"state-{q.state.value}", *(["answering"] if self.answering else []),
                         *(["pending"] if q.pending else []), *(["mine"] if self.mine else [])))

    @property
    def asker(self) -> str:
        """Name (organization), 匿名, or 匿名で投稿 for the asker's own anonymous question."""
        if not self.question.anonymous:
            return asker_label(self.question)
        return gettext("匿名で投稿") if self.mine else gettext("匿名")


def answering_id(seminar: Seminar) -> int | None:
    """The question pinned as 回答中: the one the moderator marked last, while it is still open
    (marking another unpins the earlier one; answering or hiding it ends the pin)."""
    last = db.session.execute(
        select(Question.id, Question.state, Question.pending)
        .where(Question.seminar_id == seminar.id, Question.followup.is_(False), Question.answering_at.is_not(None))
        .order_by(Question.answering_at.desc(), Question.id.desc()).limit(1)).first()
    return last.id if last is not None and last.state is QuestionState.OPEN and not last.pending else None


def changed_last(seminar: Seminar, count: int) -> set[int]:
    """The ``count`` questions whose state changed last (hidden ones too: they leave the list)."""
    if count <= 0:
        return set()
    return set(db.session.scalars(
        select(Question.id).where(Question.seminar_id == seminar.id, Question.followup.is_(False))
        .order_by(_CHANGED.desc(), Question.id.desc()).limit(count)))


def listing(seminar: Seminar, viewer: Any, *, sort: str = "votes", shared: bool = False,
            as_attendee: bool = False, whole: int | None = None) -> list[ListedQuestion]:
    """Questions as this viewer may see them (hidden and waiting ones only for the secretariat
    and their asker), the one being answered first, then by votes or in the order asked.
    Follow-ups go to the mailbox, not on the list.

    ``shared``: the list as every attendee (or, for the secretariat, every moderator) sees it,
    without anything of the viewer's own, so one stored answer serves them all; ``as_attendee``:
    as an attendee sees it, also for the secretariat (the presenter screen); ``whole``: only the
    that many questions whose state changed last are loaded whole (None: all of them).

    Built for every poller of a process twice a second during a seminar: what is the same for
    every question (who the viewer is, the status words) is worked out once, not per question."""
    rows: list[Any] = list(db.session.execute(
        select(*_LIVE_COLUMNS).where(Question.seminar_id == seminar.id, Question.followup.is_(False))
        .order_by(Question.created_at, Question.id)))
    moderator = not as_attendee and access.may_moderate(viewer, seminar)
    me = None if shared else viewer.id
    mine = set() if shared else set(db.session.scalars(
        select(QuestionVote.question_id).join(Question, Question.id == QuestionVote.question_id)
        .where(Question.seminar_id == seminar.id, QuestionVote.user_id == viewer.id)
    ))
    pinned = answering_id(seminar)
    words: dict[Any, str] = {"answering": gettext("回答中"), "pending": gettext("承認待ち"),
                             **{state: str(label(state)) for state in QuestionState if state is not QuestionState.OPEN}}
    listed = []
    for q in rows:
        own = me is not None and q.author_id == me
        shown = access.shown_to_attendees(q)
        if not (moderator or own or shown):
            continue
        answering = q.id == pinned
        actions = access.moderation(q) if moderator else access.NO_MODERATION
        listed.append(ListedQuestion(
            question=q, votes=q.vote_count, voted=q.id in mine, mine=own,
            answering=answering, status=_status(q, answering, words),
            routed_shown=moderator and q.routed,
            can_vote=shown and not own,  # access.may_vote_on, asked once above
            can_mark_answered=actions.mark_answered,
            can_mark_answering=actions.mark_answering and not answering,
            can_approve=actions.approve,
            can_hide=actions.hide,
        ))
    # Stable sorts of the order asked: the pinned one first, then by votes (the earlier first).
    listed.sort(key=(lambda x: (not x.answering, -x.votes)) if sort == "votes" else (lambda x: not x.answering))
    return _whole(seminar, listed, None if whole is None else changed_last(seminar, whole))


def _status(q: Question, answering: bool, words: dict[Any, str]) -> str:
    """回答中 / 承認待ち / the state's label when not open; "" for an open question."""
    if answering:
        return words["answering"]
    if q.pending and q.state is QuestionState.OPEN:
        return words["pending"]
    return words[q.state] if q.state is not QuestionState.OPEN else ""


def _whole(seminar: Seminar, listed: list[ListedQuestion], chosen: set[int] | None) -> list[ListedQuestion]:
    """``listed`` with the ``chosen`` questions (None: all) loaded whole, askers and items in the
    same query; the others keep their columns and are marked ``whole=False``."""
    if chosen is None:  # all of them: the seminar's list itself, not an IN of every id
        loaded = {q.id: q for q in db.session.scalars(_questions(seminar, Question.followup.is_(False)))}
    else:
        loaded = {q.id: q for q in db.session.scalars(_questions(seminar, Question.id.in_(chosen)))} if chosen else {}
    return [replace(x, question=loaded[x.question.id], whole=True) if x.question.id in loaded else x
            for x in listed]


@dataclass(frozen=True)
class ShortList:
    """The list as a poll sends it: the questions named in full (``whole``) as markup, and every
    question, in the list's order, as data: ``entries`` of [id, votes, classes, status], the
    status being 0 (none) or the number of its words in ``statuses`` (each distinct one rendered
    once). 1,200 questions as markup took a rebuild 11 ms of its ~45 and a poll 180 KB."""

    whole: list[ListedQuestion]
    entries: list[tuple[int, int, str, int]]
    statuses: list[ListedQuestion]  # one question showing each distinct status, numbered from 1


def short_list(listed: list[ListedQuestion]) -> ShortList:
    numbers: dict[tuple[str, bool], int] = {}
    statuses: list[ListedQuestion] = []
    entries = []
    for x in listed:
        number = 0
        if x.status or x.routed_shown:
            number = numbers.get((x.status, x.routed_shown), 0)
            if not number:
                statuses.append(x)
                number = numbers[(x.status, x.routed_shown)] = len(statuses)
        entries.append((x.question.id, x.votes, x.css, number))
    return ShortList([x for x in listed if x.whole], entries, statuses)


def for_presenter(seminar: Seminar, *, top: int) -> list[ListedQuestion]:
    """The shared screen: the question being answered, then the top open questions by votes."""
    listed = listing(seminar, None, sort="votes", shared=True, as_attendee=True, whole=0)
    shown = [x for x in listed if x.answering or x.question.state is QuestionState.OPEN][:top]
    return _whole(seminar, shown, {x.question.id for x in shown})


LIVE_SCOPES = ("seminars", "program_items", "questions", "question_votes", "users", "organizations")


def live_version(seminar: Seminar) -> str:
    """What the shared list is made of, from the tables' change counters in one small query (no
    rows, no render). The counters are moved by database triggers, so a write that bypasses the
    ORM moves them too; any seminar's question moves them (one seminar is live at a time)."""
    value, _changed = versions.validator(seminar.id, scopes=LIVE_SCOPES)
    return value


def own_questions(seminar: Seminar, user: Any) -> list[Question]:
    """The questions this account asked in the seminar (also after cancelling its registration)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(db.session.scalars(_questions(seminar, Question.author_id == user.id)))


@dataclass(frozen=True)
class AdminQuestion:
    """One question in the back office: who asked (also when anonymous to attendees)."""

    question: Question
    votes: int
    asker: str
    can_answer: bool


def for_back_office(seminar: Seminar, viewer: Any) -> list[AdminQuestion]:
    """The back office may be on a shared screen too: an anonymous question shows 匿名 here as
    well (the answer still reaches its asker: the portal mails it; the digest names the asker)."""
    return [
        AdminQuestion(q, q.vote_count, gettext("匿名") if q.anonymous else asker_label(q),
                      access.may_answer(viewer, q))
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
