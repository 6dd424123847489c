"""What left the calendar: a removed event leaves a tombstone, so feeds know they changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.core.db import Model, UTCDateTime, utcnow


class CalendarTombstone(Model):
    __tablename__ = "calendar_tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # seminar, session, milestone
    ref: Mapped[int]
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@event.listens_for(Session, "before_flush")
def _remember_removed_events(session: Session, flush_context, instances) -> None:
    from portal.seminars.models import Seminar
    from portal.subcommittees.models import Milestone, SubcommitteeSession

    kinds = {Seminar: "seminar", SubcommitteeSession: "session", Milestone: "milestone"}
    for obj in list(session.deleted):
        kind = kinds.get(type(obj))
        if kind is not None:
            session.add(CalendarTombstone(kind=kind, ref=obj.id, deleted_at=utcnow()))
