"""Batch jobs (cron). Unlike operations, a job commits, once per registration it handles, so a
failure part-way keeps what was already sent and claimed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult

from portal.core.dates import Precision, to_local
from portal.core.db import db, utcnow
from portal.seminars.models import Registration, RegistrationState, Seminar, SeminarStatus
from portal.seminars.notifications import mail_registration


def send_reminders(now: datetime | None = None) -> int:
    """Mail registered people the day before their seminar; each registration once.

    Safe to run every few minutes: a registration is claimed by a conditional UPDATE of
    ``reminded_at`` in the same transaction as its mail.
    """
    now = now or utcnow()
    tomorrow = to_local(now).date() + timedelta(days=1)
    candidates = db.session.execute(
        select(Registration.id)
        .join(Seminar)
        .where(
            Registration.state == RegistrationState.REGISTERED,
            Registration.reminded_at.is_(None),
            Seminar.status == SeminarStatus.PUBLISHED,
            Seminar.precision == Precision.DAY,
            Seminar.date_on == tomorrow,
        )
    ).scalars().all()
    sent = 0
    for registration_id in candidates:
        claim = cast("CursorResult[Any]", db.session.execute(
            update(Registration)
            .where(Registration.id == registration_id, Registration.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        ))
        claimed = claim.rowcount
        if claimed:
            registration = db.session.get(Registration, registration_id)
            if registration is not None:
                mail_registration(registration, registration.user, "reminder")
                sent += 1
        db.session.commit()
    return sent
