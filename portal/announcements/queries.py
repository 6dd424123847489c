"""Who an announcement reaches, and what was announced."""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.models import AccountState, Role, User
from portal.announcements.models import Announcement, AnnouncementOptOut, AnnouncementState, Segment
from portal.core.db import db
from portal.seminars.models import Registration, RegistrationState, Seminar
from portal.subcommittees.models import MembershipState, SubcommitteeMember


def recipients(seminar: Seminar, segment: Segment, subcommittee_id: int | None = None) -> list[User]:
    """Active accounts of the segment that have not unsubscribed, each once, in id order."""
    query = select(User).where(User.state == AccountState.ACTIVE,
                               User.id.not_in(select(AnnouncementOptOut.user_id)))
    if segment is Segment.ALL_MEMBERS:
        query = query.where(User.role.in_((Role.MEMBER, Role.OBSERVER)))
    elif segment is Segment.SUBCOMMITTEE:
        query = query.where(User.id.in_(select(SubcommitteeMember.user_id).where(
            SubcommitteeMember.subcommittee_id == subcommittee_id,
            SubcommitteeMember.state == MembershipState.APPROVED)))
    elif segment is Segment.NO_SHOWS:
        query = query.where(User.id.in_(select(Registration.user_id).where(
            Registration.seminar_id == seminar.id, Registration.state == RegistrationState.REGISTERED,
            Registration.attended_at.is_(None))))
    else:
        state = RegistrationState.REGISTERED if segment is Segment.REGISTRANTS else RegistrationState.WAITING
        query = query.where(User.id.in_(select(Registration.user_id).where(
            Registration.seminar_id == seminar.id, Registration.state == state)))
    return list(db.session.scalars(query.order_by(User.id)))


def of_seminar(seminar: Seminar) -> list[Announcement]:
    return list(db.session.scalars(
        select(Announcement).where(Announcement.seminar_id == seminar.id).order_by(Announcement.id.desc())))


def due(now) -> list[int]:
    return list(db.session.scalars(select(Announcement.id).where(
        Announcement.state == AnnouncementState.SCHEDULED, Announcement.send_at <= now).order_by(Announcement.id)))


def subscribed(user: User) -> bool:
    return db.session.get(AnnouncementOptOut, user.id) is None
