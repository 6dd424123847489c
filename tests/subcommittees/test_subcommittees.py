"""Subcommittees (分科会) through HTTP on a real database: proposals and their review, membership,
the lead's plan (sessions, milestones), notifications, materials, the lead's dashboard, and the
seed's 実施スケジュール drawn as SVG from the demo data.

Rules under test (see DESIGN.md and the seed's Net-Zero proposal):

- a member proposes on a form; bad input re-renders with 422 and creates nothing; observers get 403;
  the secretariat approves (active, the proposer its first lead), asks for changes (a note is
  required; the proposer revises and it goes back to review) or rejects; the proposer is mailed;
- members request to join (the page shows 申請中); leads approve or decline; members leave; leads
  appoint leads; the last lead cannot leave; observers read but do not join; the members list is
  for members, the contact persons for logged-in accounts;
- lead actions: 403 for anyone not a lead of this subcommittee, the log-in page for visitors;
- sessions with exact or imprecise dates and an online link shown to the members only; members are
  mailed (one message each) when a session is scheduled or moved;
- milestones due on a day or at the end of a fiscal quarter, planned / done / late; a reminder a
  week before, once per due date (again when it moves);
- materials, members-only or public; the dashboard at /account/subcommittees.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import AuthActions, add_member, asks_first, is_login_redirect, logged_in, page_text
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.core.dates import fiscal_year, today_local
from portal.core.db import db
from portal.imports.operations import import_data
from portal.materials.models import Material
from portal.subcommittees import jobs, operations
from portal.subcommittees.models import (
    Activity,
    ContactPerson,
    MembershipState,
    Milestone,
    MilestoneState,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
    SubcommitteeStatus,
)

MAILBOX = "secretariat-box@example.org"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
SLUG = "team-sub"
SUB_NAME = "地域データ連携検討分科会"
FIRST_LINK = "https://example.org/meet/team-sub-1"
CONTACT_EMAIL = "contact.person@example.org"
SVG = "{http://www.w3.org/2000/svg}"


# ----------------------------------------------------------------------------- helpers


def visitor(app) -> AuthActions:
    return AuthActions(app.test_client())


def html_of(auth: AuthActions, path: str, status: int = 200) -> str:
    response = auth.client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def membership(app, sub_id: int, user) -> tuple[MembershipState, bool] | None:
    with app.app_context():
        m = db.session.scalar(select(SubcommitteeMember).where(
            SubcommitteeMember.subcommittee_id == sub_id, SubcommitteeMember.user_id == user.id))
        return None if m is None else (m.state, m.is_lead)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def sessions_of(app, sub_id: int) -> dict[int, dict[str, Any]]:
    with app.app_context():
        return {s.number: {"id": s.id, "title": s.title, "date_on": s.date_on, "precision": s.precision.value,
                           "join_url": s.join_url, "sequence": s.sequence}
                for s in db.session.scalars(
                    select(SubcommitteeSession).where(SubcommitteeSession.subcommittee_id == sub_id))}


def milestones_of(app, sub_id: int) -> dict[str, dict[str, Any]]:
    with app.app_context():
        return {m.title: {"id": m.id, "due_on": m.due_on, "done_on": m.done_on, "state": m.state()}
                for m in db.session.scalars(select(Milestone).where(Milestone.subcommittee_id == sub_id))}


def recipients(rows) -> list[str]:
    """Every recipient of these outbox rows; each row must have exactly one."""
    for row in rows:
        assert len(row.recipients) == 1, row.recipients
    return sorted(row.recipients[0] for row in rows)


def flashed_errors(html: str) -> str:
    return " ".join(re.findall(r'<p class="flash flash-error"[^>]*>(.*?)</p>', html, re.S))


def card(html: str, slug: str) -> str | None:
    match = re.search(rf'<article class="card" data-subcommittee="{re.escape(slug)}">(.*?)</article>', html, re.S)
    return match.group(1) if match else None


class Team:
    """One FY2021 subcommittee with a lead, a member and a pending applicant; the people outside it
    (another member, another subcommittee's lead, an observer, the secretariat) are made on first use."""

    def __init__(self, app, create_user, make_subcommittee):
        self.app, self._create_user = app, create_user
        self.sub_id = make_subcommittee(
            SLUG, name=SUB_NAME, purpose="地域のデータ連携を進める",
            sessions=[{"number": 1, "title": "キックオフ", "date": "2021-09", "join_url": FIRST_LINK}],
            milestones=[{"title": "分科会立上げ", "due": "2021-09-30"}],
            contacts=[{"name": "窓口 太郎", "organization": "テスト株式会社", "department": "推進室",
                       "email": CONTACT_EMAIL}],
        )
        self.other_id = make_subcommittee("other-sub", name="防災データ活用分科会")
        self.lead = create_user("member", name="リーダー 一郎", email="lead@example.org")
        self.member = create_user("member", name="メンバー 二郎", email="member@example.org")
        self.pending = create_user("member", name="申請者 三郎", email="pending@example.org")
        add_member(app, self.sub_id, self.lead, lead=True)
        self.member_mid = add_member(app, self.sub_id, self.member)
        self.pending_mid = add_member(app, self.sub_id, self.pending, state=MembershipState.PENDING)

    @cached_property
    def outsider(self) -> User:
        return self._create_user("member", name="部外者 四郎", email="outsider@example.org")

    @cached_property
    def other_lead(self) -> User:
        user = self._create_user("member", name="他分科会 五郎", email="other-lead@example.org")
        add_member(self.app, self.other_id, user, lead=True)
        return user

    @cached_property
    def observer(self) -> User:
        return self._create_user("observer", name="オブザーバー 六郎", email="observer@example.org", org="さくら大学")

    @cached_property
    def secretariat(self) -> User:
        return self._create_user("secretariat", name="事務局 七子", email="office@example.org")


@pytest.fixture
def team(app, create_user, make_subcommittee) -> Team:
    return Team(app, create_user, make_subcommittee)


# ----------------------------------------------------------------------------- proposals

PROPOSAL: dict[str, Any] = {
    "name": "ネット・ゼロ地域交通検討分科会",
    "fiscal_year": "2021",
    "purpose": "地域交通の脱炭素化をスマートシティの取り組みで加速させる",
    "main_theme": "地域交通のネット・ゼロに向けたロードマップを策定する",
    "issues": "検討すべきことの明確化\n\n産学官の役割分担\n",
    "activities": "活動1 / 国内外の事例調査 / 2021-07 / 2021-09\n"
                  "活動2 / 分科会開催（オンライン4回） / 2021-07 / 2022-03",
    "outcomes": "調査結果\nロードマップ",
    "fields": ["交通・モビリティ", "エネルギー", "その他"],
    "fields_other": "脱炭素",
    "contacts": "佐藤 一郎 / テスト株式会社 / 推進室 / ichiro.sato@example.org\n"
                "鈴木 花子 / テスト株式会社 / 推進室 / hanako.suzuki@example.org",
}


def propose(app, user, **changes: Any):
    auth = logged_in(app, user)
    return auth, auth.post("/subcommittees/propose", {**PROPOSAL, **changes})


def proposal_row(app) -> dict[str, Any]:
    with app.app_context():
        sub = db.session.scalar(select(Subcommittee).where(Subcommittee.name == PROPOSAL["name"]))
        assert sub is not None
        return {
            "id": sub.id, "slug": sub.slug, "status": sub.status, "proposed_by_id": sub.proposed_by_id,
            "purpose": sub.purpose, "main_theme": sub.main_theme, "issues": sub.issues, "outcomes": sub.outcomes,
            "fields": sub.fields, "fields_other": sub.fields_other, "fiscal_year": sub.fiscal_year,
            "activities": [(a.label, a.title, a.starts_on, a.ends_on) for a in sub.activities],
            "contacts": [(c.name, c.organization, c.department, c.email) for c in sub.contacts],
        }


def test_member_proposes_and_the_secretariat_is_mailed(app, create_user, outbox):
    proposer = create_user("member", name="提案 太郎")
    auth = logged_in(app, proposer)
    page = html_of(auth, "/subcommittees/propose")
    for field in ("交通・モビリティ", "セキュリティ・見守り", "その他", 'name="fields_other"', 'name="contacts"'):
        assert field in page

    response = auth.post("/subcommittees/propose", PROPOSAL)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account/subcommittees"

    row = proposal_row(app)
    assert row["status"] is SubcommitteeStatus.PROPOSED
    assert row["proposed_by_id"] == proposer.id
    assert row["fiscal_year"] == 2021
    assert row["issues"] == ["検討すべきことの明確化", "産学官の役割分担"]
    assert row["outcomes"] == ["調査結果", "ロードマップ"]
    assert row["fields"] == ["交通・モビリティ", "エネルギー", "その他"]
    assert row["fields_other"] == "脱炭素"
    assert [(a[0], a[1], a[2]) for a in row["activities"]] == [
        ("活動1", "国内外の事例調査", date(2021, 7, 1)), ("活動2", "分科会開催（オンライン4回）", date(2021, 7, 1))]
    assert row["contacts"] == [
        ("佐藤 一郎", "テスト株式会社", "推進室", "ichiro.sato@example.org"),
        ("鈴木 花子", "テスト株式会社", "推進室", "hanako.suzuki@example.org")]

    mails = outbox("subcommittee.proposed")
    assert [m.recipients for m in mails] == [[MAILBOX]]
    assert PROPOSAL["name"] in mails[0].subject
    assert f"/secretariat/subcommittees/{row['id']}" in mails[0].body

    # Not public until approved: not listed, no page (even for the proposer).
    assert PROPOSAL["name"] not in html_of(visitor(app), "/subcommittees")
    html_of(visitor(app), f"/subcommittees/{row['slug']}", 404)
    html_of(auth, f"/subcommittees/{row['slug']}", 404)
    # The proposer sees it on the dashboard, under review.
    dashboard = html_of(auth, "/account/subcommittees")
    assert PROPOSAL["name"] in dashboard and "確認中" in dashboard


def test_proposed_activity_spans_whole_months(app, create_user):
    """"2021-07 / 2021-09" is July to September: it ends on the last day of its end month (as the
    import stores it), so the timeline bar covers September."""
    _, response = propose(app, create_user("member"))
    assert response.status_code == 302
    activities = proposal_row(app)["activities"]
    assert [(a[2], a[3]) for a in activities] == [(date(2021, 7, 1), date(2021, 9, 30)),
                                                  (date(2021, 7, 1), date(2022, 3, 31))]


def test_proposal_without_optional_sections_is_accepted(app, create_user, outbox):
    """Main theme, activities and contacts are optional on the form."""
    _, response = propose(app, create_user("member"), main_theme="", activities="", contacts="")
    assert response.status_code == 302
    row = proposal_row(app)
    assert row["activities"] == [] and row["contacts"] == [] and row["main_theme"] is None
    assert len(outbox("subcommittee.proposed")) == 1


BAD_PROPOSALS = {
    "no-name": {"name": ""},
    "no-purpose": {"purpose": "  "},
    "no-issues": {"issues": ""},
    "no-outcomes": {"outcomes": ""},
    "bad-year": {"fiscal_year": "来年"},
    "no-fields": {"fields": [], "fields_other": ""},
    "unknown-field": {"fields": ["エネルギー", "宇宙開発"]},
    "other-without-text": {"fields": ["エネルギー", "その他"], "fields_other": ""},
    "activity-bad-month": {"activities": "活動1 / 事例調査 / 2021/07 / 2021-09"},
    "activity-no-title": {"activities": "活動1"},
    "contact-bad-email": {"contacts": "佐藤 一郎 / テスト株式会社 / 推進室 / not-an-address"},
    "contact-no-name": {"contacts": " / テスト株式会社 / 推進室 / someone@example.org"},
}


@pytest.mark.parametrize("changes", BAD_PROPOSALS.values(), ids=BAD_PROPOSALS.keys())
def test_bad_proposal_is_refused_and_creates_nothing(app, create_user, outbox, changes):
    _, response = propose(app, create_user("member"), **changes)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "入力内容を確認してください" in page
    assert 'name="purpose"' in page  # the form again, with what was typed
    assert count(app, Subcommittee) == 0
    assert count(app, Activity) == 0 and count(app, ContactPerson) == 0
    assert outbox() == []


def test_observer_cannot_propose_and_visitor_is_sent_to_login(app, create_user):
    observer = create_user("observer", org="さくら大学")
    auth = logged_in(app, observer)
    assert auth.client.get("/subcommittees/propose").status_code == 403
    assert auth.post("/subcommittees/propose", PROPOSAL).status_code == 403
    assert "分科会を提案する" not in html_of(auth, "/subcommittees")
    guest = visitor(app)
    assert is_login_redirect(guest.client.get("/subcommittees/propose"))
    assert is_login_redirect(guest.post("/subcommittees/propose", PROPOSAL))
    assert count(app, Subcommittee) == 0


def review(auth: AuthActions, sub_id: int, decision: str, note: str = "", confirmed: bool = True):
    data = {"decision": decision, "note": note, **({"confirmed": "1"} if confirmed else {})}
    return auth.post(f"/secretariat/subcommittees/{sub_id}", data)


def test_a_review_decision_is_confirmed_first(app, create_user, outbox):
    proposer = create_user("member")
    assert propose(app, proposer)[1].status_code == 302
    row = proposal_row(app)
    office = logged_in(app, create_user("secretariat"))
    path = f"/secretariat/subcommittees/{row['id']}"
    html = asks_first(review(office, row["id"], "reject", "対象外です", confirmed=False), path, mails=1)
    assert PROPOSAL["name"] in page_text(html) and "却下する" in page_text(html)
    assert '<textarea name="note" hidden>\n対象外です</textarea>' in html
    assert proposal_row(app)["status"] == row["status"] and outbox("subcommittee.reject") == []
    assert review(office, row["id"], "reject", "対象外です").status_code == 302
    assert proposal_row(app)["status"] != row["status"]
    assert recipients(outbox("subcommittee.reject")) == [proposer.email]


def test_changes_requested_then_revised_then_approved(app, create_user, outbox):
    proposer = create_user("member", name="提案 太郎", email="proposer@example.org")
    other = create_user("member")
    office = logged_in(app, create_user("secretariat"))
    proposer_auth, _ = propose(app, proposer)
    sub_id = proposal_row(app)["id"]

    listing = html_of(office, "/secretariat/subcommittees")
    assert PROPOSAL["name"] in listing and f"/secretariat/subcommittees/{sub_id}" in listing
    assert PROPOSAL["purpose"] in html_of(office, f"/secretariat/subcommittees/{sub_id}")

    # Only the secretariat decides.
    assert review(logged_in(app, other), sub_id, "approve").status_code == 403
    assert review(proposer_auth, sub_id, "approve").status_code == 403
    assert is_login_redirect(review(visitor(app), sub_id, "approve"))
    assert proposal_row(app)["status"] is SubcommitteeStatus.PROPOSED

    # A request for changes needs a note.
    response = review(office, sub_id, "changes", "  ")
    assert response.status_code == 422
    assert proposal_row(app)["status"] is SubcommitteeStatus.PROPOSED
    assert outbox("subcommittee.changes") == []

    note = "活動2の開催回数と時期を具体的にしてください。"
    assert review(office, sub_id, "changes", note).status_code == 302
    assert proposal_row(app)["status"] is SubcommitteeStatus.CHANGES_REQUESTED
    mails = outbox("subcommittee.changes")
    assert [m.recipients for m in mails] == [[proposer.email]]
    assert note in mails[0].body and PROPOSAL["name"] in mails[0].subject

    # The proposer sees the request and revises; nobody else may.
    dashboard = html_of(proposer_auth, "/account/subcommittees")
    assert "修正依頼あり" in dashboard and f"/subcommittees/proposals/{sub_id}/edit" in dashboard
    edit_page = html_of(proposer_auth, f"/subcommittees/proposals/{sub_id}/edit")
    assert note in edit_page and PROPOSAL["name"] in edit_page and "国内外の事例調査" in edit_page
    html_of(logged_in(app, other), f"/subcommittees/proposals/{sub_id}/edit", 404)
    assert logged_in(app, other).post(f"/subcommittees/proposals/{sub_id}/edit",
                                  {**PROPOSAL, "purpose": "乗っ取り"}).status_code == 404

    bad = proposer_auth.post(f"/subcommittees/proposals/{sub_id}/edit", {**PROPOSAL, "purpose": ""})
    assert bad.status_code == 422
    assert proposal_row(app)["status"] is SubcommitteeStatus.CHANGES_REQUESTED

    revised = "地域交通の脱炭素化を加速させる（4回の会合を7月・10月・12月・2月に開催）"
    response = proposer_auth.post(f"/subcommittees/proposals/{sub_id}/edit",
                                  {**PROPOSAL, "purpose": revised,
                                   "activities": "活動1 / 国内外の事例調査 / 2021-07 / 2021-09"})
    assert response.status_code == 302
    row = proposal_row(app)
    assert row["status"] is SubcommitteeStatus.PROPOSED
    assert row["purpose"] == revised
    assert [a[1] for a in row["activities"]] == ["国内外の事例調査"]
    resent = outbox("subcommittee.revised")
    assert [m.recipients for m in resent] == [[MAILBOX]]

    # Approved: active, public, and the proposer is its first lead.
    assert review(office, sub_id, "approve").status_code == 302
    row = proposal_row(app)
    assert row["status"] is SubcommitteeStatus.ACTIVE
    assert membership(app, sub_id, proposer) == (MembershipState.APPROVED, True)
    approved = outbox("subcommittee.approve")
    assert [m.recipients for m in approved] == [[proposer.email]]
    assert f"http://portal.test/subcommittees/{row['slug']}" in approved[0].body
    assert PROPOSAL["name"] in html_of(visitor(app), "/subcommittees")
    page = html_of(proposer_auth, f"/subcommittees/{row['slug']}")
    assert "リーダー" in page and 'id="plan"' in page
    response = proposer_auth.post(f"/subcommittees/{row['slug']}/milestones", {"title": "報告書作成", "quarter": "4"})
    assert response.status_code == 302
    assert milestones_of(app, sub_id)["報告書作成"]["due_on"] == date(2022, 3, 31)

    # Decided once: a second decision is refused and changes nothing.
    assert review(office, sub_id, "reject").status_code == 422
    assert proposal_row(app)["status"] is SubcommitteeStatus.ACTIVE
    assert outbox("subcommittee.reject") == []


def test_rejected_proposal_stays_private_and_the_proposer_is_mailed(app, create_user, outbox):
    proposer = create_user("member", email="proposer@example.org")
    proposer_auth, _ = propose(app, proposer)
    row = proposal_row(app)
    office = logged_in(app, create_user("secretariat"))
    assert review(office, row["id"], "reject", "今年度は見送ります。").status_code == 302
    assert proposal_row(app)["status"] is SubcommitteeStatus.REJECTED
    mails = outbox("subcommittee.reject")
    assert [m.recipients for m in mails] == [[proposer.email]]
    assert "今年度は見送ります。" in mails[0].body
    assert membership(app, row["id"], proposer) is None
    html_of(visitor(app), f"/subcommittees/{row['slug']}", 404)
    assert PROPOSAL["name"] not in html_of(visitor(app), "/subcommittees")
    assert "見送り" in html_of(proposer_auth, "/account/subcommittees")
    # A rejected proposal cannot be revised back into review.
    proposer_auth.post(f"/subcommittees/proposals/{row['id']}/edit", PROPOSAL)
    assert proposal_row(app)["status"] is SubcommitteeStatus.REJECTED
    assert outbox("subcommittee.revised") == []


# ----------------------------------------------------------------------------- membership


def test_join_request_shows_pending_and_the_lead_approves(app, team, outbox):
    applicant = logged_in(app, team.outsider)
    page = html_of(applicant, f"/subcommittees/{SLUG}")
    assert "この分科会への参加を申請する" in page and "申請中" not in page

    response = applicant.post(f"/subcommittees/{SLUG}/join")
    assert response.status_code == 302
    assert membership(app, team.sub_id, team.outsider) == (MembershipState.PENDING, False)
    page = html_of(applicant, f"/subcommittees/{SLUG}")
    assert "申請中" in page
    assert FIRST_LINK not in page and 'class="members"' not in page

    requested = outbox("subcommittee.join_requested")
    assert recipients(requested) == [team.lead.email]
    assert team.outsider.name in requested[0].body

    # Asking again changes nothing and mails nobody.
    applicant.post(f"/subcommittees/{SLUG}/join")
    assert count(app, SubcommitteeMember, SubcommitteeMember.user_id == team.outsider.id) == 1
    assert len(outbox("subcommittee.join_requested")) == 1

    lead = logged_in(app, team.lead)
    lead_page = html_of(lead, f"/subcommittees/{SLUG}")
    assert team.outsider.name in lead_page
    with app.app_context():
        mid = db.session.scalar(select(SubcommitteeMember.id).where(SubcommitteeMember.user_id == team.outsider.id))
    response = lead.post(f"/subcommittees/{SLUG}/members/{mid}/approve", {"confirmed": "1"})
    assert response.status_code == 302
    assert membership(app, team.sub_id, team.outsider) == (MembershipState.APPROVED, False)
    decided = outbox("subcommittee.join_decided")
    assert recipients(decided) == [team.outsider.email]
    assert "承認" in decided[0].subject

    page = html_of(applicant, f"/subcommittees/{SLUG}")
    assert "申請中" not in page and "メンバー" in page
    assert FIRST_LINK in page
    assert team.member.name in page  # members see each other

    # Decided once: approving again is refused, no second mail.
    lead.post(f"/subcommittees/{SLUG}/members/{mid}/decline", {"confirmed": "1"})
    assert membership(app, team.sub_id, team.outsider) == (MembershipState.APPROVED, False)
    assert len(outbox("subcommittee.join_decided")) == 1


def test_lead_declines_a_request(app, team, outbox):
    lead = logged_in(app, team.lead)
    assert lead.post(f"/subcommittees/{SLUG}/members/{team.pending_mid}/decline", {"confirmed": "1"}).status_code == 302
    assert membership(app, team.sub_id, team.pending) == (MembershipState.DECLINED, False)
    decided = outbox("subcommittee.join_decided")
    assert recipients(decided) == [team.pending.email]
    assert "承認しました" not in decided[0].body
    page = html_of(logged_in(app, team.pending), f"/subcommittees/{SLUG}")
    assert "申請中" not in page and FIRST_LINK not in page


@pytest.mark.parametrize("action", ["approve", "decline"])
def test_the_lead_is_asked_before_a_decision_mails_the_applicant(app, team, outbox, action):
    lead = logged_in(app, team.lead)
    path = f"/subcommittees/{SLUG}/members/{team.pending_mid}/{action}"
    html = asks_first(lead.post(path), path, mails=1)
    assert team.pending.name in page_text(html) and SUB_NAME in page_text(html)
    assert membership(app, team.sub_id, team.pending) == (MembershipState.PENDING, False)
    assert outbox("subcommittee.join_decided") == []

    assert lead.post(path, {"confirmed": "1"}).status_code == 302
    assert membership(app, team.sub_id, team.pending)[0] is (
        MembershipState.APPROVED if action == "approve" else MembershipState.DECLINED)
    assert recipients(outbox("subcommittee.join_decided")) == [team.pending.email]


def test_leaving_asks_first_and_the_first_post_changes_nothing(app, team):
    member = logged_in(app, team.member)
    path = f"/subcommittees/{SLUG}/leave"
    html = asks_first(member.post(path), path, mails=0)  # the only session has passed: nothing to cancel
    assert "リーダーの承認が必要" in page_text(html)
    assert membership(app, team.sub_id, team.member) == (MembershipState.APPROVED, False)
    pending = logged_in(app, team.pending)
    assert "参加申請を取り下げます" in page_text(asks_first(pending.post(path), path, mails=0))
    assert membership(app, team.sub_id, team.pending) == (MembershipState.PENDING, False)


def test_observer_reads_but_cannot_join(app, team, outbox):
    auth = logged_in(app, team.observer)
    page = html_of(auth, f"/subcommittees/{SLUG}")
    assert SUB_NAME in page and "この分科会への参加を申請する" not in page
    assert auth.post(f"/subcommittees/{SLUG}/join").status_code == 403
    assert membership(app, team.sub_id, team.observer) is None
    assert outbox("subcommittee.join_requested") == []


def test_visitor_join_goes_to_login(app, team, outbox):
    guest = visitor(app)
    page = html_of(guest, f"/subcommittees/{SLUG}")
    assert "ログインして参加を申請する" in page
    assert is_login_redirect(guest.post(f"/subcommittees/{SLUG}/join"))
    assert count(app, SubcommitteeMember, SubcommitteeMember.subcommittee_id == team.sub_id) == 3
    assert outbox() == []


def test_unknown_subcommittee_is_404(app, team):
    html_of(visitor(app), "/subcommittees/no-such-sub", 404)
    assert logged_in(app, team.member).post("/subcommittees/no-such-sub/join").status_code == 404


def test_member_leaves_and_pending_withdraws(app, team):
    member = logged_in(app, team.member)
    assert member.post(f"/subcommittees/{SLUG}/leave", {"confirmed": "1"}).status_code == 302
    assert membership(app, team.sub_id, team.member) == (MembershipState.LEFT, False)
    page = html_of(member, f"/subcommittees/{SLUG}")
    assert FIRST_LINK not in page and "この分科会への参加を申請する" in page
    assert team.member.name not in html_of(logged_in(app, team.lead), f"/subcommittees/{SLUG}")

    pending = logged_in(app, team.pending)
    assert "申請を取り下げる" in html_of(pending, f"/subcommittees/{SLUG}")
    pending.post(f"/subcommittees/{SLUG}/leave", {"confirmed": "1"})
    assert membership(app, team.sub_id, team.pending) == (MembershipState.LEFT, False)
    assert "申請中" not in html_of(pending, f"/subcommittees/{SLUG}")


def test_last_lead_cannot_leave_until_another_is_appointed(app, team):
    lead = logged_in(app, team.lead)
    response = lead.post(f"/subcommittees/{SLUG}/leave", {"confirmed": "1"}, follow_redirects=True)
    assert "最後のリーダーは退会できません" in flashed_errors(response.get_data(as_text=True))
    assert membership(app, team.sub_id, team.lead) == (MembershipState.APPROVED, True)

    # Only approved members can be appointed.
    lead.post(f"/subcommittees/{SLUG}/members/{team.pending_mid}/lead")
    assert membership(app, team.sub_id, team.pending) == (MembershipState.PENDING, False)

    assert lead.post(f"/subcommittees/{SLUG}/members/{team.member_mid}/lead").status_code == 302
    assert membership(app, team.sub_id, team.member) == (MembershipState.APPROVED, True)
    assert lead.post(f"/subcommittees/{SLUG}/leave", {"confirmed": "1"}).status_code == 302
    assert membership(app, team.sub_id, team.lead) == (MembershipState.LEFT, False)

    # The new lead is now the last one, and runs the subcommittee.
    new_lead = logged_in(app, team.member)
    new_lead.post(f"/subcommittees/{SLUG}/leave", {"confirmed": "1"})
    assert membership(app, team.sub_id, team.member) == (MembershipState.APPROVED, True)
    approve = f"/subcommittees/{SLUG}/members/{team.pending_mid}/approve"
    assert new_lead.post(approve, {"confirmed": "1"}).status_code == 302
    assert membership(app, team.sub_id, team.pending) == (MembershipState.APPROVED, False)
    # The former lead has lost the right.
    assert lead.post(f"/subcommittees/{SLUG}/milestones", {"title": "x", "quarter": "1"}).status_code == 403


def pages_for(app, team: Team, people: list[str]) -> dict[str, str]:
    """The subcommittee page as each of these sees it ("visitor": not logged in)."""
    return {who: html_of(visitor(app) if who == "visitor" else logged_in(app, getattr(team, who)),
                         f"/subcommittees/{SLUG}")
            for who in people}


def test_members_list_is_shown_to_members_only(app, team):
    pages = pages_for(app, team, ["member", "lead", "secretariat", "visitor", "pending", "outsider", "observer",
                                  "other_lead"])
    for who in ("member", "lead", "secretariat"):
        assert 'class="members"' in pages[who], who
        assert team.member.name in pages[who] and team.lead.name in pages[who], who
    for who in ("visitor", "pending", "outsider", "observer", "other_lead"):
        assert 'class="members"' not in pages[who], who
        assert team.member.name not in pages[who], who


def test_contact_persons_shown_to_logged_in_accounts_only(app, team):
    pages = pages_for(app, team, ["observer", "outsider", "member", "visitor"])
    for who in ("observer", "outsider", "member"):
        assert "窓口 太郎" in pages[who] and CONTACT_EMAIL in pages[who], who
    assert "連絡窓口" in pages["visitor"]
    assert "窓口 太郎" not in pages["visitor"] and CONTACT_EMAIL not in pages["visitor"]


# ----------------------------------------------------------------------------- who may lead

# confirmed: past the confirmation asked before a session is announced to the members (tested on its own).
SESSION = {"number": "2", "title": "先進事例の共有", "precision": "day", "date": "2021-10-12", "start": "14:00",
           "end": "16:00", "join_url": "https://example.org/meet/team-sub-2", "status": "scheduled", "confirmed": "1"}


def lead_actions(team: Team, session_id: int, milestone_id: int) -> dict[str, tuple[str, str, dict | None]]:
    base = f"/subcommittees/{SLUG}"
    return {
        "approve": ("POST", f"{base}/members/{team.pending_mid}/approve", {"confirmed": "1"}),
        "decline": ("POST", f"{base}/members/{team.pending_mid}/decline", {"confirmed": "1"}),
        "appoint": ("POST", f"{base}/members/{team.member_mid}/lead", {}),
        "add-session": ("POST", f"{base}/sessions", SESSION),
        "edit-session-form": ("GET", f"{base}/sessions/{session_id}", None),
        "edit-session": ("POST", f"{base}/sessions/{session_id}", {**SESSION, "number": "1", "title": "改変"}),
        "add-milestone": ("POST", f"{base}/milestones", {"title": "乗っ取り", "due": "2021-12-01"}),
        "milestone-done": ("POST", f"{base}/milestones/{milestone_id}/done", {"done_on": "2021-09-30"}),
        "upload": ("POST", f"{base}/materials", {"title": "資料", "program_item_id": "0",
                                                  "file": (io.BytesIO(PDF), "資料.pdf")}),
    }


def plan_state(app, team: Team) -> tuple:
    return (membership(app, team.sub_id, team.pending), membership(app, team.sub_id, team.member),
            sessions_of(app, team.sub_id), milestones_of(app, team.sub_id),
            count(app, Material, Material.subcommittee_id == team.sub_id))


@pytest.mark.parametrize("who", ["member", "other_lead", "visitor"])
def test_lead_actions_refused_to_non_leads(app, team, outbox, who):
    """Every lead action: 403 for a member or another subcommittee's lead, log-in for visitors;
    nothing changes, nobody is mailed."""
    session_id = sessions_of(app, team.sub_id)[1]["id"]
    milestone_id = milestones_of(app, team.sub_id)["分科会立上げ"]["id"]
    before = plan_state(app, team)
    auth = visitor(app) if who == "visitor" else logged_in(app, getattr(team, who))
    for action, (method, path, data) in lead_actions(team, session_id, milestone_id).items():
        response = auth.client.get(path) if method == "GET" else auth.post(path, data)
        if who == "visitor":
            assert is_login_redirect(response), (action, response.status_code)
        else:
            assert response.status_code == 403, (action, response.status_code)
        assert plan_state(app, team) == before, action
    assert outbox() == []


def test_lead_of_another_subcommittee_cannot_touch_its_members(app, team):
    """A lead's membership ids of one subcommittee are not reachable through another."""
    other = logged_in(app, team.other_lead)
    assert other.post(f"/subcommittees/other-sub/members/{team.pending_mid}/approve").status_code == 404
    assert membership(app, team.sub_id, team.pending) == (MembershipState.PENDING, False)


# ----------------------------------------------------------------------------- sessions


def test_lead_schedules_a_session_and_each_member_is_mailed(app, team, outbox):
    add_member(app, team.sub_id, team.outsider, state=MembershipState.LEFT)
    lead = logged_in(app, team.lead)
    assert lead.post(f"/subcommittees/{SLUG}/sessions", SESSION).status_code == 302
    session = sessions_of(app, team.sub_id)[2]
    assert session["title"] == "先進事例の共有" and session["date_on"] == date(2021, 10, 12)
    assert session["precision"] == "day" and session["join_url"] == SESSION["join_url"]

    mails = outbox("subcommittee.session_scheduled")
    assert recipients(mails) == sorted([team.lead.email, team.member.email])
    assert all("先進事例の共有" in m.body and "2021年10月12日" in m.body for m in mails)
    assert outbox("subcommittee.session_moved") == []

    page = html_of(visitor(app), f"/subcommittees/{SLUG}")
    assert "先進事例の共有" in page and "2021年10月12日" in page and "14:00" in page


def test_a_session_that_mails_the_members_is_confirmed_first_and_one_that_does_not_is_saved(app, team, outbox):
    lead = logged_in(app, team.lead)
    before = sessions_of(app, team.sub_id)
    asked = {k: v for k, v in SESSION.items() if k != "confirmed"}
    html = asks_first(lead.post(f"/subcommittees/{SLUG}/sessions", asked), f"/subcommittees/{SLUG}/sessions", mails=2)
    assert "先進事例の共有" in page_text(html)
    assert '<textarea name="date" hidden>\n2021-10-12</textarea>' in html  # the form carried along
    assert sessions_of(app, team.sub_id) == before and outbox() == []
    # Undecided: nobody is mailed, so nothing is asked.
    undecided = {**asked, "number": "5", "precision": "undecided", "date": "", "start": "", "end": ""}
    assert lead.post(f"/subcommittees/{SLUG}/sessions", undecided).status_code == 302
    assert sessions_of(app, team.sub_id)[5]["date_on"] is None and outbox() == []
    # Its date set later mails them: asked first.
    path = f"/subcommittees/{SLUG}/sessions/{sessions_of(app, team.sub_id)[5]['id']}"
    asks_first(lead.post(path, {**undecided, "precision": "month", "date": "2021-11"}), path, mails=2)
    assert sessions_of(app, team.sub_id)[5]["date_on"] is None and outbox() == []


def test_imprecise_and_undecided_sessions(app, team, outbox):
    lead = logged_in(app, team.lead)
    early = {**SESSION, "number": "3", "title": "評価方法の検討", "precision": "early", "date": "2021-12",
             "start": "", "end": "", "join_url": ""}
    assert lead.post(f"/subcommittees/{SLUG}/sessions", early).status_code == 302
    undecided = {**early, "number": "4", "title": "ロードマップ", "precision": "undecided", "date": ""}
    assert lead.post(f"/subcommittees/{SLUG}/sessions", undecided).status_code == 302
    found = sessions_of(app, team.sub_id)
    assert found[3]["precision"] == "early" and found[3]["date_on"] == date(2021, 12, 1)
    assert found[4]["precision"] == "undecided" and found[4]["date_on"] is None
    page = html_of(visitor(app), f"/subcommittees/{SLUG}")
    assert "12月上旬" in page and "未定" in page
    # The dated one is announced to both members; the undecided one to nobody yet.
    mails = outbox("subcommittee.session_scheduled")
    assert recipients(mails) == sorted([team.lead.email, team.member.email])
    assert all("評価方法の検討" in m.body for m in mails)


BAD_SESSIONS = [
    ({"date": "2022-04-05"}, "2021年度"),  # outside the subcommittee's fiscal year
    ({"date": "2021-10"}, "日付の形式"),  # an exact date needs a day
    ({"title": ""}, "入力してください"),
    ({"join_url": "not a url"}, "URL"),
    ({"end": "13:00"}, "終了時刻"),
    ({"number": "1"}, "既にあります"),  # session ① exists
]


def test_bad_session_is_refused(app, team, outbox):
    lead = logged_in(app, team.lead)
    before = sessions_of(app, team.sub_id)
    for changes, message in BAD_SESSIONS:
        response = lead.post(f"/subcommittees/{SLUG}/sessions", {**SESSION, **changes}, follow_redirects=True)
        assert response.status_code == 200, changes
        assert message in flashed_errors(response.get_data(as_text=True)), changes
        assert sessions_of(app, team.sub_id) == before, changes
    assert outbox() == []


def test_lead_moves_a_session_and_each_member_is_mailed(app, team, outbox):
    lead = logged_in(app, team.lead)
    session = sessions_of(app, team.sub_id)[1]
    path = f"/subcommittees/{SLUG}/sessions/{session['id']}"
    form = html_of(lead, path)
    assert 'value="キックオフ"' in form and 'value="2021-09"' in form and FIRST_LINK in form

    # Only the title changes: no mail.
    edit = {"number": "1", "title": "キックオフ（全体会）", "precision": "month", "date": "2021-09",
            "start": "", "end": "", "join_url": FIRST_LINK, "status": "scheduled", "confirmed": "1"}
    assert lead.post(path, edit).status_code == 302
    assert sessions_of(app, team.sub_id)[1]["title"] == "キックオフ（全体会）"
    assert outbox() == []

    moved = {**edit, "precision": "day", "date": "2021-10-05", "start": "15:00", "end": "16:30"}
    assert lead.post(path, moved).status_code == 302
    after = sessions_of(app, team.sub_id)[1]
    assert after["date_on"] == date(2021, 10, 5) and after["precision"] == "day"
    assert after["sequence"] > session["sequence"]
    mails = outbox("subcommittee.session_moved")
    assert recipients(mails) == sorted([team.lead.email, team.member.email])
    for mail in mails:
        assert "2021年9月" in mail.body and "2021年10月5日" in mail.body
    assert outbox("subcommittee.session_scheduled") == []

    bad = lead.post(path, {**moved, "date": "2020-10-05"})
    assert bad.status_code == 422
    assert sessions_of(app, team.sub_id)[1]["date_on"] == date(2021, 10, 5)
    assert len(outbox()) == 2


def test_session_renumbered_onto_another_is_refused(app, team, outbox):
    lead = logged_in(app, team.lead)
    assert lead.post(f"/subcommittees/{SLUG}/sessions", SESSION).status_code == 302
    before = sessions_of(app, team.sub_id)
    response = lead.post(f"/subcommittees/{SLUG}/sessions/{before[2]['id']}", {**SESSION, "number": "1"})
    assert response.status_code in (302, 422)
    assert sessions_of(app, team.sub_id) == before


def test_session_link_shown_to_members_only(app, team):
    pages = pages_for(app, team, ["member", "lead", "visitor", "pending", "outsider", "observer", "other_lead"])
    for who in ("member", "lead"):
        assert FIRST_LINK in pages[who], who
    for who in ("visitor", "pending", "outsider", "observer", "other_lead"):
        assert "キックオフ" in pages[who], who
        assert FIRST_LINK not in pages[who], who
    assert FIRST_LINK not in visitor(app).client.get(f"/subcommittees/{SLUG}/calendar.ics").get_data(as_text=True)


def test_subcommittee_feed_has_sessions_and_milestones(app, team):
    logged_in(app, team.lead).post(f"/subcommittees/{SLUG}/sessions", SESSION)
    response = visitor(app).client.get(f"/subcommittees/{SLUG}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    feed = response.get_data(as_text=True).replace("\r\n ", "")
    assert feed.count("BEGIN:VEVENT") == 3
    assert "先進事例の共有" in feed and "キックオフ" in feed and "分科会立上げ" in feed
    assert "DTSTART;TZID=Asia/Tokyo:20211012T140000" in feed


# ----------------------------------------------------------------------------- milestones


def test_milestone_by_quarter_is_due_on_its_last_day(app, team):
    lead = logged_in(app, team.lead)
    expected = {"1": date(2021, 6, 30), "2": date(2021, 9, 30), "3": date(2021, 12, 31), "4": date(2022, 3, 31)}
    for quarter in expected:
        response = lead.post(f"/subcommittees/{SLUG}/milestones", {"title": f"第{quarter}四半期の目標", "due": "",
                                                                  "quarter": quarter})
        assert response.status_code == 302
    found = milestones_of(app, team.sub_id)
    assert {q: found[f"第{q}四半期の目標"]["due_on"] for q in expected} == expected


def test_milestone_by_date(app, team):
    lead = logged_in(app, team.lead)
    lead.post(f"/subcommittees/{SLUG}/milestones", {"title": "中間報告", "due": "2021-11-15", "quarter": "0"})
    assert milestones_of(app, team.sub_id)["中間報告"]["due_on"] == date(2021, 11, 15)


@pytest.mark.parametrize("data", [
    {"title": "中間報告", "due": "", "quarter": "0"},
    {"title": "中間報告", "due": "2021-02-30", "quarter": "0"},
    {"title": "中間報告", "due": "15/11/2021", "quarter": "0"},
    {"title": "", "due": "2021-11-15", "quarter": "0"},
], ids=["no-due-no-quarter", "no-such-day", "bad-format", "no-title"])
def test_bad_milestone_is_refused(app, team, data):
    before = milestones_of(app, team.sub_id)
    response = logged_in(app, team.lead).post(f"/subcommittees/{SLUG}/milestones", data, follow_redirects=True)
    assert response.status_code == 200
    assert flashed_errors(response.get_data(as_text=True))
    assert milestones_of(app, team.sub_id) == before


def milestone_span(html: str, title: str) -> str:
    """The plan table's entry for a milestone: its class and text."""
    match = re.search(rf'<span class="milestone (state-\w+)">★ {re.escape(title)}([^<]*)</span>', html)
    assert match, title
    return match.group(1) + match.group(2)


def test_milestone_states_planned_late_done(app, team):
    today = today_local()
    lead = logged_in(app, team.lead)
    for title, due in (("期限切れの準備", today - timedelta(days=1)), ("今後の報告", today + timedelta(days=30)),
                       ("今日の締切", today)):
        response = lead.post(f"/subcommittees/{SLUG}/milestones", {"title": title, "due": due.isoformat()})
        assert response.status_code == 302
    found = milestones_of(app, team.sub_id)
    assert found["期限切れの準備"]["state"] is MilestoneState.LATE  # late on its own
    assert found["今後の報告"]["state"] is MilestoneState.PLANNED
    assert found["今日の締切"]["state"] is MilestoneState.PLANNED  # due today is not late yet
    page = html_of(visitor(app), f"/subcommittees/{SLUG}")
    assert milestone_span(page, "期限切れの準備") == "state-late（遅延）"
    assert milestone_span(page, "今後の報告") == "state-planned"

    # Marked done on a given day; an empty day is refused (it never silently means today).
    done_path = f"/subcommittees/{SLUG}/milestones/{found['期限切れの準備']['id']}/done"
    assert lead.post(done_path, {"done_on": (today - timedelta(days=2)).isoformat()}).status_code == 302
    done_path = f"/subcommittees/{SLUG}/milestones/{found['今後の報告']['id']}/done"
    refused = lead.post(done_path, {"done_on": ""}, follow_redirects=True)
    assert "完了日を入力してください" in flashed_errors(refused.get_data(as_text=True))
    assert milestones_of(app, team.sub_id)["今後の報告"]["state"] is MilestoneState.PLANNED
    # The form offers today, typed the way people type it.
    assert f'value="{today.isoformat()}"' in html_of(lead, f"/subcommittees/{SLUG}")
    assert lead.post(done_path, {"done_on": f"{today.year}/{today.month}/{today.day}"}).status_code == 302
    found = milestones_of(app, team.sub_id)
    assert found["期限切れの準備"]["state"] is MilestoneState.DONE
    assert found["期限切れの準備"]["done_on"] == today - timedelta(days=2)
    assert found["今後の報告"]["state"] is MilestoneState.DONE and found["今後の報告"]["done_on"] == today
    page = html_of(visitor(app), f"/subcommittees/{SLUG}")
    assert milestone_span(page, "期限切れの準備") == "state-done（完了）"
    assert milestone_span(page, "今後の報告") == "state-done（完了）"

    # 完了 can be undone.
    undo_path = f"/subcommittees/{SLUG}/milestones/{found['今後の報告']['id']}/undone"
    assert lead.post(undo_path).status_code == 302
    assert milestones_of(app, team.sub_id)["今後の報告"]["state"] is MilestoneState.PLANNED


def test_milestone_done_with_a_bad_day_is_refused(app, team):
    milestone = milestones_of(app, team.sub_id)["分科会立上げ"]
    response = logged_in(app, team.lead).post(f"/subcommittees/{SLUG}/milestones/{milestone['id']}/done",
                                          {"done_on": "2021-09-31"}, follow_redirects=True)
    assert "YYYY-MM-DD" in flashed_errors(response.get_data(as_text=True))
    assert milestones_of(app, team.sub_id)["分科会立上げ"]["done_on"] is None


def test_milestone_of_another_subcommittee_is_404(app, team):
    with app.app_context():
        other = db.session.get(Subcommittee, team.other_id)
        milestone = operations.save_milestone(other, None, title="別の分科会の目標", due_on=date(2021, 12, 1))
        db.session.commit()
        mid = milestone.id
    response = logged_in(app, team.lead).post(f"/subcommittees/{SLUG}/milestones/{mid}/done")
    assert response.status_code == 404
    assert milestones_of(app, team.other_id)["別の分科会の目標"]["done_on"] is None


def test_the_lead_and_the_importer_give_the_same_sequence(app, team, make_subcommittee):
    """One SEQUENCE rule: a new title is no significant revision (for a milestone too, as the
    importer always had it); a new day is one, counted once, on either path."""
    record = {"slug": "twin", "name": "双子の分科会", "fiscal_year": 2021,
              "sessions": [{"number": 1, "title": "キックオフ", "date": "2021-09"}],
              "milestones": [{"title": "分科会立上げ", "due": "2021-09-30"}]}
    make_subcommittee("twin", name="双子の分科会", sessions=record["sessions"], milestones=record["milestones"])
    lead = logged_in(app, team.lead)
    session_path = f"/subcommittees/{SLUG}/sessions/{sessions_of(app, team.sub_id)[1]['id']}"
    base = {"number": "1", "precision": "month", "start": "", "end": "", "join_url": FIRST_LINK, "status": "scheduled",
            "confirmed": "1"}

    def sequences(slug: str) -> tuple[int, int]:
        with app.app_context():
            sub = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == slug))
            return sub.sessions[0].sequence, sub.milestones[0].sequence

    def change_milestone(title: str, due: date) -> None:
        with app.app_context():
            sub = db.session.get(Subcommittee, team.sub_id)
            operations.save_milestone(sub, sub.milestones[0], title=title, due_on=due)
            db.session.commit()

    # A new title only: no new SEQUENCE on either path.
    assert lead.post(session_path, {**base, "title": "キックオフ（全体会）", "date": "2021-09"}).status_code == 302
    change_milestone("分科会の立上げ", date(2021, 9, 30))
    with app.app_context():
        renamed = [{"number": 1, "title": "キックオフ（全体会）", "date": "2021-09"}]
        import_data({"subcommittees": [{**record, "sessions": renamed}]})
        db.session.commit()
    assert sequences(SLUG) == sequences("twin") == (0, 0)

    # A new day: one more on either path.
    assert lead.post(session_path, {**base, "title": "キックオフ（全体会）", "date": "2021-10"}).status_code == 302
    change_milestone("分科会の立上げ", date(2021, 10, 29))
    with app.app_context():
        import_data({"subcommittees": [{**record,
                                        "sessions": [{"number": 1, "title": "キックオフ（全体会）", "date": "2021-10"}],
                                        "milestones": [{"title": "分科会立上げ", "due": "2021-10-29"}]}]})
        db.session.commit()
    assert sequences(SLUG) == sequences("twin") == (1, 1)


