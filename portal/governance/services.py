"""Governance (the city-OS checklist applied to the portal): account inventory (棚卸し),
deactivation, log-out everywhere, data protection, the periodic review reminder.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.accounts.models import AccountState, Role, User, new_calendar_token
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.core.csv import to_csv
from portal.core.dates import to_local
from portal.core.db import db, utcnow
from portal.mail.services import enqueue, secretariat_address
from portal.subcommittees.models import MembershipState, Subcommittee, SubcommitteeMember
from portal.web.urls import external_url

ROLE_JA = {"secretariat": "事務局", "member": "会員", "observer": "オブザーバー"}
STATE_JA = {"pending": "承認待ち", "active": "有効", "rejected": "却下", "deactivated": "停止"}
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
    rows = db.session.execute(
        select(SubcommitteeMember.user_id, Subcommittee.name).join(Subcommittee)
        .where(SubcommitteeMember.is_lead.is_(True), SubcommitteeMember.state == MembershipState.APPROVED)
    )
    result: dict[int, list[str]] = {}
    for user_id, name in rows:
        result.setdefault(user_id, []).append(name)
    return result


def inventory_csv(users: list[User]) -> bytes:
    leads = leads_by_user()
    reviewers = {u.id: u.name for u in db.session.scalars(select(User).where(User.role == Role.SECRETARIAT))}

    def when(value: datetime | None) -> str:
        return to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""

    rows = [[
        u.name, u.email, u.organization.name if u.organization else "", ROLE_JA[u.role.value],
        "、".join(leads.get(u.id, [])), STATE_JA[u.state.value], when(u.created_at), when(u.last_login_at),
        when(u.reviewed_at), reviewers.get(u.reviewed_by_id, "") if u.reviewed_by_id else "",
        "有効" if u.totp_secret else "",
    ] for u in users]
    return to_csv(["氏名", "メールアドレス", "所属団体", "ロール", "分科会リーダー", "状態", "登録日時",
                   "最終ログイン", "最終棚卸し", "確認者", "二要素認証"], rows)


def mark_reviewed(users: list[User], by: User, ip: str | None = None) -> int:
    now = utcnow()
    for user in users:
        user.reviewed_at, user.reviewed_by_id = now, by.id
    record("inventory.reviewed", actor_id=by.id, ip=ip, details={"accounts": [u.id for u in users]})
    return len(users)


def end_sessions(user: User) -> None:
    """Every session of this account stops at its next request."""
    user.session_version += 1


def set_state(user: User, state: AccountState, by: User, ip: str | None = None) -> None:
    """Deactivate (ends its sessions at once and stops its feeds) or reactivate an account."""
    if user.id == by.id and state is AccountState.DEACTIVATED:
        raise ValueError(_l("自分のアカウントは停止できません。"))
    before = user.state
    user.state = state
    if state is AccountState.DEACTIVATED:
        end_sessions(user)
        user.calendar_token = new_calendar_token()  # the old feed URL answers 404
    record("account.state_changed", actor_id=by.id, subject=user.email, ip=ip,
           details={"from": before.value, "to": state.value})


def set_role(user: User, role: Role, by: User, ip: str | None = None) -> None:
    if user.id == by.id and role is not Role.SECRETARIAT:
        raise ValueError(_l("自分の事務局ロールは外せません。"))
    before = user.role
    user.role = role
    end_sessions(user)  # rights change: the account logs in again
    record("account.role_changed", actor_id=by.id, subject=user.email, ip=ip,
           details={"from": before.value, "to": role.value})


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
        "registrations": [{"seminar": r.seminar.title or r.seminar.key, "seminar_url": external_url(f"/seminars/{r.seminar_id}"),
                           "state": r.state.value, "created_at": iso(r.created_at)} for r in registrations],
        "questions": [{"seminar_id": q.seminar_id, "body": q.body, "anonymous": q.anonymous,
                       "created_at": iso(q.created_at), "answer": q.answer} for q in questions],
        "subcommittees": [{"name": m.subcommittee.name, "state": m.state.value, "lead": m.is_lead} for m in memberships],
    }


def own_data_json(user: User) -> bytes:
    return json.dumps(own_data(user), ensure_ascii=False, indent=2).encode("utf-8")


def request_deletion(user: User, ip: str | None = None) -> None:
    if user.deletion_requested_at is None:
        user.deletion_requested_at = utcnow()
        record("account.deletion_requested", actor_id=user.id, subject=user.email, ip=ip)
        enqueue(secretariat_address(), f"【官民連携プラットフォーム】アカウント削除の依頼: {user.name}",
                render_template("mail/deletion_requested.txt", user=user,
                                url=external_url("/secretariat/inventory?filter=deactivated")),
                kind="account.deletion_requested")


def anonymize(user: User, by: User, ip: str | None = None) -> None:
    """Remove a departed account's personal data, keeping its questions and statistics."""
    if user.id == by.id:
        raise ValueError(_l("自分のアカウントは匿名化できません。"))
    user.name = "退会したユーザー"
    user.email = f"deleted-{user.id}@invalid.example"
    user.password_hash = "!"  # matches no password
    user.totp_secret, user.recovery_codes = None, None
    user.state = AccountState.DEACTIVATED
    user.anonymized_at = utcnow()
    user.calendar_token = new_calendar_token()
    end_sessions(user)
    record("account.anonymized", actor_id=by.id, subject=f"user:{user.id}", ip=ip)


def audit_events(query_text: str | None = None, action: str | None = None, limit: int = 500) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if query_text:
        like = f"%{query_text}%"
        query = query.where(or_(AuditEvent.subject.ilike(like), AuditEvent.ip.ilike(like), AuditEvent.action.ilike(like)))
    return list(db.session.scalars(query))


def audit_csv(events: list[AuditEvent]) -> bytes:
    actors = {u.id: u.email for u in db.session.scalars(
        select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id})))}
    rows = [[to_local(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.action, actors.get(e.actor_id, ""), e.subject or "",
             e.ip or "", json.dumps(e.details, ensure_ascii=False) if e.details else ""] for e in events]
    return to_csv(["日時", "操作", "実行者", "対象", "IPアドレス", "詳細"], rows)


def send_review_reminder(now: datetime | None = None) -> bool:
    """Once a quarter, remind the secretariat to review accounts not reviewed for 90 days."""
    now = now or utcnow()
    due = inventory("unreviewed", now)
    if not due:
        return False
    local = to_local(now)
    period = f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    try:
        with db.session.begin_nested():
            enqueue(secretariat_address(), f"【官民連携プラットフォーム】アカウント棚卸しのお願い（{len(due)}件）",
                    render_template("mail/inventory_review.txt", count=len(due),
                                    url=external_url("/secretariat/inventory?filter=unreviewed")),
                    kind="inventory.review_reminder", dedupe_key=f"inventory-review:{period}")
            db.session.flush()
    except IntegrityError:
        return False  # already reminded this quarter
    db.session.commit()
    return True


