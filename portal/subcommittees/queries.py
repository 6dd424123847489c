"""Reads: what is listed, one subcommittee's page, its members, the lead's dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.core.dates import today_local
from portal.core.db import db
from portal.subcommittees.models import (
    MembershipState,
    Milestone,
    MilestoneState,
    SessionStatus,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
    SubcommitteeStatus,
)

IN_REVIEW = (SubcommitteeStatus.PROPOSED, SubcommitteeStatus.CHANGES_REQUESTED)


def open_subcommittees() -> list[Subcommittee]:
    return list(
        db.session.scalars(
            select(Subcommittee)
            .where(Subcommittee.status == SubcommitteeStatus.ACTIVE)
            .order_by(Subcommittee.fiscal_year.desc(), Subcommittee.name)
        )
    )


def all_subcommittees() -> list[Subcommittee]:
    """Every subcommittee in any state, newest first (the back office's list)."""
    return list(db.session.scalars(select(Subcommittee).order_by(Subcommittee.created_at.desc())))


def get_for_page(slug: str) -> Subcommittee | None:
    return db.session.scalar(
        select(Subcommittee)
        .where(Subcommittee.slug == slug)
        .options(
            selectinload(Subcommittee.activities),
            selectinload(Subcommittee.sessions),
            selectinload(Subcommittee.milestones),
            selectinload(Subcommittee.contacts),
        )
    )


def membership_of(sub: Subcommittee, user: Any) -> SubcommitteeMember | None:
    """This account's membership row in any state; None for visitors."""
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(SubcommitteeMember).where(
        SubcommitteeMember.subcommittee_id == sub.id, SubcommitteeMember.user_id == user.id))


def members(sub: Subcommittee,
            states: tuple[MembershipState, ...] = (MembershipState.APPROVED,)) -> list[SubcommitteeMember]:
    return list(db.session.scalars(
        select(SubcommitteeMember)
        .where(SubcommitteeMember.subcommittee_id == sub.id, SubcommitteeMember.state.in_(states))
        .options(selectinload(SubcommitteeMember.user).selectinload(User.organization))
        .order_by(SubcommitteeMember.is_lead.desc(), SubcommitteeMember.requested_at)
    ))


def pending_requests() -> list[SubcommitteeMember]:
    """Every request to join waiting for a decision, across subcommittees, oldest first."""
    return list(db.session.scalars(
        select(SubcommitteeMember).where(SubcommitteeMember.state == MembershipState.PENDING)
        .options(selectinload(SubcommitteeMember.user).selectinload(User.organization),
                 selectinload(SubcommitteeMember.subcommittee))
        .order_by(SubcommitteeMember.requested_at, SubcommitteeMember.id)))


def requests_of(user: User) -> list[SubcommitteeMember]:
    """The account's own requests still waiting (申請中 on its dashboard)."""
    return list(db.session.scalars(
        select(SubcommitteeMember).where(SubcommitteeMember.user_id == user.id,
                                         SubcommitteeMember.state == MembershipState.PENDING)
        .options(selectinload(SubcommitteeMember.subcommittee)).order_by(SubcommitteeMember.requested_at)))


def proposals_of(user: User) -> list[Subcommittee]:
    return list(db.session.scalars(
        select(Subcommittee).where(Subcommittee.proposed_by_id == user.id).order_by(Subcommittee.created_at.desc())))


def proposals_to_review() -> list[Subcommittee]:
    return list(db.session.scalars(
        select(Subcommittee).where(Subcommittee.status.in_(IN_REVIEW)).order_by(Subcommittee.created_at)))


# The member's dashboard ---------------------------------------------------------------------

@dataclass
class MilestoneLine:
    milestone: Milestone
    state: MilestoneState

    @property
    def late(self) -> bool:
        return self.state is MilestoneState.LATE


@dataclass
class LeadView:
    sub: Subcommittee
    is_lead: bool
    next_session: SubcommitteeSession | None
    milestones_attention: list[MilestoneLine]
    pending: list[SubcommitteeMember]


def dashboard(user: User) -> list[LeadView]:
    """Each subcommittee the account is an approved member of: its next session, the milestones
    that need attention (late, or due within 30 days) and, for its leads, the pending requests."""
    memberships = list(db.session.scalars(
        select(SubcommitteeMember).where(SubcommitteeMember.user_id == user.id,
                                         SubcommitteeMember.state == MembershipState.APPROVED)
        .options(selectinload(SubcommitteeMember.subcommittee).selectinload(Subcommittee.sessions),
                 selectinload(SubcommitteeMember.subcommittee).selectinload(Subcommittee.milestones))
    ))
    today = today_local()
    views = []
    for m in memberships:
        sub = m.subcommittee
        upcoming = [(s.window[0], s) for s in sub.sessions
                    if s.window and s.window[1] > today and s.status is SessionStatus.SCHEDULED]
        upcoming.sort(key=lambda pair: pair[0])
        lines = [MilestoneLine(ms, ms.state(today)) for ms in sub.milestones]
        attention = [line for line in lines if line.late or (
            line.state is MilestoneState.PLANNED and line.milestone.due_on <= today + timedelta(days=30))]
        pending = members(sub, (MembershipState.PENDING,)) if m.is_lead else []
        views.append(LeadView(sub, m.is_lead, upcoming[0][1] if upcoming else None, attention, pending))
    return views
