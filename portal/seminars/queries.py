"""Reads: the annual schedule, one seminar's page, registrations as lists and counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import OrganizationKind, User
from portal.core.dates import fiscal_year, today_local
from portal.core.db import db
from portal.materials.models import Material
from portal.seminars.models import (
    ProgramItem,
    Registration,
    RegistrationState,
    Seminar,
    SeminarSeries,
    SeminarStatus,
)

PUBLIC_STATUSES = (SeminarStatus.PUBLISHED, SeminarStatus.CANCELLED)


def visible_statuses(include_drafts: bool) -> tuple[SeminarStatus, ...]:
    return tuple(SeminarStatus) if include_drafts else PUBLIC_STATUSES


def fiscal_years(include_drafts: bool = False) -> list[int]:
    """Fiscal years that have at least one visible seminar, newest first."""
    return list(
        db.session.scalars(
            select(SeminarSeries.fiscal_year)
            .join(Seminar)
            .where(Seminar.status.in_(visible_statuses(include_drafts)))
            .distinct()
            .order_by(SeminarSeries.fiscal_year.desc())
        )
    )


def default_fiscal_year(years: list[int]) -> int:
    """The current fiscal year, else the latest that has seminars."""
    current = fiscal_year(today_local())
    if current in years or not years:
        return current
    return max(years)


@dataclass
class Schedule:
    fiscal_year: int
    years: list[int]
    series: list[SeminarSeries]
    seminars: list[Seminar]

    @property
    def tentative(self) -> bool:
        """The 'dates and content may change' notice is shown when anything is tentative."""
        return any(s.is_tentative for s in self.seminars if s.status is not SeminarStatus.CANCELLED)


def schedule(fy: int | None, include_drafts: bool = False) -> Schedule:
    years = fiscal_years(include_drafts)
    fy = fy if fy is not None else default_fiscal_year(years)
    seminars = list(
        db.session.scalars(
            select(Seminar)
            .join(SeminarSeries)
            .where(SeminarSeries.fiscal_year == fy, Seminar.status.in_(visible_statuses(include_drafts)))
            .options(contains_eager(Seminar.series))  # the series from the join above: no second query
            .order_by(SeminarSeries.name, Seminar.number, Seminar.date_on, Seminar.id)
        )
    )
    series = list(dict.fromkeys(s.series for s in seminars))
    return Schedule(fy, years, series, seminars)


def all_series() -> list[SeminarSeries]:
    """Every series, the newest fiscal year first (the back office's choices)."""
    return list(db.session.scalars(
        select(SeminarSeries).order_by(SeminarSeries.fiscal_year.desc(), SeminarSeries.name)))


def series_exists(name: str, fiscal_year: int, besides: int | None = None) -> bool:
    query = select(SeminarSeries.id).where(SeminarSeries.name == name, SeminarSeries.fiscal_year == fiscal_year)
    if besides is not None:
        query = query.where(SeminarSeries.id != besides)
    return db.session.scalar(query) is not None


def upcoming(limit: int = 5) -> list[Seminar]:
    """Published seminars from today on (imprecise ones by their month), soonest first."""
    today = today_local()
    candidates = db.session.scalars(
        select(Seminar)
        .where(
            Seminar.status == SeminarStatus.PUBLISHED,
            Seminar.date_on.is_not(None),
            Seminar.date_on >= today.replace(day=1),
        )
        .options(selectinload(Seminar.series))
        .order_by(Seminar.date_on, Seminar.starts_at)
        .limit(limit * 2)
    )
    return [s for s in candidates if s.window and s.window[1] > today][:limit]


def get_for_page(seminar_id: int) -> Seminar | None:
    """One seminar with its program and presenters in one query, and its materials in a second."""
    seminar = db.session.scalars(
        select(Seminar)
        .where(Seminar.id == seminar_id)
        .options(
            # A program is a handful of rows: joining them costs less than a round trip each.
            joinedload(Seminar.series),
            joinedload(Seminar.program).joinedload(ProgramItem.presenters),
        )
    ).unique().first()
    if seminar is not None:
        # Not joined: rows would multiply with presenters. Not selectinload either: its own
        # work costs more than this query (about 1 ms of a 4 ms page here).
        materials = db.session.scalars(select(Material).where(Material.seminar_id == seminar.id).order_by(Material.id))
        set_committed_value(seminar, "materials", list(materials))
    return seminar


def registration_counts(seminar: Seminar) -> dict[RegistrationState, int]:
    rows = db.session.execute(
        select(Registration.state, func.count())
        .where(Registration.seminar_id == seminar.id)
        .group_by(Registration.state)
    )
    return {state: count for state, count in rows}


@dataclass(frozen=True)
class Seats:
    capacity: int
    taken: int  # registered, not waiting

    @property
    def full(self) -> bool:
        return self.taken >= self.capacity

    @property
    def left(self) -> int:
        return max(self.capacity - self.taken, 0)


def seats(seminar: Seminar) -> Seats | None:
    """Places, shown only for a published seminar still ahead that has a capacity."""
    if not seminar.capacity or seminar.status is not SeminarStatus.PUBLISHED or seminar.is_past:
        return None
    return Seats(seminar.capacity, registration_counts(seminar).get(RegistrationState.REGISTERED, 0))


def count_in_state(seminar_id: int, state: RegistrationState) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Registration).where(
            Registration.seminar_id == seminar_id, Registration.state == state
        )
    ) or 0


