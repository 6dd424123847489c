"""Announce a seminar, test-send an announcement, (un)subscribe. Nothing here commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.accounts.models import User
from portal.announcements import notifications, queries
from portal.announcements.models import Announcement, AnnouncementOptOut, AnnouncementState, Segment
from portal.audit.services import record
from portal.core.db import db, utcnow
from portal.core.errors import DomainError
from portal.seminars.models import Seminar, SeminarStatus


def segment_problem(seminar: Seminar, segment: Segment) -> Any:
    """Why this segment cannot be chosen for this seminar (a lazy string), or None. No-shows
    exist only once the seminar is over and its attendance has been recorded."""
    if segment is Segment.NO_SHOWS and (not seminar.is_past or seminar.attendance_recorded_at is None):
        return _l("「参加登録したが欠席した方」は、セミナーの終了後に出席を記録すると選べます。")
    return None


def check(seminar: Seminar, segment: Segment, subcommittee_id: int | None, subject: str, body: str) -> None:
    if seminar.status is not SeminarStatus.PUBLISHED:
        raise DomainError(_l("公開中のセミナーだけを案内できます。"), field="segment")
    problem = segment_problem(seminar, segment)
    if problem is not None:
        raise DomainError(problem, field="segment")
    if segment is Segment.SUBCOMMITTEE and subcommittee_id is None:
        raise DomainError(_l("分科会を選んでください。"), field="subcommittee")
    if not subject.strip() or not body.strip():
        raise DomainError(_l("件名と本文を入力してください。"), field="body")


def announce(seminar: Seminar, by: User, *, segment: Segment, subcommittee_id: int | None, subject: str,
             body: str, send_at: datetime | None, expected: int) -> Announcement:
    """Send now (one outbox message per recipient, in this transaction) or keep it for its time.
    ``expected`` is the count the confirmation showed: if the segment has changed since, refuse
    rather than mail a number of people nobody confirmed."""
    check(seminar, segment, subcommittee_id, subject, body)
    users = queries.recipients(seminar, segment, subcommittee_id)
    if len(users) != expected:
        raise DomainError(_l("送信先の人数が確認後に変わりました（%(count)s人）。もう一度確認してください。",
                             count=len(users)), field="segment")
    if not users:
        raise DomainError(_l("この送信先には案内を受け取る人がいません。"), field="segment")
    now = utcnow()
    later = send_at is not None and send_at > now
    announcement = Announcement(
        seminar_id=seminar.id, segment=segment,
        subcommittee_id=subcommittee_id if segment is Segment.SUBCOMMITTEE else None,
        subject=subject.strip(), body=body.strip(), send_at=send_at if later else now,
        state=AnnouncementState.SCHEDULED if later else AnnouncementState.SENT, created_by_id=by.id)
    db.session.add(announcement)
    if not later:
        notifications.send(announcement, users)
        announcement.sent_at, announcement.recipients = now, len(users)
    db.session.flush()
    record("announcement.scheduled" if later else "announcement.sent", actor_id=by.id,
           subject=f"seminar:{seminar.id}",
           details={"announcement": announcement.id, "segment": segment.value, "recipients": len(users)})
    return announcement


def test_send(seminar: Seminar, by: User, *, subject: str, body: str) -> None:
    """The same mail, to the secretariat account itself only."""
    if not subject.strip() or not body.strip():
        raise DomainError(_l("件名と本文を入力してください。"), field="body")
    notifications.mail_announcement(f"[テスト送信] {subject.strip()}", body.strip(), by, kind="announcement.test")


def set_subscribed(user: User, subscribed: bool) -> bool:
    """Whether anything changed."""
    row = db.session.get(AnnouncementOptOut, user.id)
    if subscribed and row is not None:
        db.session.delete(row)
        return True
    if not subscribed and row is None:
        db.session.add(AnnouncementOptOut(user_id=user.id))
        return True
    return False
