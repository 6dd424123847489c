"""Q&A reads: the list as one viewer sees it, vote counts, the back office's list, the FAQ."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

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
_LIVE_COLUMNS = (Question.id, Question.author_id, Question.state, Question.pending, Question.vote_count,
                 Question.routed_at.is_not(None).label("routed"))
# A question's last change of state: asked, approved, pinned, answered, hidden or routed.
_CHANGED = latest(Question.created_at, Question.approved_at, Question.answering_at, Question.answered_live_at,
                  Question.hidden_at, Question.routed_at)


@dataclass(slots=True)
class ListedQuestion:
    """One question on the list, with what this viewer sees of it and may do.

    The shared list (``arrange`` without ``me``) is the same for every attendee: nothing in it
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
    css: str  # the item's classes: its state, and whether it is pinned, held back or the viewer's own
    whole: bool = False  # shown whole (body, asker, item); else by its id, votes and state only

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


@dataclass(frozen=True)
class ListRead:
    """A seminar's list as read at one moment, the same for every viewer and either order:
    every question's columns (held-back and hidden ones too: the secretariat sees them), the
    one pinned, and the questions loaded whole. One read serves the attendees', the
    moderators' and the presenter screen's lists in every language (``arrange`` per view)."""

    rows: list[Any]  # _LIVE_COLUMNS of every question on the list, in the order asked
    pinned: int | None  # answering_id
    loaded: dict[int, Question]  # the questions loaded whole, askers and items with them
    whole: bool  # every question is loaded whole


def read_list(seminar: Seminar, *, whole: int | None = None) -> ListRead:
    """The list's rows; ``whole``: only the that many questions whose state changed last are
    loaded whole (None: all of them). Follow-ups go to the mailbox, not on the list."""
    rows: list[Any] = list(db.session.execute(
        select(*_LIVE_COLUMNS).where(Question.seminar_id == seminar.id, Question.followup.is_(False))
        .order_by(Question.created_at, Question.id)))
    chosen = None if whole is None else changed_last(seminar, whole)
    return ListRead(rows, answering_id(seminar), _load(seminar, chosen), whole is None)


def _load(seminar: Seminar, chosen: set[int] | None) -> dict[int, Question]:
    """The ``chosen`` questions (None: every one on the list) whole, askers and items in the
    same query. A read outlives its request (a snapshot keeps it): they are loaded in a session
    of their own, closed at once, so they are detached with everything they show and no later
    commit of the request's session expires them."""
    if chosen is not None and not chosen:
        return {}
    with Session(db.engine) as own:
        # All of them: the seminar's list itself, not an IN of every id.
        return {q.id: q for q in own.scalars(_questions(
            seminar, Question.followup.is_(False) if chosen is None else Question.id.in_(chosen)))}


def listing(seminar: Seminar, viewer: Any, *, sort: str = "votes") -> list[ListedQuestion]:
    """The list as this viewer's own page shows it: every question whole, with the viewer's
    votes and own questions (``arrange``)."""
    voted = set(db.session.scalars(
        select(QuestionVote.question_id).join(Question, Question.id == QuestionVote.question_id)
        .where(Question.seminar_id == seminar.id, QuestionVote.user_id == viewer.id)
    ))
    return arrange(read_list(seminar), moderator=access.may_moderate(viewer, seminar), sort=sort,
                   me=viewer.id, voted=voted)