# ----------------------------------------------------------------------------- reminders


def reminders(app, today: date) -> int:
    with app.app_context():
        return jobs.send_milestone_reminders(today=today)


def test_milestone_reminder_a_week_before_once_per_due_date(app, team, outbox):
    due = date(2030, 6, 10)
    lead = logged_in(app, team.lead)
    lead.post(f"/subcommittees/{SLUG}/milestones", {"title": "中間報告書の提出", "due": due.isoformat()})
    lead.post(f"/subcommittees/{SLUG}/milestones", {"title": "完了済みの準備", "due": due.isoformat()})
    done_id = milestones_of(app, team.sub_id)["完了済みの準備"]["id"]
    lead.post(f"/subcommittees/{SLUG}/milestones/{done_id}/done", {"done_on": "2030-05-01"})

    assert reminders(app, due - timedelta(days=8)) == 0
    assert outbox("subcommittee.milestone_reminder") == []

    assert reminders(app, due - timedelta(days=7)) == 1
    mails = outbox("subcommittee.milestone_reminder")
    assert recipients(mails) == sorted([team.lead.email, team.member.email])  # not the pending applicant
    assert all("中間報告書の提出" in m.subject + m.body and "2030年6月10日（月）" in m.body for m in mails)
    assert not any("完了済みの準備" in m.subject + m.body for m in mails)

    assert reminders(app, due - timedelta(days=6)) == 0
    assert reminders(app, due - timedelta(days=1)) == 0
    assert len(outbox("subcommittee.milestone_reminder")) == 2

    # The due date moves: reminded again, once, a week before the new date.
    moved = due + timedelta(days=14)
    with app.app_context():
        milestone = db.session.get(Milestone, milestones_of(app, team.sub_id)["中間報告書の提出"]["id"])
        operations.save_milestone(milestone.subcommittee, milestone, title=milestone.title, due_on=moved)
        db.session.commit()
    assert reminders(app, moved - timedelta(days=9)) == 0
    assert reminders(app, moved - timedelta(days=5)) == 1
    assert reminders(app, moved - timedelta(days=4)) == 0
    mails = outbox("subcommittee.milestone_reminder")
    assert len(mails) == 4
    assert all("2030年6月24日（月）" in m.body for m in mails[2:])


