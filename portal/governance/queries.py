"""Reading for governance: the account inventory (棚卸し) and what the portal holds about one
account (its own data)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal.accounts.models import AccountState, User
from portal.core.db import db, utcnow
from portal.subcommittees.models import MembershipState, Subcommittee, SubcommitteeMember
from portal.web.urls import external_url_for

FILTERS = {
    "inactive": _l("180日以上ログインなし"),
    "never": _l("一度もログインなし"),
    "pending": _l("承認待ち"),
    "unreviewed": _l("90日以上棚卸し未確認"),
    "deactivated": _l("停止中"),
}


def inventory(filter_name: str | None = None, now: datetime | None = None) -> list[User]:
    """Every account with what a review needs, optionally filtered."""
    now = now or utcnow()
    query = select(User).options(selectinload(User.organization)).order_by(User.role, User.created_at)
    if filter_name == "inactive":
        query = query.where(User.state == AccountState.ACTIVE,
                            or_(User.last_login_at < now - timedelta(days=180),
                                (User.last_login_at.is_(None)) & (User.created_at < now - timedelta(days=180))))
    elif filter_name == "never":
        query = query.where(User.last_login_at.is_(None), User.state == AccountState.ACTIVE)
    elif filter_name == "pending":
        query = query.where(User.state == AccountState.PENDING)
    elif filter_name == "unreviewed":
        query = query.where(User.state == AccountState.ACTIVE,
                            or_(User.reviewed_at.is_(None), User.reviewed_at < now - timedelta(days=90)))
    elif filter_name == "deactivated":
        query = query.where(User.state == AccountState.DEACTIVATED)
    return list(db.session.scalars(query))


def leads_by_user() -> dict[int, list[str]]:
    """Which subcommittees each account leads: a review asks why an account has its rights."""
    rows = db.session.execute(
        select(SubcommitteeMember.user_id, Subcommittee.name).join(Subcommittee)
        .where(SubcommitteeMember.is_lead.is_(True), SubcommitteeMember.state == MembershipState.APPROVED)
    )
    result: dict[int, list[str]] = {}
    for user_id, name in rows:
        result.setdefault(user_id, []).append(name)
    return result


def users_by_id(ids: list[int]) -> list[User]:
    return list(db.session.scalars(select(User).where(User.id.in_(ids)))) if ids else []


def own_data(user: User) -> dict[str, Any]:
    """Everything the portal holds about one account, for the account itself."""
    from portal.qa.models import Question
    from portal.seminars.models import Registration

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    registrations = db.session.scalars(select(Registration).where(Registration.user_id == user.id)
                                       .options(selectinload(Registration.seminar)))
    questions = db.session.scalars(select(Question).where(Question.author_id == user.id))
    memberships = db.session.scalars(select(SubcommitteeMember).where(SubcommitteeMember.user_id == user.id)
                                     .options(selectinload(SubcommitteeMember.subcommittee)))
    return {
        "account": {"name": user.name, "email": user.email, "role": user.role.value, "state": user.state.value,
                    "organization": user.organization.name if user.organization else None,
                    "created_at": iso(user.created_at), "last_login_at": iso(user.last_login_at),
                    "two_factor": bool(user.totp_secret)},
        "registrations": [{"seminar": r.seminar.title or r.seminar.key,
                           "seminar_url": external_url_for("seminars.detail", seminar_id=r.seminar_id),
                           "state": r.state.value, "created_at": iso(r.created_at)} for r in registrations],
        "questions": [{"seminar_id": q.seminar_id, "body": q.body, "anonymous": q.anonymous,
                       "created_at": iso(q.created_at), "answer": q.answer} for q in questions],
        "subcommittees": [{"name": m.subcommittee.name, "state": m.state.value, "lead": m.is_lead}
                          for m in memberships],
    }
