"""An announcement of a seminar, and the accounts that no longer want announcements."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import Model, UTCDateTime, enum_column, utcnow


class Segment(enum.StrEnum):
    ALL_MEMBERS = "all_members"  # every active member and observer account
    SUBCOMMITTEE = "subcommittee"  # the approved members of one subcommittee
    REGISTRANTS = "registrants"  # registered for this seminar
    WAITLIST = "waitlist"  # waiting for a place at this seminar
    NO_SHOWS = "no_shows"  # registered, the seminar is over, not recorded as present


class AnnouncementState(enum.StrEnum):
    SCHEDULED = "scheduled"  # waits for its time (the send-reminders job sends it)
    SENT = "sent"  # in the outbox, one message per recipient


class Announcement(Model):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    seminar_id: Mapped[int] = mapped_column(ForeignKey("seminars.id", ondelete="CASCADE"), index=True)
    segment: Mapped[Segment] = mapped_column(enum_column(Segment))
    subcommittee_id: Mapped[int | None] = mapped_column(ForeignKey("subcommittees.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[AnnouncementState] = mapped_column(enum_column(AnnouncementState), index=True)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipients: Mapped[int | None]  # how many were mailed
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    seminar = relationship("Seminar")
    subcommittee = relationship("Subcommittee")


class AnnouncementOptOut(Model):
    """An account that unsubscribed from announcements (from a mail's link or its account page)."""

    __tablename__ = "announcement_opt_outs"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
