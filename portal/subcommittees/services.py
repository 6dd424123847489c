"""Subcommittee rules: what is listed, the fiscal-year plan."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.accounts.models import Role, User
from portal.audit.services import record
from portal.core.dates import Precision, fiscal_year_bounds, local_datetime, today_local
from portal.core.db import assign, db, utcnow
from portal.mail.services import enqueue, secretariat_address
from portal.subcommittees.models import (
    TARGET_FIELDS,
    Activity,
    MembershipState,
    Milestone,
    MilestoneState,
    SessionStatus,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
    SubcommitteeStatus,
)
from portal.web.urls import external_url


def open_subcommittees() -> list[Subcommittee]:
    return list(
        db.session.scalars(
            select(Subcommittee)
            .where(Subcommittee.status == SubcommitteeStatus.ACTIVE)
            .order_by(Subcommittee.fiscal_year.desc(), Subcommittee.name)
        )
    )


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


def quarter_of(month: int) -> int:
    """Fiscal quarter 1–4: 4-6月 = 1, 7-9月 = 2, 10-12月 = 3, 1-3月 = 4."""
    return (month - 4) % 12 // 3 + 1


QUARTER_LABELS = ("4-6月", "7-9月", "10-12月", "1-3月")


# --------------------------------------------------------------------------- rules

SESSION_SEQUENCE_FIELDS = {"date_on", "precision", "starts_at", "ends_at", "status", "join_url"}
WHEN_FIELDS = {"date_on", "precision", "starts_at", "ends_at"}


class SubcommitteeError(Exception):
    """A rule was broken; the message is shown as is."""


def membership_of(sub: Subcommittee, user: Any) -> SubcommitteeMember | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(SubcommitteeMember).where(
        SubcommitteeMember.subcommittee_id == sub.id, SubcommitteeMember.user_id == user.id))


def is_member(sub: Subcommittee, user: Any) -> bool:
    m = membership_of(sub, user)
    return m is not None and m.state is MembershipState.APPROVED


def is_lead(sub: Subcommittee, user: Any) -> bool:
    m = membership_of(sub, user)
    return m is not None and m.state is MembershipState.APPROVED and m.is_lead


def _mail(to: str | list[str], subject: str, template: str, kind: str, **context: Any) -> None:
    """One message per recipient, so members' addresses are not shown to each other."""
    body = render_template(f"mail/{template}", **context)
    for address in [to] if isinstance(to, str) else to:
        enqueue(address, f"【官民連携プラットフォーム】{subject}", body, kind=kind)


def lead_addresses(sub: Subcommittee) -> list[str]:
    return [m.user.email for m in sub.members if m.is_lead and m.state is MembershipState.APPROVED]


def member_addresses(sub: Subcommittee) -> list[str]:
    return [m.user.email for m in sub.members if m.state is MembershipState.APPROVED]


# Proposals ----------------------------------------------------------------------------------

