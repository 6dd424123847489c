"""The seminar series (オンラインセミナー), its seminars, programs and registrations."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import JSON, Date, ForeignKey, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.dates import Dated, Precision, local_datetime
from portal.core.db import Model, Timestamps, UTCDateTime, enum_column, part_of, utcnow

HONORIFIC = "様"  # how the seed names every presenter


class SeminarStatus(enum.StrEnum):
    DRAFT = "draft"  # invisible to everyone but the secretariat
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class SeminarBadge(enum.StrEnum):
    """The one badge a seminar's title carries on every list and page (CSS class badge-<value>)."""

    CANCELLED = "cancelled"
    DRAFT = "draft"
    TENTATIVE = "tentative"  # 予定: date or theme not fixed yet


class QaState(enum.StrEnum):
    """Where a seminar's Q&A stands, as its pages tell it."""

    NOT_STARTED = "not_started"  # never opened yet
    OPEN = "open"
    CLOSED = "closed"


class SeminarPhase(enum.StrEnum):
    """Before, during or after the seminar itself (an exact start and end are needed for 開催中)."""

    UPCOMING = "upcoming"
    RUNNING = "running"
    OVER = "over"


class RegistrationState(enum.StrEnum):
    REGISTERED = "registered"
    WAITING = "waiting"  # キャンセル待ち
    CANCELLED = "cancelled"


class SeminarSeries(Model):
    """One fiscal year of a seminar series (年間スケジュール)."""

    __tablename__ = "seminar_series"
    __table_args__ = (UniqueConstraint("name", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    fiscal_year: Mapped[int] = mapped_column(index=True)
    description: Mapped[str | None] = mapped_column(Text)

    seminars: Mapped[list[Seminar]] = relationship(
        back_populates="series", order_by="Seminar.number"
    )


class Seminar(Dated, Timestamps, Model):
    __tablename__ = "seminars"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # import key, e.g. fy2021-1
    series_id: Mapped[int] = mapped_column(ForeignKey("seminar_series.id"), index=True)
    number: Mapped[int | None]  # 回数
    title: Mapped[str | None] = mapped_column(String(300))  # blank while the theme is 予定
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SeminarStatus] = mapped_column(
        enum_column(SeminarStatus), default=SeminarStatus.DRAFT
    )
    # The local (Asia/Tokyo) day, or the first day of the month when only 上旬/中旬/下旬/a month
    # is known; None when undecided. Exact times are instants in UTC.
    date_on: Mapped[date | None] = mapped_column(Date, index=True)
    precision: Mapped[Precision] = mapped_column(
        enum_column(Precision), default=Precision.UNDECIDED
    )
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None]  # None: no limit
    registration_open: Mapped[bool] = mapped_column(default=False)
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    join_url: Mapped[str | None] = mapped_column(String(500))  # only for registered accounts
    qa_open: Mapped[bool] = mapped_column(default=False)
    qa_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    qa_approval: Mapped[bool] = mapped_column(default=False)  # new questions wait for the secretariat
    mailbox: Mapped[str | None] = mapped_column(String(254))  # overrides SECRETARIAT_EMAIL
    # iCalendar SEQUENCE: grows with every change of time, status or link.
    sequence: Mapped[int] = mapped_column(default=0)
    # When it first stood in the public feeds (set by portal.calendar.models): a seminar that
    # leaves them later answers its own feed with "drop it", one never public stays 404.
    public_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the secretariat last recorded attendance (the list or a webinar's report): until then
    # nobody counts as absent, so the no-shows segment is not offered.
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    series: Mapped[SeminarSeries] = relationship(back_populates="seminars")
    program: Mapped[list[ProgramItem]] = relationship(
        back_populates="seminar",
        order_by="ProgramItem.position",
        cascade="all, delete-orphan",
    )
    registrations: Mapped[list[Registration]] = relationship(
        back_populates="seminar", cascade="all, delete-orphan"
    )
    materials = relationship("Material", order_by="Material.id", passive_deletes=True)

    @property
    def fiscal_year(self) -> int:
        return self.series.fiscal_year

    @property
    def is_tentative(self) -> bool:
        return self.precision.is_tentative or not self.title

    @property
    def badge(self) -> SeminarBadge | None:
        """Cancelled or draft first; else tentative (``is_tentative``); None for a fixed one."""
        if self.status is SeminarStatus.CANCELLED:
            return SeminarBadge.CANCELLED
        if self.status is SeminarStatus.DRAFT:
            return SeminarBadge.DRAFT
        return SeminarBadge.TENTATIVE if self.is_tentative else None

    @property
    def over_at(self) -> datetime | None:
        """When it is over: its end, or for a date without an end time, the end of its window
        (midnight in Asia/Tokyo after its last day); None while undecided."""
        if self.ends_at is not None:
            return self.ends_at
        span = self.window
        return local_datetime(span[1], time(0)) if span is not None else None

    @property
    def qa_state(self) -> QaState:
        if self.qa_open:
            return QaState.OPEN
        return QaState.CLOSED if self.qa_closed_at is not None else QaState.NOT_STARTED

    def phase(self, now: datetime | None = None) -> SeminarPhase:
        now = now or utcnow()
        over = self.over_at
        if over is not None and over <= now:
            return SeminarPhase.OVER
        if self.starts_at is not None and self.starts_at <= now:
            return SeminarPhase.RUNNING
        return SeminarPhase.UPCOMING

    @property
    def is_running(self) -> bool:
        return self.phase() is SeminarPhase.RUNNING

    @property
    def is_past(self) -> bool:
        over = self.over_at
        return over is not None and over <= utcnow()

    def next_change_by_time(self, now: datetime) -> datetime | None:
        """The next instant after ``now`` at which its page changes with no write: registration
        opens or closes, the seminar starts (開催中) or is over. A stored page is good until then."""
        instants = (self.registration_opens_at, self.registration_closes_at, self.starts_at, self.over_at)
        return min((t for t in instants if t is not None and t > now), default=None)


class ProgramItem(Model):
    """One timed part of a seminar's program (プログラム)."""

    __tablename__ = "program_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    seminar_id: Mapped[int] = part_of("seminars.id")
    position: Mapped[int]
    # Wall-clock time on the seminar's day in Asia/Tokyo (15:30, 15:35…), not an instant.
    start_time: Mapped[time | None] = mapped_column(Time)
    title: Mapped[str] = mapped_column(String(300))
    points: Mapped[list[str]] = mapped_column(JSON, default=list)  # bullet points
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)  # ※ remarks

    seminar: Mapped[Seminar] = relationship(back_populates="program")
    presenters: Mapped[list[Presenter]] = relationship(
        back_populates="program_item",
        order_by="Presenter.position",
        cascade="all, delete-orphan",
    )

    def presenters_at(self, index: int | None) -> list[Presenter]:
        """Who stands under point ``index`` (None: under the whole item)."""
        return [p for p in self.presenters if stands_under(p.point_index, len(self.points or ())) == index]


