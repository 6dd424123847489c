"""Calendar feeds: which events each feed holds and its validators (for ETag, Last-Modified and 304).

A feed's ETag comes from the change versions of the tables it reads (``portal.core.versions``,
moved by database triggers, so even a write that bypasses the ORM counts) together with its own
newest stamp and row counts; its Last-Modified is that newest stamp, which grows by at least a
second with every change (``portal.calendar.models.next_stamp``). Both are found without
building anything. Keeping built feeds is HTTP's job (nginx's proxy_cache, a calendar app's
copy), not this process's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.calendar import ics
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
from portal.core.versions import ChangeVersion
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
from portal.web.urls import base_url, external_url_for

# Raise when what the same records are written as changes (a new deploy): ETags then change,
# so calendar apps fetch the new text instead of being told 304.
FORMAT = 4
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
    scopes: tuple[str, ...]  # the tables it reads, for the trigger-moved change versions
    events: Callable[[], list[Event]]
    description: str = ""  # RFC 7986 DESCRIPTION: what the calendar holds
    endpoint: tuple[str, tuple[tuple[str, Any], ...]] = ("calendar.public", ())  # its own URL (SOURCE)

    def __post_init__(self) -> None:
        # Every feed also moves when an event anywhere was deleted (rare; cheap to check).
        parts = [*self.version_queries, _TOMBSTONES]
        self._parts = len(parts)
        tagged = [q.add_columns(literal(i).label("part")) for i, q in enumerate(parts)]
        self._union = union_all(*tagged)
        # The trigger-moved counters of the tables it reads ride in the same round trip.
        counters = select(ChangeVersion.changed_at, ChangeVersion.version, literal(-1).label("part")).where(
            ChangeVersion.scope.in_(self.scopes))
        self._with_counters = union_all(*tagged, counters)

    def version(self) -> tuple:
        """Newest stamp and row count of each part, in one round trip (a UNION ALL)."""
        return self._read(self._union)[0]

    def validators(self) -> tuple[tuple, tuple]:
        """The version and the change counters of its tables, in one round trip."""
        return self._read(self._with_counters)

    def _read(self, query) -> tuple[tuple, tuple]:
        rows = db.session.execute(query).all()
        parts = {row[2]: row for row in rows if row[2] >= 0}
        version = tuple(
            (_aware(parts[i][0]) if parts[i][0] is not None else EPOCH, parts[i][1]) for i in range(self._parts)
        )
        return version, tuple(sorted(row[1] for row in rows if row[2] < 0))


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
SEMINAR_SCOPES = ("seminars", "seminar_series", "program_items", "presenters", "calendar_tombstones")
SESSION_SCOPES = ("subcommittees", "subcommittee_sessions", "calendar_tombstones")


def _sessions_query(*conditions) -> Select:
    return (
        select(SubcommitteeSession)
        .join(Subcommittee)
        .where(*ACTIVE_SUB, SubcommitteeSession.precision != Precision.UNDECIDED, *conditions)
        .options(selectinload(SubcommitteeSession.subcommittee))
        .order_by(SubcommitteeSession.date_on, SubcommitteeSession.number, SubcommitteeSession.id)
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
        description="官民連携プラットフォームの公開セミナーと分科会の会合の予定",
        version_queries=[
            _version_of(Seminar, *PUBLIC_SEMINAR),
            # Any seminar's change, so one leaving the feed (back to draft) moves Last-Modified.
            _version_of(Seminar),
            _version_of(SubcommitteeSession, *ACTIVE_SUB, joins=(Subcommittee,)),
            # Subcommittee names appear in session titles; a subcommittee may also close.
            _version_of(Subcommittee),
        ],
        scopes=(*SEMINAR_SCOPES, *SESSION_SCOPES),
        events=events,
    )


def seminar_feed(seminar: Seminar) -> Feed:
    def events() -> list[Event]:
        return [e for e in (seminar_event(s) for s in seminar_facts(Seminar.id == seminar.id)) if e]

    return Feed(
        key=f"seminar:{seminar.id}",
        name=f"{seminar.series.name} 第{seminar.number}回" if seminar.number else seminar.series.name,
        description="官民連携プラットフォームのセミナー1回分の予定（公開情報のみ）",
        endpoint=("calendar.seminar", (("seminar_id", seminar.id),)),
        version_queries=[_version_of(Seminar, Seminar.id == seminar.id)],
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
        description=f"{sub.name}の会合とマイルストーン",
        endpoint=("calendar.subcommittee", (("slug", sub.slug),)),
        version_queries=[
            _version_of(SubcommitteeSession, SubcommitteeSession.subcommittee_id == sub.id),
            _version_of(Milestone, Milestone.subcommittee_id == sub.id),
            _version_of(Subcommittee, Subcommittee.id == sub.id),
        ],
        scopes=(*SESSION_SCOPES, "milestones"),
        events=events,
    )


def personal_feed(user: User) -> Feed:
    """Registered seminars (with join links) and sessions of one's subcommittees."""
    registered = select(Registration.seminar_id).where(
        Registration.user_id == user.id, Registration.state == RegistrationState.REGISTERED)
    memberships = select(SubcommitteeMember.subcommittee_id).where(
        SubcommitteeMember.user_id == user.id, SubcommitteeMember.state == MembershipState.APPROVED)

    alarms = tuple((user.calendar_alarms or "").split())

    def events() -> list[Event]:
        found = [seminar_event(s, join_url=s.join_url) for s in seminar_facts(Seminar.id.in_(registered))]
        found += [session_event(s, join_url=s.join_url)
                  for s in db.session.scalars(_sessions_query(SubcommitteeSession.subcommittee_id.in_(memberships)))]
        return [replace(e, alarms=alarms) for e in found if e]

    return Feed(
        key=f"user:{user.id}:{user.calendar_token}:{','.join(alarms)}",
        name=f"官民連携プラットフォーム（{user.name}）",
        description="参加登録したセミナー（参加用リンク付き）と所属する分科会の会合",
        endpoint=("calendar.personal", (("token", user.calendar_token),)),
        version_queries=[
            # The reminders chosen on /account.
            select(func.max(User.calendar_alarms_at), func.count(User.id)).where(User.id == user.id),
            _version_of(Seminar, Seminar.id.in_(registered)),
            _version_of(Registration, Registration.user_id == user.id),
            _version_of(SubcommitteeSession, SubcommitteeSession.subcommittee_id.in_(memberships)),
            _version_of(Subcommittee, Subcommittee.id.in_(memberships)),
            select(func.max(SubcommitteeMember.decided_at), func.count(SubcommitteeMember.id))
            .where(SubcommitteeMember.user_id == user.id),
        ],
        scopes=(*SEMINAR_SCOPES, "registrations", *SESSION_SCOPES, "subcommittee_members"),
        events=events,
    )


def validator(feed: Feed) -> tuple[str, datetime]:
    """The feed's validator and Last-Modified, without building it: the change versions of the
    tables it reads and its own newest stamp and counts. The name (X-WR-CALNAME) and the base URL
    (its links) are in no table, so they are part of it too."""
    version, counters = feed.validators()
    # Whole seconds, as HTTP dates count: every change is stamped at least a second after the
    # calendar's previous one, so Last-Modified moves with each change.
    newest = max(v[0] for v in version)
    return repr((FORMAT, feed.key, feed.name, base_url(), version, counters)), newest.replace(microsecond=0)


def build(feed: Feed) -> bytes:
    endpoint, args = feed.endpoint
    about = ics.Feed(feed.name, feed.description, external_url_for(endpoint, **dict(args)))
    return calendar_bytes(about, feed.events())
