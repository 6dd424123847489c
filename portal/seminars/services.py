"""Seminar rules: what is visible to whom, the annual schedule, the JSON view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.dates import fiscal_year, to_local, today_local
from portal.extensions import db
from portal.seminars.models import (
    ProgramItem,
    Registration,
    RegistrationState,
    Seminar,
    SeminarSeries,
    SeminarStatus,
)
from portal.web import external_url

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
            .options(selectinload(Seminar.series))
            .order_by(SeminarSeries.name, Seminar.number, Seminar.date_on, Seminar.id)
        )
    )
    series = list(dict.fromkeys(s.series for s in seminars))
    return Schedule(fy, years, series, seminars)


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
    """One seminar with its program and presenters, in a fixed number of queries."""
    return db.session.scalar(
        select(Seminar)
        .where(Seminar.id == seminar_id)
        .options(
            selectinload(Seminar.series),
            selectinload(Seminar.program).selectinload(ProgramItem.presenters),
        )
    )


def registration_counts(seminar: Seminar) -> dict[RegistrationState, int]:
    rows = db.session.execute(
        select(Registration.state, func.count())
        .where(Registration.seminar_id == seminar.id)
        .group_by(Registration.state)
    )
    return {state: count for state, count in rows}


def registration_of(seminar: Seminar, user: Any) -> Registration | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Registration).where(
            Registration.seminar_id == seminar.id, Registration.user_id == user.id
        )
    )


def api_list() -> list[dict[str, Any]]:
    """The public JSON list: published and cancelled seminars."""
    seminars = db.session.scalars(
        select(Seminar)
        .where(Seminar.status.in_(PUBLIC_STATUSES))
        .options(selectinload(Seminar.series))
        .join(SeminarSeries)
        .order_by(SeminarSeries.fiscal_year, Seminar.number, Seminar.id)
    )
    return [
        {
            "id": s.id,
            "key": s.key,
            "title": s.title,
            "number": s.number,
            "fiscal_year": s.fiscal_year,
            "start": to_local(s.starts_at).isoformat() if s.starts_at else None,
            "end": to_local(s.ends_at).isoformat() if s.ends_at else None,
            "date_label": s.label(),
            "status": s.status.value,
            "url": external_url(f"/seminars/{s.id}"),
            "ics_url": external_url(f"/seminars/{s.id}.ics"),
        }
        for s in seminars
    ]
