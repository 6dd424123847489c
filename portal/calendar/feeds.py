"""Calendar feeds: which events each feed holds and its validator (for ETag and 304).

A feed's validator comes from the change versions of the tables it reads (``portal.core.versions``,
one query), so a conditional request is answered without building anything. Keeping built
feeds is HTTP's job (nginx's proxy_cache, a calendar app's copy), not this process's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.calendar.events import (
    FACT_COLUMNS,
    ProgramLine,
    SeminarFacts,
    milestone_event,
    seminar_event,
    session_event,
)
from portal.calendar.ics import Event, calendar_bytes
from portal.core import versions
from portal.core.dates import Precision
from portal.core.db import db
from portal.seminars.models import (
    Presenter,
    ProgramItem,
    Registration,
    RegistrationState,
    Seminar,
    SeminarSeries,
    SeminarStatus,
    presenter_display,
)
from portal.subcommittees.models import (
    MembershipState,
    Milestone,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
    SubcommitteeStatus,
)
from portal.web.urls import base_url

# Raise when what the same records are written as changes (a new deploy): ETags then change,
# so calendar apps fetch the new text instead of being told 304.
FORMAT = 2

PUBLIC_SEMINAR = (Seminar.status.in_((SeminarStatus.PUBLISHED, SeminarStatus.CANCELLED)),)
ACTIVE_SUB = (Subcommittee.status == SubcommitteeStatus.ACTIVE,)


def seminar_facts(*conditions) -> list[SeminarFacts]:
    """Seminars a feed may show (published or cancelled, with a date) in date order: three
    queries whatever their number (seminars, program items, presenters)."""
    where = (*PUBLIC_SEMINAR, Seminar.precision != Precision.UNDECIDED, *conditions)
    # Core execution on the session's connection: the rows are plain, no ORM row processing.
    conn = db.session.connection()
    rows = conn.execute(
        select(*(getattr(Seminar, name) for name in FACT_COLUMNS), SeminarSeries.name)
        .join(SeminarSeries).where(*where)
        .order_by(Seminar.date_on, Seminar.starts_at, Seminar.id)
    ).all()
    if not rows:
        return []
    chosen = select(Seminar.id).where(*where).scalar_subquery()
    presenters: dict[int, list[tuple[int | None, str]]] = defaultdict(list)
    for item_id, point, organization, department, person in conn.execute(
        select(Presenter.program_item_id, Presenter.point_index, Presenter.organization, Presenter.department,
               Presenter.person)
        .join(ProgramItem).where(ProgramItem.seminar_id.in_(chosen))
        .order_by(Presenter.program_item_id, Presenter.position)
    ).all():
        presenters[item_id].append((point, presenter_display(organization, department, person)))
    program: dict[int, list[ProgramLine]] = defaultdict(list)
    for item_id, seminar_id, start, title, points in conn.execute(
        select(ProgramItem.id, ProgramItem.seminar_id, ProgramItem.start_time, ProgramItem.title, ProgramItem.points)
        .where(ProgramItem.seminar_id.in_(chosen))
        .order_by(ProgramItem.seminar_id, ProgramItem.position)
    ).all():
        program[seminar_id].append(ProgramLine(start, title, tuple(points or ()), tuple(presenters.get(item_id, ()))))
    return [SeminarFacts(**dict(zip(FACT_COLUMNS, row, strict=False)), series_name=row[-1],
                         program=tuple(program.get(row[0], ()))) for row in rows]


@dataclass
class Feed:
    """What a feed holds. ``scopes``: the tables it reads, whose versions validate it (cheap);
    ``events`` makes its content."""

    key: str
    name: str
    scopes: tuple[str, ...]
    events: Callable[[], list[Event]]


# Every feed also moves when an event anywhere was deleted (rare; cheap to check).
SEMINAR_SCOPES = ("seminars", "seminar_series", "program_items", "presenters", "calendar_tombstones")
SESSION_SCOPES = ("subcommittees", "subcommittee_sessions", "calendar_tombstones")


def _sessions_query(*conditions) -> Select:
    return (
        select(SubcommitteeSession)
        .join(Subcommittee)
        .where(*ACTIVE_SUB, SubcommitteeSession.precision != Precision.UNDECIDED, *conditions)
        .options(selectinload(SubcommitteeSession.subcommittee))
        .order_by(SubcommitteeSession.date_on, SubcommitteeSession.id)
    )


@cache
def public_feed() -> Feed:
    """The same for every request, so built once per process (calendar apps poll it most)."""
    def events() -> list[Event]:
        found = [seminar_event(s) for s in seminar_facts()]
        found += [session_event(s) for s in db.session.scalars(_sessions_query())]
        return [e for e in found if e]

    return Feed(
        key="public",
        name="官民連携プラットフォーム セミナー・分科会",
        scopes=(*SEMINAR_SCOPES, *SESSION_SCOPES),
        events=events,
    )


def seminar_feed(seminar: Seminar) -> Feed:
    def events() -> list[Event]:
        return [e for e in (seminar_event(s) for s in seminar_facts(Seminar.id == seminar.id)) if e]

    return Feed(
        key=f"seminar:{seminar.id}",
        name=f"{seminar.series.name} 第{seminar.number}回" if seminar.number else seminar.series.name,
        scopes=SEMINAR_SCOPES,
        events=events,
    )


def subcommittee_feed(sub: Subcommittee) -> Feed:
    def events() -> list[Event]:
        found = [session_event(s) for s in db.session.scalars(_sessions_query(Subcommittee.id == sub.id))]
        milestones = db.session.scalars(
            select(Milestone).where(Milestone.subcommittee_id == sub.id)
            .options(selectinload(Milestone.subcommittee)).order_by(Milestone.due_on, Milestone.id)
        )
        found += [milestone_event(m) for m in milestones]
        return [e for e in found if e]

    return Feed(
        key=f"subcommittee:{sub.id}",
        name=sub.name,
        scopes=(*SESSION_SCOPES, "milestones"),
        events=events,
    )


def personal_feed(user: User) -> Feed:
    """Registered seminars (with join links) and sessions of one's subcommittees."""
    registered = select(Registration.seminar_id).where(
        Registration.user_id == user.id, Registration.state == RegistrationState.REGISTERED)
    memberships = select(SubcommitteeMember.subcommittee_id).where(
        SubcommitteeMember.user_id == user.id, SubcommitteeMember.state == MembershipState.APPROVED)

    def events() -> list[Event]:
        found = [seminar_event(s, join_url=s.join_url) for s in seminar_facts(Seminar.id.in_(registered))]
        found += [session_event(s, join_url=s.join_url)
                  for s in db.session.scalars(_sessions_query(SubcommitteeSession.subcommittee_id.in_(memberships)))]
        return [e for e in found if e]

    return Feed(
        key=f"user:{user.id}:{user.calendar_token}",
        name=f"官民連携プラットフォーム（{user.name}）",
        # The account's name is in ``name`` (X-WR-CALNAME), so "users" (moved by every log-in) is not read.
        scopes=(*SEMINAR_SCOPES, "registrations", *SESSION_SCOPES, "subcommittee_members"),
        events=events,
    )


def validator(feed: Feed) -> tuple[str, datetime]:
    """The feed's validator and Last-Modified from the versions of what it reads (one query),
    without building it. The name (X-WR-CALNAME) and the base URL (its links) are in no table."""
    return versions.validator(FORMAT, feed.key, feed.name, base_url(), scopes=feed.scopes)


def build(feed: Feed) -> bytes:
    return calendar_bytes(feed.name, feed.events())
