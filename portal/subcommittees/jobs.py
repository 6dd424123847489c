"""Jobs run from cron (``flask portal send-reminders``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult

from portal.core.dates import today_local
from portal.core.db import db
from portal.subcommittees import notifications
from portal.subcommittees.models import Milestone, Subcommittee, SubcommitteeStatus

REMINDER_DAYS = 7


def send_milestone_reminders(today: date | None = None) -> int:
    """Mail members a week before a milestone is due; once per due date (a moved milestone is
    reminded again). Commits after each milestone: a job, not a request, and a claim committed
    with its mail is never sent twice by a concurrent run."""
    today = today or today_local()
    soon = today + timedelta(days=REMINDER_DAYS)
    not_reminded = (Milestone.reminded_for.is_(None)) | (Milestone.reminded_for != Milestone.due_on)
    due = list(db.session.scalars(
        select(Milestone).join(Subcommittee).where(
            Subcommittee.status == SubcommitteeStatus.ACTIVE, Milestone.done_on.is_(None),
            Milestone.due_on > today, Milestone.due_on <= soon, not_reminded)
    ))
    sent = 0
    for milestone in due:
        claim = cast("CursorResult[Any]", db.session.execute(
            update(Milestone)
            .where(Milestone.id == milestone.id,
                   (Milestone.reminded_for.is_(None)) | (Milestone.reminded_for != milestone.due_on))
            .values(reminded_for=milestone.due_on)
        ))
        claimed = claim.rowcount
        if claimed and notifications.milestone_due(milestone):
            sent += 1
        db.session.commit()
    return sent
