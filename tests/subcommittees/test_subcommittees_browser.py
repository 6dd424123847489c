"""Subcommittee membership in a real browser (Debian's chromium): a member requests to join,
sees 申請中 and no session link; the lead approves the request on the subcommittee page; the
member then sees the session's online link."""

from __future__ import annotations

import pytest
from conftest import log_in_page
from playwright.sync_api import expect
from sqlalchemy import select

from portal.core.db import db
from portal.mail.models import OutboxMessage
from portal.subcommittees.models import MembershipState, SubcommitteeMember

pytestmark = pytest.mark.browser

PASSWORD = "a-long-password-subcommittee"
SLUG = "browser-sub"
LINK = "https://example.org/meet/browser-sub-1"


def state_of(app, sub_id: int, user_id: int) -> MembershipState | None:
    with app.app_context():
        return db.session.scalar(select(SubcommitteeMember.state).where(
            SubcommitteeMember.subcommittee_id == sub_id, SubcommitteeMember.user_id == user_id))


def mails(app, kind: str) -> list[list[str]]:
    with app.app_context():
        return [m.recipients for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))]


def test_member_requests_lead_approves_member_sees_the_link(
    app, page, browser, live_server, create_user, make_subcommittee
):
    sub_id = make_subcommittee(
        SLUG, name="ネット・ゼロ スマートシティ検討分科会", purpose="地域のネット・ゼロの実現を加速させる",
        sessions=[{"number": 1, "title": "ネット・ゼロ×スマートシティへの理解", "date": "2021-09-14",
                   "start": "14:00", "end": "16:00", "join_url": LINK}],
        milestones=[{"title": "分科会立上げ", "due": "2021-09-30"}],
    )
    lead = create_user("member", name="リーダー 一郎", email="lead@example.org", password=PASSWORD)
    member = create_user("member", name="浜松 一子", email="hamamatsu@example.org", org="浜松市", password=PASSWORD)
    with app.app_context():
        db.session.add(SubcommitteeMember(subcommittee_id=sub_id, user_id=lead.id, is_lead=True,
                                          state=MembershipState.APPROVED))
        db.session.commit()

    lead_context = browser.new_context(base_url=live_server, locale="ja-JP")
    lead_page = lead_context.new_page()
    lead_page.set_default_timeout(10_000)
    try:
        # The member asks to join and sees the request pending, still without the link.
        log_in_page(page, live_server, member, PASSWORD)
        page.goto(f"/subcommittees/{SLUG}")
        expect(page.locator("#sessions")).to_contain_text("ネット・ゼロ×スマートシティへの理解")
        expect(page.locator(f'a[href="{LINK}"]')).to_have_count(0)
        page.get_by_role("button", name="この分科会への参加を申請する").click()
        page.wait_for_url(f"{live_server}/subcommittees/{SLUG}")
        expect(page.locator("#membership")).to_contain_text("申請中")
        expect(page.get_by_role("button", name="申請を取り下げる")).to_be_visible()
        expect(page.locator(f'a[href="{LINK}"]')).to_have_count(0)
        assert state_of(app, sub_id, member.id) is MembershipState.PENDING
        assert mails(app, "subcommittee.join_requested") == [[lead.email]]

        # The lead sees the request on the subcommittee page and approves it.
        log_in_page(lead_page, live_server, lead, PASSWORD)
        lead_page.goto(f"/subcommittees/{SLUG}")
        request = lead_page.locator("#members li", has_text="浜松 一子")
        expect(request).to_contain_text("浜松市")
        request.get_by_role("button", name="承認", exact=True).click()
        # Asked first (the applicant is mailed), without JavaScript's help: nothing changed yet.
        expect(lead_page.locator(".confirm")).to_contain_text("1 名にメールが送信されます")
        assert state_of(app, sub_id, member.id) is MembershipState.PENDING
        lead_page.get_by_role("button", name="承認してメールを送る").click()
        lead_page.wait_for_url(f"{live_server}/subcommittees/{SLUG}#members")
        expect(lead_page.locator("ul.members")).to_contain_text("浜松 一子")
        expect(lead_page.get_by_role("button", name="承認", exact=True)).to_have_count(0)
        assert state_of(app, sub_id, member.id) is MembershipState.APPROVED
        assert mails(app, "subcommittee.join_decided") == [[member.email]]

        # The member, now approved, sees the session's online link.
        page.reload()
        expect(page.locator("#membership")).not_to_contain_text("申請中")
        expect(page.locator("#membership")).to_contain_text("メンバー")
        link = page.locator("#sessions .session-link a")
        expect(link).to_have_attribute("href", LINK)
        expect(link).to_be_visible()
        expect(page.locator("ul.members")).to_contain_text("リーダー 一郎")
    finally:
        lead_context.close()
