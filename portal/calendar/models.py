"""What the calendar keeps about events: tombstones of removed ones, stored UIDs, and the
timestamps every feed's validators are made of."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, event, func, select, union_all
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.core.db import Model, UTCDateTime, utcnow

UID_DOMAIN = "smartcity-ppp-portal"


def new_uid(kind: str) -> str:
    """A UID made of nothing an edit can touch (RFC 5545 §3.8.4.7)."""
    return f"{kind}-{uuid.uuid4().hex}@{UID_DOMAIN}"


class CalendarTombstone(Model):
    __tablename__ = "calendar_tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # seminar, session, milestone
    ref: Mapped[int]
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def next_stamp(previous: datetime | None, now: datetime | None = None) -> datetime:
    """A change's time, at least one whole second after ``previous``: HTTP Last-Modified and
    iCalendar LAST-MODIFIED/DTSTAMP count whole seconds, so two changes within one second would
    otherwise look like one (and If-Modified-Since would answer 304 for the second)."""
    now = now or utcnow()
    if previous is None:
        return now
    if isinstance(previous, str):  # an aggregate over a UNION loses the type on SQLite
        previous = datetime.fromisoformat(previous)
    if previous.tzinfo is None:
        previous = previous.replace(tzinfo=UTC)
    return max(now, previous.replace(microsecond=0) + timedelta(seconds=1))


@event.listens_for(Session, "before_flush")
def _stamp_calendar_changes(session: Session, flush_context, instances) -> None:
    """Tombstones for removed events, and one stamp for every change a feed shows: a second
    after the newest change any feed holds, so every feed's Last-Modified grows with each change."""
    from portal.accounts.models import User
    from portal.seminars.models import Registration, Seminar, SeminarStatus
    from portal.subcommittees.models import Milestone, Subcommittee, SubcommitteeSession

    kinds = {Seminar: "seminar", SubcommitteeSession: "session", Milestone: "milestone"}
    stamped = (Seminar, SubcommitteeSession, Milestone, Subcommittee)
    changed = [obj for obj in session.new if isinstance(obj, stamped)]
    changed += [obj for obj in session.dirty
                if isinstance(obj, stamped) and session.is_modified(obj, include_collections=False)]
    removed = [obj for obj in session.deleted if type(obj) in kinds]
    registrations = [obj for obj in [*session.new, *session.dirty]
                     if isinstance(obj, Registration) and session.is_modified(obj, include_collections=False)]
    if not (changed or removed or registrations):
        return
    with session.no_autoflush:
        if changed or removed:
            # Registrations and reminders too: they share the personal feeds with these.
            newest = session.execute(union_all(
                *(select(func.max(model.updated_at)) for model in (*stamped, Registration)),
                select(func.max(CalendarTombstone.deleted_at)),
                select(func.max(User.calendar_alarms_at)),
            )).scalars().all()
            stamp = next_stamp(max((_aware(v) for v in newest if v is not None), default=None))
            for obj in changed:
                obj.updated_at = stamp
            for obj in removed:
                session.add(CalendarTombstone(kind=kinds[type(obj)], ref=obj.id, deleted_at=stamp))
        for registration in registrations:
            # A second after the newest change in its account's personal feed.
            from portal.calendar.feeds import personal_feed

            user = session.get(User, registration.user_id)
            if user is not None:
                registration.updated_at = next_stamp(max(when for when, _ in personal_feed(user).version()))
    for obj in changed:
        if (isinstance(obj, Seminar) and obj.public_since is None and obj.window is not None
                and obj.status in (SeminarStatus.PUBLISHED, SeminarStatus.CANCELLED)):
            obj.public_since = obj.updated_at


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
