"""Calendar feeds: which events each feed holds, its version (for ETag and 304), and a cache.

A feed's version is its newest change and its number of rows, found with one aggregate query,
so a conditional request is answered without building anything, and a built feed is kept per
version (an unchanged feed is never rebuilt). The cache is an optimization private to each
process; any process can rebuild the same bytes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Select, func, literal, select, union_all
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
from portal.calendar.models import CalendarTombstone
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
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

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
    for item_id, point, organization, department, person, honorific in conn.execute(
        select(Presenter.program_item_id, Presenter.point_index, Presenter.organization, Presenter.department,
               Presenter.person, Presenter.honorific)
        .join(ProgramItem).where(ProgramItem.seminar_id.in_(chosen))
        .order_by(Presenter.program_item_id, Presenter.position)
    ).all():
        presenters[item_id].append((point, presenter_display(organization, department, person, honorific)))
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
    """What a feed holds. ``version`` is cheap; ``build`` makes the bytes."""

    key: str
    name: str
    version_queries: list[Select]
    events: Callable[[], list[Event]]

    def __post_init__(self) -> None:
        # Every feed also moves when an event anywhere was deleted (rare; cheap to check).
        parts = [*self.version_queries, _TOMBSTONES]
        self._parts = len(parts)
        self._union = union_all(*(q.add_columns(literal(i).label("part")) for i, q in enumerate(parts)))

    def version(self) -> tuple:
        """Newest change and row count of each part, in one round trip (a UNION ALL)."""
        rows = {row[2]: row for row in db.session.execute(self._union)}
        return tuple(
            (_aware(rows[i][0]) if rows[i][0] is not None else EPOCH, rows[i][1]) for i in range(self._parts)
        )


def _aware(value: datetime | str) -> datetime:
    """Aggregates over a UNION lose the column type on SQLite: normalize to aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _version_of(model, *conditions, joins=()) -> Select:
    query = select(func.max(model.updated_at), func.count(model.id))
    for join in joins:
        query = query.join(join)
    return query.where(*conditions)


_TOMBSTONES = select(func.max(CalendarTombstone.deleted_at), func.count(CalendarTombstone.id))


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
        version_queries=[
            _version_of(Seminar, *PUBLIC_SEMINAR),
            # Any seminar's change, so one leaving the feed (back to draft) moves Last-Modified.
            _version_of(Seminar),
            _version_of(SubcommitteeSession, *ACTIVE_SUB, joins=(Subcommittee,)),
            # Subcommittee names appear in session titles; a subcommittee may also close.
            _version_of(Subcommittee),
        ],
        events=events,
    )


def seminar_feed(seminar: Seminar) -> Feed:
    def events() -> list[Event]:
        return [e for e in (seminar_event(s) for s in seminar_facts(Seminar.id == seminar.id)) if e]

    return Feed(
        key=f"seminar:{seminar.id}",
        name=f"{seminar.series.name} 第{seminar.number}回" if seminar.number else seminar.series.name,
        version_queries=[_version_of(Seminar, Seminar.id == seminar.id)],
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
        version_queries=[
            _version_of(SubcommitteeSession, SubcommitteeSession.subcommittee_id == sub.id),
            _version_of(Milestone, Milestone.subcommittee_id == sub.id),
            _version_of(Subcommittee, Subcommittee.id == sub.id),
        ],
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
        version_queries=[
            _version_of(Seminar, Seminar.id.in_(registered)),
            _version_of(Registration, Registration.user_id == user.id),
            _version_of(SubcommitteeSession, SubcommitteeSession.subcommittee_id.in_(memberships)),
            _version_of(Subcommittee, Subcommittee.id.in_(memberships)),
            select(func.max(SubcommitteeMember.decided_at), func.count(SubcommitteeMember.id))
            .where(SubcommitteeMember.user_id == user.id),
        ],
        events=events,
    )


@dataclass(frozen=True)
class Built:
    version: tuple
    body: bytes


# Per feed (and base URL), only the body of its newest version: a feed edited often holds one
# body, not one per edit (the public feed is about 1 MB per 1,000 events).
_cache: OrderedDict[tuple[str, str, str], Built] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 256


def etag_and_modified(feed: Feed) -> tuple[str, datetime, tuple]:
    version = feed.version()
    # The name (X-WR-CALNAME: a series, a subcommittee, the account's name) is in no version.
    digest = hashlib.sha256(repr((FORMAT, feed.key, feed.name, version)).encode()).hexdigest()[:32]
    newest = max(v[0] for v in version)
    return f'"{digest}"', newest.replace(microsecond=0), version


def build(feed: Feed, version: tuple) -> bytes:
    """The feed's bytes for this version, kept from an earlier request or built now."""
    key = (feed.key, feed.name, base_url())  # links carry the host when no base URL is set
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit.version == version:
            _cache.move_to_end(key)
            return hit.body
    body = calendar_bytes(feed.name, feed.events())
    with _cache_lock:
        _cache[key] = Built(version, body)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return body