def registration_of(seminar: Seminar, user: Any) -> Registration | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Registration).where(
            Registration.seminar_id == seminar.id, Registration.user_id == user.id
        )
    )


def my_registrations(user: User) -> list[Registration]:
    return list(
        db.session.scalars(
            select(Registration)
            .join(Seminar)
            .where(Registration.user_id == user.id, Registration.state != RegistrationState.CANCELLED)
            .options(selectinload(Registration.seminar).selectinload(Seminar.series))
            .order_by(Seminar.date_on.desc(), Seminar.starts_at.desc())
        )
    )


def active_registrations(seminar: Seminar) -> list[Registration]:
    """Everyone registered or waiting, registered first, each list in order of arrival."""
    return list(
        db.session.scalars(
            select(Registration)
            .where(Registration.seminar_id == seminar.id, Registration.state != RegistrationState.CANCELLED)
            .options(selectinload(Registration.user).selectinload(User.organization))
            .order_by(Registration.state, Registration.queued_at, Registration.id)
        )
    )


def counts_by_organization_kind(registrations: list[Registration]) -> dict[OrganizationKind, int]:
    """Registered (not waiting) people by the kind of their organization; none counts as other."""
    counts: dict[OrganizationKind, int] = {}
    for r in registrations:
        if r.state is RegistrationState.REGISTERED:
            kind = r.user.organization.kind if r.user.organization else OrganizationKind.OTHER
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def next_number(series: SeminarSeries) -> int:
    return (db.session.scalar(select(func.max(Seminar.number)).where(Seminar.series_id == series.id)) or 0) + 1


def new_key(series: SeminarSeries, number: int) -> str:
    base = f"fy{series.fiscal_year}-{series.id}-{number}"
    key, n = base, 1
    while db.session.scalar(select(Seminar.id).where(Seminar.key == key)) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


def copy_sources() -> list[Seminar]:
    """Seminars a new one can be copied from: those with a program, latest first."""
    return list(db.session.scalars(
        select(Seminar).where(Seminar.program.any()).order_by(Seminar.date_on.desc().nulls_last(), Seminar.id.desc())
    ))


def registered_for_attendance(seminar: Seminar) -> list[Registration]:
    """The registered people (not waiting, not cancelled), in order of arrival: the 出席 list."""
    return list(db.session.scalars(
        select(Registration)
        .where(Registration.seminar_id == seminar.id, Registration.state == RegistrationState.REGISTERED)
        .options(selectinload(Registration.user).selectinload(User.organization))
        .order_by(Registration.queued_at, Registration.id)
    ))


@dataclass(frozen=True)
class Attendance:
    attended: int
    absent: int


def attendance(seminar: Seminar) -> Attendance | None:
    """出席/欠席 of the registered people, once attendance has been recorded; None before."""
    if seminar.attendance_recorded_at is None:
        return None
    rows = db.session.execute(
        select(Registration.attended_at.is_not(None), func.count())
        .where(Registration.seminar_id == seminar.id, Registration.state == RegistrationState.REGISTERED)
        .group_by(Registration.attended_at.is_not(None)))
    counts = {bool(present): n for present, n in rows}
    return Attendance(counts.get(True, 0), counts.get(False, 0))
