"""Ticking 出席 in a real browser (each tick saved at once, without the save button), then
announcing to the registrants who did not attend."""

from __future__ import annotations

import pytest
from conftest import log_in_page, register_accounts
from playwright.sync_api import expect
from test_attendance import attended, hold_it

pytestmark = pytest.mark.browser


def test_ticking_present_saves_at_once_then_the_no_shows_are_announced(app, page, live_server, outbox,
                                                                      create_user, make_seminar):
    sid = make_seminar("browser-attend", title="出席ブラウザテスト")
    people = [create_user("member", name=f"出席 {n}", email=f"attend-{i}@example.org") for i, n in enumerate("一二三")]
    register_accounts(app, sid, *people)
    hold_it(app, sid)
    secretariat = create_user("secretariat", org=None)
    log_in_page(page, live_server, secretariat)

    page.goto(f"/secretariat/seminars/{sid}")
    expect(page.get_by_text("出席は未記録です。")).to_be_visible()
    page.get_by_role("link", name="出席を記録（チェック・出席レポートの取り込み）").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("出席を記録")

    # A tick is saved at once (no button pressed): the counts follow and the page says so.
    page.get_by_label("出席 一").check()
    expect(page.locator("#attendance-counts")).to_have_text("出席 1名・欠席 2名")
    expect(page.locator("#attendance-saved")).to_have_text("保存しました。")
    assert attended(app, sid) == {"attend-0@example.org"}
    page.get_by_label("出席 三").check()
    expect(page.locator("#attendance-counts")).to_have_text("出席 2名・欠席 1名")
    page.reload()
    expect(page.get_by_label("出席 三")).to_be_checked()
    expect(page.get_by_label("出席 二")).not_to_be_checked()

    page.goto(f"/secretariat/seminars/{sid}/announcement")
    page.get_by_label("参加登録したが欠席した方").check()
    page.get_by_label("件名").fill("当日の録画のご案内")
    page.get_by_role("button", name="プレビューと送信先の人数を確認").click()
    expect(page.get_by_role("status").filter(has_text="この内容で1人に送信します。")).to_be_visible()
    page.get_by_role("button", name="1人に送信する").click()
    expect(page.get_by_text("開催案内を1人に送信しました。")).to_be_visible()
    assert [m.recipients for m in outbox("announcement")] == [["attend-1@example.org"]]