def stands_under(point_index: int | None, points: int) -> int | None:
    """Where a presenter of ``point_index`` is shown in an item with ``points`` points: under
    that point, or (None) under the whole item, as is one whose point is gone."""
    return point_index if point_index is not None and 0 <= point_index < points else None


class Presenter(Model):
    """A presenting organization (and department, person), shown with the honorific 様."""

    __tablename__ = "presenters"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_item_id: Mapped[int] = part_of("program_items.id")
    position: Mapped[int]
    organization: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    person: Mapped[str | None] = mapped_column(String(200))
    # The bullet point this presenter speaks to (index into ProgramItem.points), if any.
    point_index: Mapped[int | None]
    # 様 unless the secretariat chose another (氏, 先生) or none (an empty string).
    honorific: Mapped[str] = mapped_column(String(20), default=HONORIFIC, server_default=HONORIFIC)

    program_item: Mapped[ProgramItem] = relationship(back_populates="presenters")

    @property
    def display(self) -> str:
        return presenter_display(self.organization, self.department, self.person, self.honorific)


def presenter_display(organization: str, department: str | None, person: str | None,
                      honorific: str | None = HONORIFIC) -> str:
    """総務省 サイバーセキュリティ統括官室 様 (also for presenters read as plain rows)."""
    return " ".join(p for p in (organization, department, person, honorific) if p)


class Registration(Model):
    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("seminar_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seminar_id: Mapped[int] = part_of("seminars.id")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[RegistrationState] = mapped_column(enum_column(RegistrationState))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # When the account (re)joined the list: the waitlist is promoted first come, first served.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the secretariat recorded them as present (None: absent, or not recorded yet).
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    seminar: Mapped[Seminar] = relationship(back_populates="registrations")
    user = relationship("User")