def arrange(read: ListRead, *, moderator: bool, sort: str = "votes", me: int | None = None,
            voted: set[int] | frozenset[int] = frozenset()) -> list[ListedQuestion]:
    """Questions as a viewer may see them (hidden and held-back ones only for the secretariat
    and their asker), the one being answered first, then by votes or in the order asked.

    ``me`` and ``voted``: the viewer's own, for the viewer's page; without them the list is the
    shared one, the same for every attendee (or every moderator). Made for every view of a
    read in each process twice a second during a seminar: what a state makes of a question
    (shown or not, its words, classes and buttons) is worked out once per state, not per question."""
    words: dict[Any, str] = {"answering": gettext("回答中"), "pending": gettext("承認待ち"),
                             **{state: str(label(state)) for state in QuestionState if state is not QuestionState.OPEN}}
    looks: dict[tuple[QuestionState, bool, bool], _Look] = {}
    listed = []
    for q in read.rows:
        qid, author_id, state, pending, votes, routed = q
        own = author_id == me
        key = (state, bool(pending), qid == read.pinned)
        look = looks.get(key)
        if look is None:
            look = looks[key] = _look(*key, moderator=moderator, words=words)
        if not (moderator or own or look.shown):
            continue
        whole = read.loaded.get(qid)
        listed.append(ListedQuestion(
            question=q if whole is None else whole, votes=votes, voted=qid in voted, mine=own,
            answering=key[2], status=look.status, routed_shown=moderator and routed,
            can_vote=look.shown and not own,  # access.may_vote_on
            can_mark_answered=look.actions.mark_answered,
            can_mark_answering=look.actions.mark_answering,
            can_approve=look.actions.approve,
            can_hide=look.actions.hide,
            css=f"{look.css} mine" if own else look.css,
            whole=whole is not None,
        ))
    # Stable sorts of the order asked: the pinned one first, then by votes (the earlier first).
    listed.sort(key=(lambda x: (not x.answering, -x.votes)) if sort == "votes" else (lambda x: not x.answering))
    return listed


@dataclass(frozen=True)
class _Look:
    """What a question's state (and whether it is pinned) makes of it on one viewer's list."""

    shown: bool  # access.shown: on the attendees' list
    status: str  # 回答中 / 承認待ち / the state's label when not open; "" for an open question
    css: str
    actions: access.Moderation  # the moderator's buttons (none for others)


def _look(state: QuestionState, pending: bool, answering: bool, *, moderator: bool,
          words: dict[Any, str]) -> _Look:
    actions = access.moderation(state, pending) if moderator else access.NO_MODERATION
    if answering:  # already pinned: no button to pin it again
        actions = replace(actions, mark_answering=False)
        status = words["answering"]
    elif pending and state is QuestionState.OPEN:
        status = words["pending"]
    else:
        status = words.get(state, "")
    css = " ".join(("question", f"state-{state.value}", *(["answering"] if answering else []),
                    *(["pending"] if pending else [])))
    return _Look(access.shown(state, pending), status, css, actions)


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


def presenter_read(seminar: Seminar, *, top: int) -> ListRead:
    """What the shared screen shows: the question being answered, then the top open questions
    by votes, those loaded whole (``arrange`` it as an attendee's list)."""
    read = read_list(seminar, whole=0)
    shown = [x.question.id for x in arrange(read, moderator=False)
             if x.answering or x.question.state is QuestionState.OPEN]
    chosen = set(shown[:top])
    return ListRead([row for row in read.rows if row.id in chosen], read.pinned, _load(seminar, chosen), whole=True)


def for_presenter(seminar: Seminar, *, top: int) -> list[ListedQuestion]:
    return arrange(presenter_read(seminar, top=top), moderator=False)


LIVE_SCOPES = ("seminars", "program_items", "questions", "question_votes", "users", "organizations")


# What may end a viewer's right to read the list: a session ended (log-out, an account's
# change), a registration changed (a cancellation), the seminar changed (unpublished, Q&A closed).
GUARD_SCOPES = ("sessions_ended", "registrations", "seminars")


def live_version(seminar: Seminar) -> tuple[str, str]:
    """What the shared list is made of, from the tables' change counters in one small query (no
    rows, no render), and in the same query the guard (``GUARD_SCOPES``). The counters are moved
    by database triggers, so a write that bypasses the ORM moves them too; any seminar's question
    moves them (one seminar is live at a time)."""
    numbers, _changed = versions.versions(*LIVE_SCOPES, *GUARD_SCOPES)
    return repr((seminar.id, numbers[:len(LIVE_SCOPES)])), repr(numbers[len(LIVE_SCOPES):])


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
