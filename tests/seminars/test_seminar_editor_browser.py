"""The secretariat's seminar editor and a reschedule, in a real browser (Debian's chromium):
copy a past seminar, dates typed the way people type them, presenters as rows, preview and
publish; moving a seminar moves its program, asks before mailing, and refuses an item outside."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import log_in_page, register_accounts
from playwright.sync_api import expect
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.core.db import db
from portal.seminars.models import Seminar, SeminarStatus

pytestmark = pytest.mark.browser

PASSWORD = "a-long-password-3"
PROGRAM = [
    {"start": "15:30", "title": "開会・趣旨説明", "presenters": [{"organization": "事務局"}]},
    {"start": "15:45", "title": "取組紹介", "points": ["前橋市の取組", "浜松市の取組"],
     "presenters": [{"organization": "前橋市", "department": "未来政策課"}]},
]


def program_times(page) -> list[str]:
    return [t.strip() for t in page.locator("#program li.program-item p.time").all_inner_texts()]


def test_copy_a_past_seminar_edit_presenter_rows_preview_and_publish(app, page, live_server, create_user, make_seminar):
    make_seminar("editor-source", day=date(2027, 1, 12), title="前回のセミナー", program=PROGRAM)
    staff = create_user("secretariat", org=None, name="事務局 編集", password=PASSWORD)
    log_in_page(page, live_server, staff, PASSWORD)

    # Copy: the program and presenters come along, the date does not.
    page.goto("/secretariat/seminars/new")
    page.get_by_label("過去のセミナーからコピー").select_option(index=1)  # the one seminar with a program
    page.get_by_role("button", name="コピーして始める").click()
    expect(page.get_by_role("status")).to_contain_text("プログラム（2項目）と発表者をコピーします")
    expect(page.locator("#date")).to_have_value("")
    expect(page.locator("#title")).to_have_value("前回のセミナー")

    # Dates and times as people type them: full-width digits, 年月日, 時分.
    page.locator("#title").fill("新しいセミナー")
    page.locator("#date").fill("２０２７年３月９日")
    page.locator("#start").fill("14時")
    page.locator("#end").fill("１５：３０")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.get_by_text("日時を「2027年3月9日（火） 14:00～15:30」として受け付けました。")).to_be_visible()
    # The copied program moved with the new start (15:30 → 14:00).
    expect(page.locator("#program li.program-item")).to_have_count(2)
    assert program_times(page) == ["14:00 ～", "14:15 ～"]

    # Presenters as rows: add one, move it up, save; no JavaScript involved.
    page.locator("#program li.program-item").nth(1).get_by_role("link", name="編集").click()
    expect(page.locator("#presenters-0-organization")).to_have_value("前橋市")
    expect(page.locator("#presenters-0-honorific")).to_have_value("様")
    page.evaluate("window.stillHere = true")
    page.get_by_role("button", name="行を追加").click()  # with JavaScript: in place, no round trip
    assert page.evaluate("window.stillHere === true")
    page.locator("#presenters-1-organization").fill("浜松市")
    page.locator("#presenters-1-point").fill("2")
    page.get_by_role("button", name="2行目を上へ").click()
    expect(page.locator("#presenters-0-organization")).to_have_value("浜松市")
    expect(page.locator("#presenters-1-organization")).to_have_value("前橋市")
    page.locator("#presenters-1-honorific").fill("")  # no honorific for this one
    page.get_by_role("button", name="保存", exact=True).last.click()
    expect(page.get_by_text("プログラムを更新しました。")).to_be_visible()
    expect(page.locator("#program")).to_contain_text("浜松市 様、前橋市 未来政策課")

    # Preview: the public page as a visitor will see it, then publish from there.
    page.get_by_role("link", name="公開ページのプレビュー").click()
    expect(page.get_by_role("note")).to_contain_text("プレビュー")
    expect(page.get_by_role("heading", level=1)).to_contain_text("新しいセミナー")
    expect(page.locator("article")).to_contain_text("浜松市の取組")
    expect(page.locator("article")).to_contain_text("（浜松市 様）")
    page.get_by_role("button", name="このまま公開する").click()
    expect(page.get_by_text("セミナーを公開しました。")).to_be_visible()

    with app.app_context():
        seminar = db.session.scalar(select(Seminar).where(Seminar.title == "新しいセミナー"))
        assert seminar.status is SeminarStatus.PUBLISHED
        actions = list(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.subject == f"seminar:{seminar.id}").order_by(AuditEvent.id)))
        assert actions[:2] == ["seminar.created", "seminar.copied"]
        assert actions[-2:] == ["program.updated", "seminar.published"]
    visitor = app.test_client().get(f"/seminars/{seminar.id}").get_data(as_text=True)
    assert "新しいセミナー" in visitor

    # The audit log says it in words.
    page.goto("/secretariat/audit")
    expect(page.locator("table.audit")).to_contain_text("セミナーの公開")
    expect(page.locator("table.audit")).to_contain_text("状態: 下書き → 公開")


def test_rescheduling_moves_the_program_asks_first_and_refuses_an_item_outside(
        app, page, live_server, create_user, make_seminar, outbox):
    sid = make_seminar("resched-browser", day=date(2027, 1, 12), title="移動するセミナー", program=[
        {"start": "15:30", "title": "開会"}, {"start": "16:40", "title": "閉会"}])
    member = create_user("member")
    register_accounts(app, sid, member)
    staff = create_user("secretariat", org=None, name="事務局 日程", password=PASSWORD)
    log_in_page(page, live_server, staff, PASSWORD)

    page.goto(f"/secretariat/seminars/{sid}/edit")
    page.locator("#start").fill("14:00")
    page.locator("#end").fill("15:30")
    page.get_by_role("button", name="保存", exact=True).click()
    # Asked first: how many it mails, old → new, and that the program moves with it.
    expect(page.get_by_role("heading", name="日時を変更します")).to_be_visible()
    expect(page.get_by_text("この操作で 1 名にメールが送信されます。")).to_be_visible()
    expect(page.get_by_text("変更前: 2027年1月12日（火） 15:30～17:00")).to_be_visible()
    expect(page.get_by_text("変更後: 2027年1月12日（火） 14:00～15:30")).to_be_visible()
    expect(page.get_by_text("プログラムの各項目も同じだけ（-90分）移動します。")).to_be_visible()
    assert outbox("seminar.rescheduled") == []
    page.get_by_role("button", name="変更してメールを送る").click()
    expect(page.get_by_text("セミナーを更新しました。")).to_be_visible()
    assert program_times(page) == ["14:00 ～", "15:10 ～"]

    (mail,) = outbox("seminar.rescheduled")
    assert "変更前: 2027年1月12日（火） 15:30～17:00" in mail.body
    assert "変更後: 2027年1月12日（火） 14:00～15:30" in mail.body
    assert "プログラムの各項目の時刻も同じだけ移動しました" in mail.body

    # An item at 18:00 is outside 14:00～15:30: refused beside its field.
    page.get_by_text("プログラムに項目を追加").click()
    page.locator("#item-start_time").fill("18:00")
    page.locator("#item-title").fill("懇親会")
    page.get_by_role("button", name="追加", exact=True).click()
    expect(page.locator("#item-start_time-error")).to_have_text("開始時刻はセミナーの時間（14:00～15:30）の中にしてください。")
    with app.app_context():
        assert [i.title for i in db.session.get(Seminar, sid).program] == ["開会", "閉会"]


def test_presenter_rows_work_without_javascript(app, browser, live_server, create_user, make_seminar):
    sid = make_seminar("rows-nojs", day=date(2027, 1, 12), program=PROGRAM)
    staff = create_user("secretariat", org=None, name="事務局 JSなし", password=PASSWORD)
    context = browser.new_context(base_url=live_server, locale="ja-JP", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in_page(page, live_server, staff, PASSWORD)
        page.goto(f"/secretariat/seminars/{sid}")
        page.locator("#program li.program-item").nth(1).get_by_role("link", name="編集").click()
        page.get_by_role("button", name="行を追加").click()  # posts the form; the server adds the row
        page.locator("#presenters-1-organization").fill("岡崎市")
        page.get_by_role("button", name="2行目を上へ").click()
        expect(page.locator("#presenters-0-organization")).to_have_value("岡崎市")
        page.get_by_role("button", name="保存", exact=True).last.click()
        expect(page.get_by_text("プログラムを更新しました。")).to_be_visible()
        expect(page.locator("#program")).to_contain_text("岡崎市 様、前橋市 未来政策課 様")
    finally:
        context.close()