def slugify(name: str, fiscal_year: int) -> str:
    ascii_part = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    base = ascii_part or f"sc{fiscal_year}"
    slug, n = base, 1
    while db.session.scalar(select(Subcommittee.id).where(Subcommittee.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def propose(user: User, values: dict[str, Any]) -> Subcommittee:
    """A member proposes a subcommittee; the secretariat reviews it."""
    if user.role is Role.OBSERVER:
        raise SubcommitteeError(_l("オブザーバーは分科会を提案できません。"))
    bad = [f for f in values.get("fields", []) if f not in TARGET_FIELDS]
    if bad:
        raise SubcommitteeError(_l("対象分野が正しくありません: %(fields)s", fields=", ".join(bad)))
    sub = Subcommittee(
        slug=slugify(values.get("slug") or "", values["fiscal_year"]), status=SubcommitteeStatus.PROPOSED,
        proposed_by_id=user.id, proposer=user.organization.name if user.organization else user.name,
        proposer_organization_id=user.organization_id, **{k: v for k, v in values.items() if k != "slug"},
    )
    db.session.add(sub)
    db.session.flush()
    record("subcommittee.proposed", actor_id=user.id, subject=f"subcommittee:{sub.id}")
    _mail(secretariat_address(), f"分科会の提案: {sub.name}", "subcommittee_proposed.txt",
          "subcommittee.proposed", sub=sub, user=user, url=external_url(f"/secretariat/subcommittees/{sub.id}"))
    return sub


def revise(sub: Subcommittee, user: User, values: dict[str, Any]) -> None:
    """The proposer revises after a request for changes; it goes back to review."""
    if sub.proposed_by_id != user.id or sub.status not in (SubcommitteeStatus.PROPOSED, SubcommitteeStatus.CHANGES_REQUESTED):
        raise SubcommitteeError(_l("この提案は修正できません。"))
    assign(sub, values)
    sub.status = SubcommitteeStatus.PROPOSED
    _mail(secretariat_address(), f"分科会の提案（修正版）: {sub.name}", "subcommittee_proposed.txt",
          "subcommittee.revised", sub=sub, user=user, url=external_url(f"/secretariat/subcommittees/{sub.id}"))


def review(sub: Subcommittee, by: User, decision: str, note: str = "") -> None:
    """approve (active, the proposer becomes its first lead), changes, or reject; the proposer is mailed."""
    if sub.status not in (SubcommitteeStatus.PROPOSED, SubcommitteeStatus.CHANGES_REQUESTED):
        raise SubcommitteeError(_l("この提案は既に処理されています。"))
    proposer = db.session.get(User, sub.proposed_by_id) if sub.proposed_by_id else None
    if decision == "approve":
        sub.status = SubcommitteeStatus.ACTIVE
        if proposer is not None:
            membership = membership_of(sub, proposer) or SubcommitteeMember(subcommittee=sub, user_id=proposer.id)
            membership.state, membership.is_lead = MembershipState.APPROVED, True
            membership.decided_at, membership.decided_by_id = utcnow(), by.id
            db.session.add(membership)
    elif decision == "changes":
        if not note.strip():
            raise SubcommitteeError(_l("修正してほしい点を入力してください。"))
        sub.status = SubcommitteeStatus.CHANGES_REQUESTED
    elif decision == "reject":
        sub.status = SubcommitteeStatus.REJECTED
    else:
        raise SubcommitteeError(_l("判断を選んでください。"))
    sub.review_note = note.strip() or None
    record(f"subcommittee.{decision}", actor_id=by.id, subject=f"subcommittee:{sub.id}")
    if proposer is not None:
        subjects = {"approve": "分科会の提案が承認されました", "changes": "分科会の提案について修正のお願い",
                    "reject": "分科会の提案について"}
        _mail(proposer.email, f"{subjects[decision]}: {sub.name}", "subcommittee_reviewed.txt",
              f"subcommittee.{decision}", sub=sub, user=proposer, decision=decision,
              url=external_url(f"/subcommittees/{sub.slug}") if decision == "approve" else external_url("/account/subcommittees"))


# Membership ---------------------------------------------------------------------------------

def request_join(sub: Subcommittee, user: User) -> SubcommitteeMember:
    if sub.status is not SubcommitteeStatus.ACTIVE:
        raise SubcommitteeError(_l("この分科会は現在参加を受け付けていません。"))
    if user.role is Role.OBSERVER:
        raise SubcommitteeError(_l("オブザーバーの方は分科会の内容を閲覧できますが、参加はできません。"))
    membership = membership_of(sub, user)
    if membership is not None and membership.state in (MembershipState.PENDING, MembershipState.APPROVED):
        return membership
    if membership is None:
        membership = SubcommitteeMember(subcommittee=sub, user_id=user.id)
        db.session.add(membership)
    membership.state, membership.is_lead = MembershipState.PENDING, False
    membership.requested_at, membership.decided_at, membership.decided_by_id = utcnow(), None, None
    db.session.flush()
    leads = lead_addresses(sub) or [secretariat_address()]
    _mail(leads, f"分科会への参加申請: {sub.name}", "subcommittee_join_requested.txt", "subcommittee.join_requested",
          sub=sub, user=user, url=external_url("/account/subcommittees"))
    return membership


def decide(membership: SubcommitteeMember, by: User, approve: bool) -> None:
    if membership.state is not MembershipState.PENDING:
        raise SubcommitteeError(_l("この申請は既に処理されています。"))
    membership.state = MembershipState.APPROVED if approve else MembershipState.DECLINED
    membership.decided_at, membership.decided_by_id = utcnow(), by.id
    sub = membership.subcommittee
    record("subcommittee.member_" + ("approved" if approve else "declined"), actor_id=by.id,
           subject=membership.user.email, details={"subcommittee": sub.id})
    _mail(membership.user.email, ("分科会への参加が承認されました: " if approve else "分科会への参加申請について: ") + sub.name,
          "subcommittee_join_decided.txt", "subcommittee.join_decided", sub=sub, user=membership.user,
          approve=approve, url=external_url(f"/subcommittees/{sub.slug}"))


def leave(sub: Subcommittee, user: User) -> None:
    membership = membership_of(sub, user)
    if membership is None or membership.state not in (MembershipState.APPROVED, MembershipState.PENDING):
        return
    if membership.is_lead and membership.state is MembershipState.APPROVED and len(lead_addresses(sub)) == 1:
        raise SubcommitteeError(_l("最後のリーダーは退会できません。先に他のメンバーをリーダーに任命してください。"))
    membership.state, membership.is_lead = MembershipState.LEFT, False
    membership.decided_at = utcnow()


def appoint_lead(membership: SubcommitteeMember, by: User) -> None:
    if membership.state is not MembershipState.APPROVED:
        raise SubcommitteeError(_l("承認済みのメンバーだけをリーダーに任命できます。"))
    membership.is_lead = True
    membership.decided_at = utcnow()
    record("subcommittee.lead_appointed", actor_id=by.id, subject=membership.user.email,
           details={"subcommittee": membership.subcommittee_id})


def members(sub: Subcommittee, states: tuple[MembershipState, ...] = (MembershipState.APPROVED,)) -> list[SubcommitteeMember]:
    return list(db.session.scalars(
        select(SubcommitteeMember).where(SubcommitteeMember.subcommittee_id == sub.id, SubcommitteeMember.state.in_(states))
        .options(selectinload(SubcommitteeMember.user).selectinload(User.organization))
        .order_by(SubcommitteeMember.is_lead.desc(), SubcommitteeMember.requested_at)
    ))


# Plan ---------------------------------------------------------------------------------------

def quarter_bounds(fy: int, quarter: int) -> tuple[date, date]:
    """First and last day of fiscal quarter 1–4 (4-6月 … 1-3月)."""
    start_month = (3 + 3 * (quarter - 1)) % 12 + 1
    year = fy if start_month >= 4 else fy + 1
    first = date(year, start_month, 1)
    nxt = date(year + (start_month + 3 > 12), (start_month + 2) % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def save_session(sub: Subcommittee, session: SubcommitteeSession | None, values: dict[str, Any]) -> SubcommitteeSession:
    """Add or change a session. Members are mailed when it is scheduled or moved."""
    created = session is None
    if created:
        if any(s.number == values["number"] for s in sub.sessions):
            raise SubcommitteeError(_l("第%(number)s回の会合は既にあります。", number=values["number"]))
        session = SubcommitteeSession(subcommittee=sub, **values)
        db.session.add(session)
        changed = set(values)
    else:
        before = session.label(with_year=True)
        changed = assign(session, values)
        if changed & SESSION_SEQUENCE_FIELDS:
            session.sequence += 1
        if changed:
            session.updated_at = utcnow()
    db.session.flush()
    if session.status is SessionStatus.SCHEDULED and session.window is not None and (created or changed & WHEN_FIELDS):
        addresses = member_addresses(sub)
        if addresses:
            _mail(addresses, f"分科会{session.circled_number}の日程{'のお知らせ' if created else '変更のお知らせ'}: {sub.name}",
                  "subcommittee_session.txt", "subcommittee.session_" + ("scheduled" if created else "moved"),
                  sub=sub, session=session, before=None if created else before,
                  url=external_url(f"/subcommittees/{sub.slug}"))
    return session


def save_milestone(sub: Subcommittee, milestone: Milestone | None, *, title: str, due_on: date) -> Milestone:
    if milestone is None:
        milestone = Milestone(subcommittee=sub, position=len(sub.milestones), title=title, due_on=due_on)
        db.session.add(milestone)
    elif assign(milestone, {"title": title, "due_on": due_on}):
        milestone.sequence += 1
        milestone.updated_at = utcnow()
    return milestone


def mark_done(milestone: Milestone, done_on: date | None = None) -> None:
    milestone.done_on = done_on or today_local()
    milestone.sequence += 1
    milestone.updated_at = utcnow()


def save_activity(sub: Subcommittee, activity: Any, values: dict[str, Any]) -> Any:
    if activity is None:
        activity = Activity(subcommittee=sub, position=len(sub.activities), **values)
        db.session.add(activity)
    else:
        assign(activity, values)
    sub.updated_at = utcnow()
    return activity


def send_milestone_reminders(today: date | None = None) -> int:
    """Mail members a week before a milestone is due; once per due date."""
    today = today or today_local()
    soon = today + timedelta(days=7)
    due = list(db.session.scalars(
        select(Milestone).join(Subcommittee).where(
            Subcommittee.status == SubcommitteeStatus.ACTIVE, Milestone.done_on.is_(None),
            Milestone.due_on > today, Milestone.due_on <= soon,
            (Milestone.reminded_for.is_(None)) | (Milestone.reminded_for != Milestone.due_on))
    ))
    sent = 0
    for milestone in due:
        claimed = db.session.execute(
            Milestone.__table__.update()
            .where(Milestone.id == milestone.id,
                   (Milestone.reminded_for.is_(None)) | (Milestone.reminded_for != milestone.due_on))
            .values(reminded_for=milestone.due_on)
        ).rowcount
        sub = milestone.subcommittee
        addresses = member_addresses(sub)
        if claimed and addresses:
            _mail(addresses, f"マイルストーン「{milestone.title}」の期日が近づいています: {sub.name}",
                  "subcommittee_milestone.txt", "subcommittee.milestone_reminder", sub=sub, milestone=milestone,
                  url=external_url(f"/subcommittees/{sub.slug}"))
            sent += 1
        db.session.commit()
    return sent


# Dashboard ----------------------------------------------------------------------------------

@dataclass
class LeadView:
    sub: Subcommittee
    is_lead: bool
    next_session: SubcommitteeSession | None
    milestones_attention: list[Milestone]
    pending: list[SubcommitteeMember]


def dashboard(user: User) -> list[LeadView]:
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
        upcoming = [s for s in sub.sessions if s.window and s.window[1] > today and s.status is SessionStatus.SCHEDULED]
        upcoming.sort(key=lambda s: s.window[0])
        attention = [ms for ms in sub.milestones
                     if ms.state(today) is MilestoneState.LATE
                     or (ms.state(today) is MilestoneState.PLANNED and ms.due_on <= today + timedelta(days=30))]
        pending = members(sub, (MembershipState.PENDING,)) if m.is_lead else []
        views.append(LeadView(sub, m.is_lead, upcoming[0] if upcoming else None, attention, pending))
    return views


def proposals_of(user: User) -> list[Subcommittee]:
    return list(db.session.scalars(
        select(Subcommittee).where(Subcommittee.proposed_by_id == user.id).order_by(Subcommittee.created_at.desc())))


def proposals_to_review() -> list[Subcommittee]:
    return list(db.session.scalars(
        select(Subcommittee).where(Subcommittee.status.in_((SubcommitteeStatus.PROPOSED, SubcommitteeStatus.CHANGES_REQUESTED)))
        .order_by(Subcommittee.created_at)))


def session_values(number: int, title: str, precision: Precision, day: date | None,
                   start: time | None, end: time | None, join_url: str | None, status: SessionStatus) -> dict[str, Any]:
    timed = precision is Precision.DAY and day is not None and start is not None
    return {
        "number": number, "title": title, "precision": precision,
        "date_on": day if precision is not Precision.UNDECIDED else None,
        "starts_at": local_datetime(day, start) if timed else None,
        "ends_at": local_datetime(day, end) if timed and end else None,
        "join_url": join_url, "status": status,
    }


def pending_count_for(user: User) -> int:
    lead_of = select(SubcommitteeMember.subcommittee_id).where(
        SubcommitteeMember.user_id == user.id, SubcommitteeMember.is_lead.is_(True),
        SubcommitteeMember.state == MembershipState.APPROVED)
    return db.session.scalar(select(func.count()).select_from(SubcommitteeMember).where(
        SubcommitteeMember.subcommittee_id.in_(lead_of), SubcommitteeMember.state == MembershipState.PENDING)) or 0




# Timeline (実施スケジュール) -----------------------------------------------------------------

@dataclass
class TimelineMark:
    kind: str  # milestone, activity, session
    label: str
    x: float
    width: float  # 0 for a point in time
    quarter: int
    state: str = ""
    label_end: bool = False  # label drawn left of the mark (near the right edge)


@dataclass
class TimelineRow:
    label: str
    y: float
    marks: list[TimelineMark]


@dataclass
class Timeline:
    fiscal_year: int
    width: int
    height: int
    label_width: int
    quarter_width: float
    quarters: tuple[str, ...]
    rows: list[TimelineRow]
    today_x: float | None
    description: str


def timeline(sub: Subcommittee, today: date | None = None) -> Timeline:
    """The fiscal year as the seed's 実施スケジュール draws it, laid out for SVG."""
    today = today or today_local()
    first, after = fiscal_year_bounds(sub.fiscal_year)
    label_w, chart_w, row_h, top = 150, 800, 34, 40
    span = (after - first).days

    def x(day: date) -> float:
        day = min(max(day, first), after)
        return label_w + (day - first).days / span * chart_w

    rows: list[TimelineRow] = []
    lines: list[str] = []

    def add_row(label: str, marks: list[TimelineMark]) -> None:
        rows.append(TimelineRow(label, top + row_h * len(rows), marks))

    add_row("マイルストーン", [
        TimelineMark("milestone", m.title, x(m.due_on), 0, quarter_of(m.due_on.month), m.state(today).value)
        for m in sub.milestones
    ])
    for m in sub.milestones:
        state = {"done": "完了", "late": "遅延", "planned": "予定"}[m.state(today).value]
        lines.append(f"★ {m.title}: {QUARTER_LABELS[quarter_of(m.due_on.month) - 1]}（期日 {m.due_on:%Y-%m-%d}、{state}）")
    for a in sub.activities:
        if a.starts_on is None:
            continue
        end = (a.ends_on or a.starts_on) + timedelta(days=1)
        add_row(a.label, [TimelineMark("activity", a.title, x(a.starts_on), x(end) - x(a.starts_on),
                                        quarter_of(a.starts_on.month))])
        lines.append(f"{a.label} {a.title}: {a.starts_on:%Y年%m月}〜{(a.ends_on or a.starts_on):%Y年%m月}")
    for s in sub.sessions:
        if s.window is None:
            lines.append(f"分科会{s.circled_number} {s.title}: 未定")
            continue
        start, end = s.window
        width = 0 if s.precision is Precision.DAY else x(end) - x(start)
        add_row(f"分科会{s.circled_number}", [TimelineMark("session", s.title, x(start), width,
                                                          quarter_of(start.month), s.status.value)])
        lines.append(f"分科会{s.circled_number} {s.title}: {s.label(with_year=True)}")
    for row in rows:
        for mark in row.marks:
            mark.label_end = mark.kind != "activity" and mark.x + mark.width > label_w + chart_w * 0.62
    today_x = x(today) if first <= today < after else None
    return Timeline(sub.fiscal_year, label_w + chart_w + 10, top + row_h * len(rows) + 10, label_w,
                    chart_w / 4, QUARTER_LABELS, rows, today_x, "\n".join(lines))
