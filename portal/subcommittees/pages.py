"""What each subcommittee page shows, decided once for its viewer: the templates only display it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.core.dates import today_local
from portal.materials.access import downloadable
from portal.materials.models import Material
from portal.subcommittees import access, queries
from portal.subcommittees.models import (
    OTHER_FIELD,
    MembershipState,
    SessionStatus,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
)
from portal.subcommittees.queries import MilestoneLine
from portal.subcommittees.timeline import PlanTable, Timeline, plan_table, timeline


@dataclass
class SessionLine:
    session: SubcommitteeSession
    when: str
    cancelled: bool
    join_url: str | None  # only for members, and not for a cancelled session


@dataclass
class MaterialLine:
    material: Material
    downloadable: bool
    kind: str  # PDF, PPTX…


@dataclass
class DetailPage:
    sub: Subcommittee
    requested: bool  # the viewer's request is pending (申請中)
    joined: bool  # an approved member
    leads: bool  # …and one of its leads
    may_join: bool
    is_member: bool
    lead: bool  # may run it (a lead, or the secretariat)
    show_contacts: bool  # the contact persons are for logged-in accounts
    members: list[SubcommitteeMember]
    pending: list[SubcommitteeMember]
    sessions: list[SessionLine]
    fields: list[str]
    plan: PlanTable
    timeline: Timeline
    milestones: list[MilestoneLine]
    materials: list[MaterialLine]


def detail_page(sub: Subcommittee, user: Any, locale: str) -> DetailPage:
    today = today_local()
    membership = queries.membership_of(sub, user)
    state = membership.state if membership is not None else None
    is_member = access.is_member(user, sub)
    lead = access.may_lead(user, sub)
    allowed = downloadable(user, sub.materials)
    return DetailPage(
        sub=sub,
        requested=state is MembershipState.PENDING,
        joined=state is MembershipState.APPROVED,
        leads=bool(membership and state is MembershipState.APPROVED and membership.is_lead),
        may_join=access.may_join(user, sub),
        is_member=is_member,
        lead=lead,
        show_contacts=bool(getattr(user, "is_authenticated", False)),
        members=queries.members(sub) if access.see_members(user, sub) else [],
        pending=queries.members(sub, (MembershipState.PENDING,)) if lead else [],
        sessions=[
            SessionLine(s, s.label(with_year=True, locale=locale), s.status is SessionStatus.CANCELLED,
                        s.join_url if is_member and s.status is not SessionStatus.CANCELLED else None)
            for s in sorted(sub.sessions, key=lambda s: s.order_key)
        ],
        fields=[f"{f}（{sub.fields_other}）" if f == OTHER_FIELD and sub.fields_other else f for f in sub.fields],
        plan=plan_table(sub, today),
        timeline=timeline(sub, today),
        milestones=[MilestoneLine(m, m.state(today)) for m in sub.milestones],
        materials=[
            MaterialLine(m, m.id in allowed, m.filename.rsplit(".", 1)[-1].upper()) for m in sub.materials
        ],
    )