def test_send_reminders_command_mails_milestones_once(app, team, runner, outbox):
    due = today_local() + timedelta(days=3)
    logged_in(app, team.lead).post(f"/subcommittees/{SLUG}/milestones",
                                   {"title": "報告書ドラフト", "due": due.isoformat()})
    result = runner.invoke(args=["portal", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert "1 milestone reminder(s)" in result.output
    assert recipients(outbox("subcommittee.milestone_reminder")) == sorted([team.lead.email, team.member.email])
    again = runner.invoke(args=["portal", "send-reminders"])
    assert again.exit_code == 0, again.output
    assert "0 milestone reminder(s)" in again.output
    assert len(outbox("subcommittee.milestone_reminder")) == 2


# ----------------------------------------------------------------------------- materials


def upload(auth: AuthActions, content: bytes, filename: str, title: str, public: bool = False):
    data: dict[str, Any] = {"title": title, "program_item_id": "0", "file": (io.BytesIO(content), filename)}
    if public:
        data["public"] = "y"
    return auth.post(f"/subcommittees/{SLUG}/materials", data, follow_redirects=True)


def download(auth: AuthActions, path: str):
    """GET a material and read it all, closing the file behind it."""
    response = auth.client.get(path)
    response.get_data()
    response.close()
    return response


def material_ids(app, sub_id: int) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(
            select(Material.title, Material.id).where(Material.subcommittee_id == sub_id)).all())


def test_lead_uploads_members_only_and_public_materials(app, team):
    lead = logged_in(app, team.lead)
    assert upload(lead, PDF, "第1回議事録.pdf", "第1回議事録").status_code == 200
    assert upload(lead, PDF, "活動報告.pdf", "活動報告", public=True).status_code == 200
    response = upload(lead, b"just some text, not a PDF", "偽物.pdf", "偽物")
    assert "PDF・PowerPoint" in flashed_errors(response.get_data(as_text=True))
    ids = material_ids(app, team.sub_id)
    assert set(ids) == {"第1回議事録", "活動報告"}

    private, public = f"/materials/{ids['第1回議事録']}", f"/materials/{ids['活動報告']}"
    for who in ("lead", "member", "secretariat"):
        response = download(logged_in(app, getattr(team, who)), private)
        assert response.status_code == 200, who
        assert response.data == PDF
    for who in ("pending", "outsider", "observer", "other_lead"):
        assert download(logged_in(app, getattr(team, who)), private).status_code == 403, who
    assert is_login_redirect(download(visitor(app), private))

    response = download(visitor(app), public)
    assert response.status_code == 200 and response.data == PDF
    assert download(logged_in(app, team.outsider), public).status_code == 200

    page = html_of(visitor(app), f"/subcommittees/{SLUG}")
    assert public in page and private not in page
    assert private in html_of(logged_in(app, team.member), f"/subcommittees/{SLUG}")


def test_members_only_files_cost_one_membership_check_however_many(app, team, count_queries):
    """Each members-only file asked the member's membership again: 5 files, 5 more queries."""
    lead = logged_in(app, team.lead)
    member = logged_in(app, team.member)

    def queries_for_page() -> int:
        member.client.get(f"/subcommittees/{SLUG}")  # warm: session and user loaded alike
        with count_queries() as counter:
            assert member.client.get(f"/subcommittees/{SLUG}").status_code == 200
        return counter.count

    upload(lead, PDF, "議事録1.pdf", "議事録1")
    one = queries_for_page()
    for n in range(2, 7):
        upload(lead, PDF, f"議事録{n}.pdf", f"議事録{n}")
    assert queries_for_page() == one


# ----------------------------------------------------------------------------- dashboard


def test_dashboard_next_session_milestones_and_pending_requests(app, create_user, make_subcommittee):
    today = today_local()
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    sub_id = make_subcommittee(
        "dash-sub", name="ダッシュボード分科会", fiscal_year=fiscal_year(today),
        sessions=[{"number": 1, "title": "過去の会合", "date": day(-20)},
                  {"number": 2, "title": "直近の会合", "date": day(10)},
                  {"number": 3, "title": "先の会合", "date": day(40)}],
        milestones=[{"title": "遅れている報告", "due": day(-3)},
                    {"title": "間近の準備", "due": day(10)},
                    {"title": "先の目標", "due": day(200)},
                    {"title": "済んだ立上げ", "due": day(-30), "done": day(-31)}],
    )
    make_subcommittee("quiet-sub", name="静かな分科会", fiscal_year=fiscal_year(today))
    lead, member, outsider = create_user("member"), create_user("member"), create_user("member")
    add_member(app, sub_id, lead, lead=True)
    add_member(app, sub_id, member)
    for _ in range(2):
        add_member(app, sub_id, create_user("member"), state=MembershipState.PENDING)

    assert is_login_redirect(visitor(app).client.get("/account/subcommittees"))

    lead_card = card(html_of(logged_in(app, lead), "/account/subcommittees"), "dash-sub")
    assert lead_card is not None
    assert "ダッシュボード分科会" in lead_card and "リーダー" in lead_card
    assert "直近の会合" in lead_card and "先の会合" not in lead_card and "過去の会合" not in lead_card
    assert "遅れている報告" in lead_card and "遅延" in lead_card and "間近の準備" in lead_card
    assert "先の目標" not in lead_card and "済んだ立上げ" not in lead_card
    assert "参加申請 2件" in lead_card

    member_page = html_of(logged_in(app, member), "/account/subcommittees")
    member_card = card(member_page, "dash-sub")
    assert member_card is not None and "直近の会合" in member_card
    assert "参加申請" not in member_card and "リーダー" not in member_card
    assert card(member_page, "quiet-sub") is None

    assert card(html_of(logged_in(app, outsider), "/account/subcommittees"), "dash-sub") is None


# ----------------------------------------------------------------------------- the plan table


def plan_rows(html: str) -> dict[str, list[str]]:
    """The plan table (実施スケジュール) by row heading: the text of its four quarter cells."""
    table = re.search(r'<table class="plan">(.*?)</table>', html, re.S)
    assert table, "no plan table"
    rows = {}
    for heading, cells in re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table.group(1), re.S):
        texts = [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td>(.*?)</td>", cells, re.S)]
        rows[heading.strip()] = texts
    return rows


def test_activity_with_only_a_start_month_is_shown_in_its_quarter(app, team, make_subcommittee):
    """The form and the importer allow an activity with a start month only (no end): the page
    used to fail (500) computing the end's quarter in the template; it runs within its month."""
    make_subcommittee("one-month", name="単月活動の分科会", activities=[
        {"label": "活動1", "title": "単月の事例調査", "start": "2021-10"},
        {"label": "活動2", "title": "通年の検討", "start": "2021-04", "end": "2022-03"},
    ])
    for who in (visitor(app), logged_in(app, team.member)):
        response = who.client.get("/subcommittees/one-month")
        assert response.status_code == 200
        rows = plan_rows(response.get_data(as_text=True))
        assert rows["活動1"] == ["", "", "単月の事例調査", ""]  # 10-12月 only
        assert rows["活動2"] == ["通年の検討"] * 4


def test_the_meetings_activity_lists_the_sessions_whatever_its_label(app, team, make_subcommittee):
    """The row of the activity that holds the meetings (分科会開催…) lists the sessions of each
    quarter; another activity shows its own title, even when labelled 活動2 like the seed's."""
    make_subcommittee("meetings", name="会合の分科会", activities=[
        {"label": "会合", "title": "分科会開催（オンライン2回）", "start": "2021-07", "end": "2022-03"},
        {"label": "活動2", "title": "事例調査", "start": "2021-07", "end": "2021-09"},
    ], sessions=[{"number": 1, "title": "第1回", "date": "2021-09"},
                 {"number": 2, "title": "第2回", "date": "2022-01"}])
    rows = plan_rows(html_of(visitor(app), "/subcommittees/meetings"))
    assert rows["会合"] == ["", "分科会 ①", "", "分科会 ②"]
    assert rows["活動2"] == ["", "事例調査", "", ""]


# ----------------------------------------------------------------------------- the seed's plan


def test_net_zero_timeline_svg_from_demo(app, demo):
    page = html_of(visitor(app), "/subcommittees/net-zero")
    match = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert match, "no inline SVG timeline"
    svg = ET.fromstring(match.group(0))
    assert svg.get("role") == "img"

    # Text alternative: <title> and <desc>, referenced by aria-labelledby.
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert "2021" in title.text and "実施スケジュール" in title.text
    for text in ("分科会立上げ", "報告書作成", "7-9月", "1-3月", "ネット・ゼロ×スマートシティへの理解",
                 "達成に向けたロードマップ"):
        assert text in desc.text, text
    labelled_by = (svg.get("aria-labelledby") or "").split()
    assert title.get("id") in labelled_by and desc.get("id") in labelled_by

    # Four quarter groups, labelled as the seed's table; their bands, left to right.
    quarters = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "quarter"]
    assert [g.get("data-quarter") for g in quarters] == ["1", "2", "3", "4"]
    assert ["".join(g.itertext()).strip() for g in quarters] == ["4-6月", "7-9月", "10-12月", "1-3月"]
    bands = {}
    for g in quarters:
        rect = g.find(f"{SVG}rect")
        bands[int(g.get("data-quarter"))] = (float(rect.get("x")), float(rect.get("x")) + float(rect.get("width")))
    assert bands[1][1] <= bands[2][0] + 0.01 and bands[2][1] <= bands[3][0] + 0.01 and bands[3][1] <= bands[4][0] + 0.01

    def in_band(x: float, quarter: int) -> bool:
        return bands[quarter][0] <= x <= bands[quarter][1]

    # ★ milestones: 分科会立上げ in 7-9月, 報告書作成 in 1-3月.
    milestones = {g.get("data-title"): g for g in svg.iter(f"{SVG}g") if "milestone" in (g.get("class") or "").split()}
    assert set(milestones) == {"分科会立上げ", "報告書作成"}
    for name, quarter in (("分科会立上げ", 2), ("報告書作成", 4)):
        g = milestones[name]
        assert g.get("data-quarter") == str(quarter), name
        star = next(t for t in g.iter(f"{SVG}text") if (t.text or "").strip() == "★")
        assert in_band(float(star.get("x")), quarter), (name, star.get("x"), bands[quarter])
        assert name in "".join(g.itertext())

    # The four sessions in the quarters where the seed's table puts them.
    expected = {"①": (2, "ネット・ゼロ×スマートシティへの理解"),
                "②": (3, "ネット・ゼロスマートシティの実現に向けた現在/将来のアクション"),
                "③": (4, "ネット・ゼロスマートシティの評価"),
                "④": (3, "達成に向けたロードマップ")}
    sessions = [g for g in svg.iter(f"{SVG}g") if "session" in (g.get("class") or "").split()]
    assert len(sessions) == 4
    rows = {g.get("data-row"): g for g in svg.iter(f"{SVG}g") if g.get("class") == "row"}
    for circled, (quarter, theme) in expected.items():
        row = rows.get(f"分科会{circled}")
        assert row is not None, circled
        mark = next(g for g in row.iter(f"{SVG}g") if "session" in (g.get("class") or "").split())
        assert mark.get("data-quarter") == str(quarter), circled
        assert mark.get("data-title") == theme
        shape = mark.find(f"{SVG}rect")
        if shape is not None:
            middle = float(shape.get("x")) + float(shape.get("width")) / 2
        else:
            middle = float(mark.find(f"{SVG}circle").get("cx"))
        assert in_band(middle, quarter), (circled, middle, bands[quarter])

    # The same plan as the text table below it.
    assert "★ 分科会立上げ" in page and "★ 報告書作成" in page
