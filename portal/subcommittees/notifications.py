"""Mail about subcommittees, through the one outbox (queued in the caller's transaction)."""

from __future__ import annotations

from typing import Any

from flask import render_template

from portal.accounts.models import User
from portal.core.dates import today_local
from portal.mail.outbox import enqueue, secretariat_address
from portal.subcommittees.models import (
    MembershipState,
    Milestone,
    SessionStatus,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
)
from portal.web.urls import external_url_for

SUBJECT_PREFIX = "【官民連携プラットフォーム】"
REVIEW_SUBJECTS = {
    "approve": "分科会の提案が承認されました",
    "changes": "分科会の提案について修正のお願い",
    "reject": "分科会の提案について",
}


def _mail(to: str | list[str], subject: str, template: str, kind: str, **context: Any) -> None:
    """One message per recipient, so members' addresses are not shown to each other."""
    body = render_template(f"mail/{template}", **context)
    for address in [to] if isinstance(to, str) else to:
        enqueue(address, SUBJECT_PREFIX + subject, body, kind=kind)


def lead_addresses(sub: Subcommittee) -> list[str]:
    return [m.user.email for m in sub.members if m.is_lead and m.state is MembershipState.APPROVED]


def member_addresses(sub: Subcommittee) -> list[str]:
    return [m.user.email for m in sub.members if m.state is MembershipState.APPROVED]


def _page(sub: Subcommittee) -> str:
    return external_url_for("subcommittees.detail", slug=sub.slug)


def proposal_received(sub: Subcommittee, proposer: User, *, revised: bool = False) -> None:
    """To the secretariat's mailbox: a new proposal, or one revised after a request for changes."""
    subject = f"分科会の提案（修正版）: {sub.name}" if revised else f"分科会の提案: {sub.name}"
    _mail(secretariat_address(), subject, "subcommittee_proposed.txt",
          "subcommittee.revised" if revised else "subcommittee.proposed", sub=sub, user=proposer,
          url=external_url_for("secretariat.subcommittees.review", sub_id=sub.id))


def proposal_reviewed(sub: Subcommittee, proposer: User, decision: str) -> None:
    """To the proposer: approved (a link to the new page), changes requested or rejected (their dashboard)."""
    url = _page(sub) if decision == "approve" else external_url_for("subcommittees.dashboard")
    _mail(proposer.email, f"{REVIEW_SUBJECTS[decision]}: {sub.name}", "subcommittee_reviewed.txt",
          f"subcommittee.{decision}", sub=sub, user=proposer, decision=decision, url=url)


def join_requested(sub: Subcommittee, applicant: User) -> None:
    """To the leads, linking the members section where they decide (the secretariat when there
    is no lead yet, linking its list of pending requests); the applicant gets an acknowledgement."""
    leads = lead_addresses(sub)
    url = (external_url_for("subcommittees.detail", slug=sub.slug) + "#members" if leads
           else external_url_for("secretariat.subcommittees.requests"))
    _mail(leads or [secretariat_address()], f"分科会への参加申請: {sub.name}",
          "subcommittee_join_requested.txt", "subcommittee.join_requested", sub=sub, user=applicant, url=url)
    _mail(applicant.email, f"参加申請を受け付けました: {sub.name}", "subcommittee_join_received.txt",
          "subcommittee.join_received", sub=sub, user=applicant, by_lead=bool(leads),
          url=external_url_for("subcommittees.dashboard"))


def join_decided(membership: SubcommitteeMember, approve: bool, by: User) -> None:
    """Names who decided: the secretariat, or the subcommittee's lead."""
    sub = membership.subcommittee
    subject = ("分科会への参加が承認されました: " if approve else "分科会への参加申請について: ") + sub.name
    _mail(membership.user.email, subject, "subcommittee_join_decided.txt", "subcommittee.join_decided",
          sub=sub, user=membership.user, approve=approve, url=_page(sub),
          decider="事務局" if by.is_secretariat else "分科会のリーダー")


def _members(sub: Subcommittee) -> list[User]:
    return [m.user for m in sub.members if m.state is MembershipState.APPROVED]


def session_announced(sub: Subcommittee, session: SubcommitteeSession, before: str | None, *,
                      cancelled: bool = False) -> None:
    """To every member, one message each with the session as an iMIP part addressed to them:
    scheduled (``before`` None) or moved from ``before`` or given a new link (REQUEST), or
    cancelled (CANCEL)."""
    from portal.calendar.events import session_invitation  # the calendar builds on subcommittees

    members = _members(sub)
    if not members:
        return
    moved = before is not None
    what = "中止のお知らせ" if cancelled else "日程変更のお知らせ" if moved else "日程のお知らせ"
    kind = "cancelled" if cancelled else "moved" if moved else "scheduled"
    body = render_template("mail/subcommittee_session.txt", sub=sub, session=session, before=before,
                           cancelled=cancelled, url=_page(sub))
    for user in members:
        part = session_invitation(session, user, "CANCEL" if cancelled else "REQUEST")
        enqueue(user.email, SUBJECT_PREFIX + f"分科会{session.circled_number}の{what}: {sub.name}", body,
                kind="subcommittee.session_" + kind, attachments=[part] if part else None)


def sessions_ahead(sub: Subcommittee) -> list[SubcommitteeSession]:
    """Scheduled sessions with a date that has not passed: what a member's calendar should hold."""
    today = today_local()
    return [s for s in sub.sessions
            if s.status is SessionStatus.SCHEDULED and s.window is not None and s.window[1] >= today]


def membership_changed(sub: Subcommittee, user: User, *, joined: bool) -> None:
    """A member approved after sessions were announced gets each session still ahead as an
    invitation (REQUEST); one who leaves gets its CANCEL, so their calendar drops it."""
    from portal.calendar.events import session_invitation  # the calendar builds on subcommittees

    for session in sessions_ahead(sub):
        part = session_invitation(session, user, "REQUEST" if joined else "CANCEL")
        if part is None:
            continue
        what = "日程のお知らせ" if joined else "退会に伴う予定の取り消し"
        body = render_template("mail/subcommittee_session.txt", sub=sub, session=session, before=None,
                               cancelled=not joined, left=not joined, url=_page(sub))
        enqueue(user.email, SUBJECT_PREFIX + f"分科会{session.circled_number}の{what}: {sub.name}", body,
                kind="subcommittee.session_" + ("scheduled" if joined else "left"), attachments=[part])


def milestone_due(milestone: Milestone) -> bool:
    """To every member, a week before the due day; False when there is nobody to tell."""
    sub = milestone.subcommittee
    addresses = member_addresses(sub)
    if not addresses:
        return False
    _mail(addresses, f"マイルストーン「{milestone.title}」の期日が近づいています: {sub.name}",
          "subcommittee_milestone.txt", "subcommittee.milestone_reminder", sub=sub, milestone=milestone,
          url=_page(sub))
    return True
