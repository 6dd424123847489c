"""Governance's scheduled job: the quarterly reminder to review accounts (棚卸し).

A job, not an operation: it runs from cron (``flask portal send-reminders``) with
no request around it, so it commits its own work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from portal.core.dates import to_local
from portal.core.db import db, utcnow
from portal.governance import notifications
from portal.governance.queries import inventory


def send_review_reminder(now: datetime | None = None) -> bool:
    """Once a quarter, remind the secretariat to review accounts not reviewed for 90 days.
    Commits; False when nothing is due or this quarter's reminder went out already."""
    now = now or utcnow()
    due = inventory("unreviewed", now)
    if not due:
        return False
    local = to_local(now)
    period = f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    try:
        with db.session.begin_nested():
            notifications.review_reminder(len(due), period)
            db.session.flush()
    except IntegrityError:
        return False  # already reminded this quarter
    db.session.commit()
    return True
