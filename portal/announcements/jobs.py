"""Scheduled announcements: sent by ``flask portal send-reminders`` (cron, every few minutes).
Commits once per announcement; each is claimed by a conditional UPDATE, so two runs at once
never send one twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult

from portal.announcements import notifications, queries
from portal.announcements.models import Announcement, AnnouncementState
from portal.core.db import db, utcnow


def send_due_announcements(now: datetime | None = None) -> int:
    now = now or utcnow()
    sent = 0
    for announcement_id in queries.due(now):
        claim = cast("CursorResult[Any]", db.session.execute(
            update(Announcement)
            .where(Announcement.id == announcement_id, Announcement.state == AnnouncementState.SCHEDULED)
            .values(state=AnnouncementState.SENT, sent_at=now)
            .execution_options(synchronize_session=False)))
        if claim.rowcount == 1:  # another run did not take it first
            announcement = db.session.get(Announcement, announcement_id)
            assert announcement is not None
            # Who is in the segment at sending time (registrants change; unsubscribes are honoured).
            users = queries.recipients(announcement.seminar, announcement.segment, announcement.subcommittee_id)
            notifications.send(announcement, users)
            announcement.recipients = len(users)
            sent += 1
        db.session.commit()
    return sent
