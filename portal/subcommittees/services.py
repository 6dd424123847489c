"""Subcommittee rules: what is listed, the fiscal-year plan."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.subcommittees.models import Subcommittee, SubcommitteeStatus


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
