"""Changes: proposals and their review, membership, the lead's plan (sessions, milestones).

Each operation checks the subcommittee's states and raises ``DomainError`` when a rule is broken;
who may act is the view's check (``subcommittees.access``). Nothing here commits: the caller's
unit of work does, so mail queued here leaves only with the change it reports.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.services import record
from portal.calendar.sequence import WHEN_FIELDS
from portal.calendar.sequence import revise as revise_event
from portal.core.dates import Precision, today_local, window
from portal.core.db import assign, db, utcnow
from portal.core.errors import DomainError
from portal.subcommittees import notifications
from portal.subcommittees.models import (
    TARGET_FIELDS,
    Activity,
    MembershipState,
    Milestone,
    SessionStatus,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
    SubcommitteeStatus,
)
from portal.subcommittees.queries import membership_of

DECISIONS = ("approve", "changes", "reject")


# Proposals ----------------------------------------------------------------------------------

def slugify(name: str, fiscal_year: int) -> str:
    ascii_part = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    base = ascii_part or f"sc{fiscal_year}"
    slug, n = base, 1
    while db.session.scalar(select(Subcommittee.id).where(Subcommittee.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_fields(values: dict[str, Any]) -> None:
    bad = [f for f in values.get("fields", []) if f not in TARGET_FIELDS]
    if bad:
        raise DomainError(_l("対象分野が正しくありません: %(fields)s", fields=", ".join(bad)), field="fields")


def propose(user: User, values: dict[str, Any]) -> Subcommittee:
    """A member proposes a subcommittee; the secretariat reviews it."""
    _check_fields(values)
    sub = Subcommittee(
        slug=slugify(values.get("slug") or "", values["fiscal_year"]), status=SubcommitteeStatus.PROPOSED,
        proposed_by_id=user.id, proposer=user.organization.name if user.organization else user.name,
        proposer_organization_id=user.organization_id, **{k: v for k, v in values.items() if k != "slug"},
    )
    db.session.add(sub)
    db.session.flush()
    record("subcommittee.proposed", actor_id=user.id, subject=f"subcommittee:{sub.id}")
    notifications.proposal_received(sub, user)
    return sub


def revise(sub: Subcommittee, user: User, values: dict[str, Any]) -> None:
    """The proposer revises while it is in review (or after a request for changes); it goes back to review."""
    if not sub.in_review:
        raise DomainError(_l("この提案は修正できません。"))
    _check_fields(values)
    assign(sub, values)
    sub.status = SubcommitteeStatus.PROPOSED
    notifications.proposal_received(sub, user, revised=True)


def review(sub: Subcommittee, by: User, decision: str, note: str = "") -> None:
    """approve (active, the proposer becomes its first lead), changes, or reject; the proposer is mailed."""
    if not sub.in_review:
        raise DomainError(_l("この提案は既に処理されています。"), field="note")
    if decision not in DECISIONS:
        raise DomainError(_l("判断を選んでください。"), field="decision")
    if decision == "changes" and not note.strip():
        raise DomainError(_l("修正してほしい点を入力してください。"), field="note")
    proposer = db.session.get(User, sub.proposed_by_id) if sub.proposed_by_id else None
    if decision == "approve":
        sub.status = SubcommitteeStatus.ACTIVE
        if proposer is not None:
            membership = membership_of(sub, proposer) or SubcommitteeMember(subcommittee=sub, user_id=proposer.id)
            membership.state, membership.is_lead = MembershipState.APPROVED, True
            membership.decided_at, membership.decided_by_id = utcnow(), by.id
            db.session.add(membership)
    elif decision == "changes":
        sub.status = SubcommitteeStatus.CHANGES_REQUESTED
    else:
        sub.status = SubcommitteeStatus.REJECTED
    sub.review_note = note.strip() or None
    record(f"subcommittee.{decision}", actor_id=by.id, subject=f"subcommittee:{sub.id}")
    if proposer is not None:
        notifications.proposal_reviewed(sub, proposer, decision)


# Membership ---------------------------------------------------------------------------------

def request_join(sub: Subcommittee, user: User) -> SubcommitteeMember:
    """Ask to join (again, after leaving or being declined); asking while pending or a member changes nothing."""
    if sub.status is not SubcommitteeStatus.ACTIVE:
        raise DomainError(_l("この分科会は現在参加を受け付けていません。"))
    membership = membership_of(sub, user)
    if membership is not None and membership.state in (MembershipState.PENDING, MembershipState.APPROVED):
        return membership
    if membership is None:
        membership = SubcommitteeMember(subcommittee=sub, user_id=user.id)
        db.session.add(membership)
    membership.state, membership.is_lead = MembershipState.PENDING, False
    membership.requested_at, membership.decided_at, membership.decided_by_id = utcnow(), None, None
    db.session.flush()
    notifications.join_requested(sub, user)
    return membership


def decide(membership: SubcommitteeMember, by: User, approve: bool) -> None:
    if membership.state is not MembershipState.PENDING:
        raise DomainError(_l("この申請は既に処理されています。"))
    membership.state = MembershipState.APPROVED if approve else MembershipState.DECLINED
    membership.decided_at, membership.decided_by_id = utcnow(), by.id
    record("subcommittee.member_" + ("approved" if approve else "declined"), actor_id=by.id,
           subject=membership.user.email, details={"subcommittee": membership.subcommittee_id})
    notifications.join_decided(membership, approve, by)
    if approve:
        notifications.membership_changed(membership.subcommittee, membership.user, joined=True)


def leave(sub: Subcommittee, user: User) -> None:
    """Leave, or withdraw a pending request; the last lead stays until another is appointed."""
    membership = membership_of(sub, user)
    if membership is None or membership.state not in (MembershipState.APPROVED, MembershipState.PENDING):
        return
    if (membership.is_lead and membership.state is MembershipState.APPROVED
            and len(notifications.lead_addresses(sub)) == 1):
        raise DomainError(_l("最後のリーダーは退会できません。先に他のメンバーをリーダーに任命してください。"))
    was_member = membership.state is MembershipState.APPROVED
    membership.state, membership.is_lead = MembershipState.LEFT, False
    membership.decided_at = utcnow()
    if was_member:
        notifications.membership_changed(sub, user, joined=False)


def appoint_lead(membership: SubcommitteeMember, by: User) -> None:
    if membership.state is not MembershipState.APPROVED:
        raise DomainError(_l("承認済みのメンバーだけをリーダーに任命できます。"))
    membership.is_lead = True
    membership.decided_at = utcnow()
    record("subcommittee.lead_appointed", actor_id=by.id, subject=membership.user.email,
           details={"subcommittee": membership.subcommittee_id})


# The plan -----------------------------------------------------------------------------------

def save_session(sub: Subcommittee, session: SubcommitteeSession | None, values: dict[str, Any]) -> SubcommitteeSession:
    """Add or change a session (numbers are unique within the subcommittee). Members are mailed
    when a scheduled session gets a date or a new one."""
    number = values.get("number", session.number if session else None)
    if any(s.number == number and s is not session for s in sub.sessions):
        raise DomainError(_l("第%(number)s回の会合は既にあります。", number=number), field="number")
    created = session is None
    before: str | None = None  # the date as it was, for the members' mail
    if session is None:
        session = SubcommitteeSession(subcommittee=sub, **values)
        db.session.add(session)
        changed = set(values)
    else:
        before = session.label(with_year=True)
        changed = assign(session, values)
        revise_event(session, changed)
    db.session.flush()
    if not _announced(created, changed, session.window is not None, session.status):
        return session
    if session.status is SessionStatus.CANCELLED:
        notifications.session_announced(sub, session, None, cancelled=True)
    else:
        # A new date or link, or called off no more: every member's calendar gets the session as it is.
        notifications.session_announced(sub, session, before if changed & WHEN_FIELDS and not created else None)
    return session


def _announced(created: bool, changed: set[str], dated: bool, status: SessionStatus) -> bool:
    """Whether saving a session mails every member: it has a date (or a month…) and is new,
    or its date, link or status changed; a cancelled one only when it has just been cancelled."""
    if not dated:
        return False
    if status is SessionStatus.CANCELLED:
        return not created and "status" in changed
    return created or bool(changed & (WHEN_FIELDS | {"join_url", "status"}))


def session_mails(sub: Subcommittee, session: SubcommitteeSession | None, values: dict[str, Any]) -> int:
    """How many members ``save_session(sub, session, values)`` would mail (0: nobody), for the
    confirmation asked before it; the same rule, nothing changed."""
    if session is None:
        changed = set(values)
    else:
        changed = {k for k, v in values.items() if getattr(session, k) != v}
    current = {k: getattr(session, k) for k in ("date_on", "precision", "status")} if session else {}
    merged = {**current, **values}
    dated = window(merged.get("date_on"), merged.get("precision", Precision.UNDECIDED)) is not None
    status = merged.get("status", SessionStatus.SCHEDULED)
    return len(notifications.member_addresses(sub)) if _announced(session is None, changed, dated, status) else 0


def save_milestone(sub: Subcommittee, milestone: Milestone | None, *, title: str, due_on: date) -> Milestone:
    if milestone is None:
        milestone = Milestone(subcommittee=sub, position=len(sub.milestones), title=title, due_on=due_on)
        db.session.add(milestone)
    else:
        revise_event(milestone, assign(milestone, {"title": title, "due_on": due_on}))
    return milestone


def mark_done(milestone: Milestone, done_on: date | None = None) -> None:
    """Done on the given day (the importer may leave it out: today)."""
    revise_event(milestone, assign(milestone, {"done_on": done_on or today_local()}))


def mark_not_done(milestone: Milestone) -> None:
    """Undo 完了 (marked by mistake, or on the wrong day)."""
    revise_event(milestone, assign(milestone, {"done_on": None}))


def save_activity(sub: Subcommittee, activity: Activity | None, values: dict[str, Any]) -> Activity:
    """Add or change one activity of the plan (the importer's record by record; a proposal's
    form replaces the whole list)."""
    if activity is None:
        activity = Activity(subcommittee=sub, position=len(sub.activities), **values)
        db.session.add(activity)
    else:
        assign(activity, values)
    sub.updated_at = utcnow()
    return activity
