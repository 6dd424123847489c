"""The public JSON list (``GET /api/v1/seminars``): its shape is part of the contract."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.core.dates import to_local
from portal.core.db import db
from portal.seminars.models import Seminar, SeminarSeries
from portal.seminars.queries import PUBLIC_STATUSES
from portal.web.urls import external_url_for


def seminar_list() -> list[dict[str, Any]]:
    """Published and cancelled seminars, by fiscal year and number; absolute URLs."""
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
            "url": external_url_for("seminars.detail", seminar_id=s.id),
            "ics_url": external_url_for("calendar.seminar", seminar_id=s.id),
        }
        for s in seminars
    ]
