"""Subcommittees (分科会): proposals, members, plan (activities, sessions, milestones)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.calendar.models import new_uid
from portal.core.dates import Dated, Precision, today_local
from portal.core.db import Model, Timestamps, UTCDateTime, enum_column, part_of, utcnow

# 対象分野 as the seed's proposal form lists them; その他 takes free text.
TARGET_FIELDS = (
    "交通・モビリティ",
    "エネルギー",
    "防災",
    "インフラ維持管理",
    "観光・地域活性化",
    "健康・医療",
    "環境",
    "農林水産業",
    "都市計画・整備",
    "物流",
    "セキュリティ・見守り",
    "その他",
)
OTHER_FIELD = "その他"
# How the seed's proposal names the activity of holding the subcommittee's meetings.
SESSIONS_ACTIVITY = "分科会開催"


class SubcommitteeStatus(enum.StrEnum):
    PROPOSED = "proposed"  # 提案中
    CHANGES_REQUESTED = "changes_requested"  # 修正依頼
    ACTIVE = "active"  # 活動中
    REJECTED = "rejected"
    CLOSED = "closed"


class MembershipState(enum.StrEnum):
    PENDING = "pending"  # 申請中
    APPROVED = "approved"
    DECLINED = "declined"
    LEFT = "left"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class MilestoneState(enum.StrEnum):
    PLANNED = "planned"
    DONE = "done"
    LATE = "late"


class Subcommittee(Timestamps, Model):
    __tablename__ = "subcommittees"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    fiscal_year: Mapped[int]
    status: Mapped[SubcommitteeStatus] = mapped_column(
        enum_column(SubcommitteeStatus), default=SubcommitteeStatus.ACTIVE
    )
    proposer: Mapped[str | None] = mapped_column(String(200))  # 分科会提案者 as written
    proposer_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str | None] = mapped_column(Text)  # 分科会の目的
    main_theme: Mapped[str | None] = mapped_column(Text)  # 活動のメインテーマ
    issues: Mapped[list[str]] = mapped_column(JSON, default=list)  # 解決したい課題
    outcomes: Mapped[list[str]] = mapped_column(JSON, default=list)  # 期待される成果
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)  # 対象分野
    fields_other: Mapped[str | None] = mapped_column(String(200))  # その他 (free text)
    # 検討の進め方: the proposal's steps in order, each {"title": 方向性共有, "points": [...]}.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    review_note: Mapped[str | None] = mapped_column(Text)  # the secretariat's request for changes

    proposer_organization = relationship("Organization")
    activities: Mapped[list[Activity]] = relationship(
        back_populates="subcommittee", order_by="Activity.position", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[SubcommitteeSession]] = relationship(
        back_populates="subcommittee",
        order_by="SubcommitteeSession.number",
        cascade="all, delete-orphan",
    )
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="subcommittee", order_by="Milestone.position", cascade="all, delete-orphan"
    )
    contacts: Mapped[list[ContactPerson]] = relationship(
        back_populates="subcommittee",
        order_by="ContactPerson.position",
        cascade="all, delete-orphan",
    )
    members: Mapped[list[SubcommitteeMember]] = relationship(
        back_populates="subcommittee", cascade="all, delete-orphan"
    )
    materials = relationship("Material", order_by="Material.id", passive_deletes=True)
    proposed_by = relationship("User", foreign_keys=[proposed_by_id])

    @property
    def in_review(self) -> bool:
        """A proposal the secretariat has not decided yet (proposed, or sent back for changes)."""
        return self.status in (SubcommitteeStatus.PROPOSED, SubcommitteeStatus.CHANGES_REQUESTED)

    @property
    def awaits_revision(self) -> bool:
        """The secretariat asked its proposer for changes."""
        return self.status is SubcommitteeStatus.CHANGES_REQUESTED


class SubcommitteeMember(Model):
    __tablename__ = "subcommittee_members"
    __table_args__ = (UniqueConstraint("subcommittee_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subcommittee_id: Mapped[int] = part_of("subcommittees.id")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(default=False)
    state: Mapped[MembershipState] = mapped_column(enum_column(MembershipState))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    subcommittee: Mapped[Subcommittee] = relationship(back_populates="members")
    user = relationship("User", foreign_keys=[user_id])


class Activity(Model):
    """活動1, 活動2…: a line of work over a period of the fiscal year."""

    __tablename__ = "subcommittee_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    subcommittee_id: Mapped[int] = part_of("subcommittees.id")
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(50))  # 活動1
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    starts_on: Mapped[date | None] = mapped_column(Date)  # first day of its period
    ends_on: Mapped[date | None] = mapped_column(Date)  # last day of its period

    subcommittee: Mapped[Subcommittee] = relationship(back_populates="activities")

    @property
    def period(self) -> tuple[date, date] | None:
        """First and last day, None when undated. An activity given only a start month (the
        form and the importer allow it) runs within that month."""
        if self.starts_on is None:
            return None
        return self.starts_on, self.ends_on or self.starts_on

    @property
    def holds_sessions(self) -> bool:
        """The activity that is the subcommittee's own meetings (the seed's 活動2 「分科会開催…」):
        the plan lists the sessions in its row instead of repeating its title."""
        return self.title.startswith(SESSIONS_ACTIVITY)


class SubcommitteeSession(Dated, Timestamps, Model):
    """分科会①–④: a meeting of the subcommittee."""

    __tablename__ = "subcommittee_sessions"
    __table_args__ = (UniqueConstraint("subcommittee_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subcommittee_id: Mapped[int] = part_of("subcommittees.id")
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    date_on: Mapped[date | None] = mapped_column(Date)
    precision: Mapped[Precision] = mapped_column(
        enum_column(Precision), default=Precision.UNDECIDED
    )
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    join_url: Mapped[str | None] = mapped_column(String(500))  # members only
    status: Mapped[SessionStatus] = mapped_column(
        enum_column(SessionStatus), default=SessionStatus.SCHEDULED
    )
    sequence: Mapped[int] = mapped_column(default=0)
    # The calendar UID, fixed at creation: a renumbered session stays the same event.
    uid: Mapped[str] = mapped_column(String(255), unique=True, default=lambda: new_uid("session"))
    label_shows_end = False

    subcommittee: Mapped[Subcommittee] = relationship(back_populates="sessions")

    @property
    def order_key(self) -> tuple[bool, date, int]:
        """Pages list sessions by date (then number), as the feeds do: the seed plans ④ in
        10-12月 and ③ in 1-3月, and both must read the same way. Undecided dates go last."""
        return (self.date_on is None, self.date_on or date.max, self.number)

    @property
    def circled_number(self) -> str:
        return chr(0x2460 + self.number - 1) if 1 <= self.number <= 20 else str(self.number)



class Milestone(Timestamps, Model):
    """★ マイルストーン: due on a day; done on a day; late on its own once overdue."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    subcommittee_id: Mapped[int] = part_of("subcommittees.id")
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(default=0)
    uid: Mapped[str] = mapped_column(String(255), unique=True, default=lambda: new_uid("milestone"))
    # The due date the week-before reminder went out for (a moved milestone is reminded again).
    reminded_for: Mapped[date | None] = mapped_column(Date)

    subcommittee: Mapped[Subcommittee] = relationship(back_populates="milestones")

    def state(self, today: date | None = None) -> MilestoneState:
        if self.done_on is not None:
            return MilestoneState.DONE
        if self.due_on < (today or today_local()):
            return MilestoneState.LATE
        return MilestoneState.PLANNED


class ContactPerson(Model):
    """連絡窓口: visible to logged-in accounts only."""

    __tablename__ = "subcommittee_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    subcommittee_id: Mapped[int] = part_of("subcommittees.id")
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))

    subcommittee: Mapped[Subcommittee] = relationship(back_populates="contacts")
