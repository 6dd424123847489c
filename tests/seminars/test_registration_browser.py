"""Registering for a seminar and cancelling, in a real browser (Debian's chromium)."""

from __future__ import annotations

import pytest
from conftest import log_in_page
from playwright.sync_api import expect
from sqlalchemy import select

from portal.core.db import db
from portal.seminars.models import Registration, RegistrationState

pytestmark = pytest.mark.browser

JOIN_URL = "https://example.org/webinar/browser-registration"
TITLE = "ブラウザ登録テストのセミナー"


def test_member_registers_sees_the_join_link_and_cancels(app, page, live_server, outbox, create_user, make_seminar):
    sid = make_seminar("browser-reg", title=TITLE, capacity=50, join_url=JOIN_URL)
    user = create_user("member", name="登録 太郎", password="a-long-password-2")
    join_link = page.locator(f'a[href="{JOIN_URL}"]')

    log_in_page(page, live_server, user, "a-long-password-2")

    page.goto(f"/seminars/{sid}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    expect(join_link).to_have_count(0)

    page.get_by_role("button", name="参加を申し込む", exact=True).click()
    page.wait_for_url(f"{live_server}/seminars/{sid}")
    expect(page.get_by_text("参加登録しました。確認メールをお送りします。")).to_be_visible()
    expect(page.get_by_text("参加登録済みです。")).to_be_visible()
    expect(join_link).to_be_visible()
    expect(join_link).to_have_text(JOIN_URL)

    # Cancelling asks first (a page of its own, no JavaScript needed); going back changes nothing.
    page.get_by_role("link", name="参加を取り消す", exact=True).click()
    expect(page.get_by_role("heading", name="参加を取り消します")).to_be_visible()
    page.get_by_role("link", name="やめて戻る").click()
    expect(join_link).to_be_visible()
    page.get_by_role("link", name="参加を取り消す", exact=True).click()
    page.get_by_role("button", name="参加を取り消す", exact=True).click()
    expect(page.get_by_text("参加登録を取り消しました。")).to_be_visible()
    expect(join_link).to_have_count(0)
    expect(page.get_by_role("button", name="参加を申し込む", exact=True)).to_be_visible()

    # After a reload too, the link stays gone.
    page.reload()
    expect(join_link).to_have_count(0)

    with app.app_context():
        states = list(db.session.scalars(select(Registration.state).where(Registration.seminar_id == sid)))
    assert states == [RegistrationState.CANCELLED]
    assert [m.kind for m in outbox() if user.email in m.recipients] == [
        "registration.registered", "registration.cancelled",
    ]
