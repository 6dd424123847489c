"""The live Q&A in a real browser (Debian's chromium): a keyboard user's focus survives the
5-second refresh while votes and new questions arrive; the 匿名 mark on the secretariat's and
the asker's screens; the presenter screen with the question being answered pinned."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import log_in_page, logged_in, register_accounts
from playwright.sync_api import expect
from sqlalchemy import select

from portal.core.db import db
from portal.qa.models import Question

pytestmark = pytest.mark.browser

REFRESH = 6_000  # the list promises an update within 5 s


@pytest.fixture
def seminar_defaults() -> dict[str, Any]:
    return {"qa": "open", "program": [{"start": "15:30", "title": "イントロダクション"}]}


def question_id(app, body: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.body == body))


def ask(auth, sid: int, body: str, **fields: Any) -> int:
    assert auth.post(f"/seminars/{sid}/questions", {"body": body, **fields}).status_code == 302
    return question_id(auth.client.application, body)


def test_focus_stays_on_the_vote_button_while_votes_and_questions_arrive(
    app, page, live_server, create_user, make_seminar
):
    sid = make_seminar("focus")
    keyboard, popular_asker, target_asker, voter, late = (create_user("member") for _ in range(5))
    register_accounts(app, sid, keyboard, popular_asker, target_asker, voter, late)
    popular = ask(logged_in(app, popular_asker), sid, "いま一番票の多い質問")
    target = ask(logged_in(app, target_asker), sid, "これから票が集まる質問")
    assert logged_in(app, voter).post(f"/questions/{popular}/vote").status_code == 302

    log_in_page(page, live_server, keyboard)
    page.goto(f"/seminars/{sid}/questions")
    items = page.locator("li[data-question-id]")
    expect(items).to_have_count(2)
    expect(items.first).to_have_attribute("data-question-id", str(popular))
    # Remember the live region's node: it must be the same one after every refresh.
    page.evaluate("window.__announcer = document.getElementById('questions-announce')")

    # Tab from the last link before the list: the first ＋1 button, then the second (the target's).
    page.get_by_role("link", name="最新の状態に更新").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    button = page.locator(f'li[data-question-id="{target}"] .vote-form button')
    expect(button).to_be_focused()

    # Two votes arrive from other sessions: the target overtakes the popular question.
    for other in (voter, popular_asker):
        assert logged_in(app, other).post(f"/questions/{target}/vote").status_code == 302
    row = page.locator(f'li[data-question-id="{target}"]')
    expect(row).to_have_attribute("data-votes", "2", timeout=REFRESH)
    expect(row.locator(".count")).to_have_text("2")
    expect(button).to_be_focused()
    expect(items.first).to_have_attribute("data-question-id", str(target))  # re-sorted around the focus

    # A new question arrives: added to the list, announced once, focus still there.
    asked = ask(logged_in(app, late), sid, "あとから届いた質問")
    expect(page.locator(f'li[data-question-id="{asked}"]')).to_contain_text("あとから届いた質問", timeout=REFRESH)
    expect(button).to_be_focused()
    announcer = page.locator("#questions-announce")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_have_text("新しい質問が1件あります。")
    assert page.evaluate("window.__announcer === document.getElementById('questions-announce')")
    # The arrived question can be voted on at once (it got this session's CSRF token).
    page.locator(f'li[data-question-id="{asked}"] .vote-form button').click()
    expect(page.locator(f'li[data-question-id="{asked}"]')).to_have_attribute("data-votes", "1")

    # Nothing new: no second announcement of the same question.
    page.evaluate("document.getElementById('questions-announce').textContent = ''")
    assert logged_in(app, voter).post(f"/questions/{asked}/vote").status_code == 302
    expect(page.locator(f'li[data-question-id="{asked}"]')).to_have_attribute("data-votes", "2", timeout=REFRESH)
    page.wait_for_timeout(500)
    expect(announcer).to_have_text("")

    # Enter on the ＋1 button votes in place; the count changes, focus stays.
    button.focus()
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("data-votes", "3")
    expect(button).to_be_focused()
    expect(button).to_have_text("投票済み")


def test_the_anonymous_mark_on_the_secretariats_and_the_askers_screens(
    app, page, browser, live_server, create_user, make_seminar
):
    sid = make_seminar("anon-browser")
    asker = create_user("member", name="匿名 希望美", org="秘密町")
    staff = create_user("secretariat", name="事務局 投影")
    register_accounts(app, sid, asker)
    context = browser.new_context(base_url=live_server, locale="ja-JP")
    staff_page = context.new_page()
    staff_page.set_default_timeout(10_000)
    try:
        log_in_page(staff_page, live_server, staff)
        staff_page.goto(f"/seminars/{sid}/questions")  # open before the question arrives

        log_in_page(page, live_server, asker)
        page.goto(f"/seminars/{sid}/questions")
        page.get_by_label("質問", exact=True).fill("名前を伏せた質問")
        page.get_by_label("匿名で質問する", exact=False).check()
        page.get_by_role("button", name="質問を送信").click()
        expect(page.get_by_text("質問を送信しました。")).to_be_visible()
        qid = question_id(app, "名前を伏せた質問")
        own = page.locator(f'li[data-question-id="{qid}"]')
        expect(own.locator(".anonymous-mark")).to_have_text("匿名で投稿")
        expect(own).not_to_contain_text("希望美")
        expect(own).not_to_contain_text("秘密町")
        expect(own.get_by_role("button", name="＋1")).to_have_count(0)  # not one's own

        # The secretariat's open screen gets it by the refresh, with the mark and no name.
        item = staff_page.locator(f'li[data-question-id="{qid}"]')
        expect(item).to_contain_text("名前を伏せた質問", timeout=REFRESH)
        expect(item.locator(".anonymous-mark")).to_have_text("匿名")
        expect(staff_page.locator("#questions")).not_to_contain_text("希望美")
        expect(staff_page.locator("#questions")).not_to_contain_text("秘密町")
        # Its moderation buttons arrived with it and work (the session's CSRF token was added).
        item.get_by_role("button", name="回答中にする").click()
        expect(staff_page.locator(f'li[data-question-id="{qid}"]')).to_contain_text("回答中")
        staff_page.reload()
        expect(staff_page.locator(f'li[data-question-id="{qid}"] .anonymous-mark')).to_have_text("匿名")

        # The back office shows the mark too.
        staff_page.goto(f"/secretariat/seminars/{sid}/questions")
        expect(staff_page.locator(f'[data-question-id="{qid}"] .anonymous-mark')).to_have_text("匿名")
        expect(staff_page.locator("main")).not_to_contain_text("希望美")
    finally:
        context.close()


def test_presenter_screen_pins_the_question_being_answered_for_everyone(
    app, page, live_server, create_user, make_seminar
):
    sid = make_seminar("presenter-browser")
    a, b = create_user("member", name="発表 一郎"), create_user("member", name="発表 匿名", org="匿名市")
    staff = create_user("secretariat")
    register_accounts(app, sid, a, b)
    first = ask(logged_in(app, a), sid, "最初の質問")
    anon = ask(logged_in(app, b), sid, "匿名で聞いた質問", anonymous="y")
    assert logged_in(app, a).post(f"/questions/{anon}/vote").status_code == 302
    secretariat = logged_in(app, staff)

    log_in_page(page, live_server, staff)
    page.goto(f"/seminars/{sid}/questions")
    page.get_by_role("link", name="投影用画面（大きな文字）").click()
    page.wait_for_url(f"{live_server}/seminars/{sid}/questions/presenter")
    items = page.locator(".presenter-list li[data-question-id]")
    expect(items).to_have_count(2)
    expect(items.first).to_have_attribute("data-question-id", str(anon))  # most votes first
    expect(items.first).to_contain_text("匿名")
    expect(page.locator("body")).not_to_contain_text("発表 匿名")
    expect(page.locator("body")).not_to_contain_text("匿名市")
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.presenter-list .text')).fontSize)")
    assert size >= 32, size  # readable from the back of the room
    expect(page.locator("header.site")).to_have_count(0)  # no menu, no account name

    # The moderator pins the other question: the screen shows it first, as 回答中, by itself.
    assert secretariat.post(f"/secretariat/questions/{first}/answering").status_code == 302
    expect(items.first).to_have_attribute("data-question-id", str(first), timeout=REFRESH)
    expect(items.first.locator(".pin")).to_have_text("回答中")
    expect(page.locator(".presenter-list li.answering")).to_have_count(1)

    # Answered live: it leaves the screen (the top open questions only).
    assert secretariat.post(f"/secretariat/questions/{first}/answered").status_code == 302
    expect(items).to_have_count(1, timeout=REFRESH)
    expect(page.locator(".presenter-list .pin")).to_have_count(0)


def test_a_page_that_missed_questions_fetches_the_whole_list_once(
    app, page, live_server, create_user, make_seminar, monkeypatch
):
    """The poll names only the newest question in full here (RECENT=1): a vote on an older one
    still shows from its short entry, and a question the page never saw, named only by its id,
    makes the page fetch the whole list."""
    from portal.qa import views

    monkeypatch.setattr(views, "RECENT", 1)
    sid = make_seminar("missed")
    reader, asker, voter = (create_user("member") for _ in range(3))
    register_accounts(app, sid, reader, asker, voter)
    first = ask(logged_in(app, asker), sid, "最初からある質問")
    log_in_page(page, live_server, reader)
    page.goto(f"/seminars/{sid}/questions")
    expect(page.locator("li[data-question-id]")).to_have_count(1)

    assert logged_in(app, voter).post(f"/questions/{first}/vote").status_code == 302
    expect(page.locator(f'li[data-question-id="{first}"]')).to_have_attribute("data-votes", "1", timeout=REFRESH)

    auth = logged_in(app, asker)
    middle = ask(auth, sid, "見逃した質問")
    newest = ask(auth, sid, "一番新しい質問")
    expect(page.locator(f'li[data-question-id="{middle}"]')).to_contain_text("見逃した質問", timeout=REFRESH)
    expect(page.locator(f'li[data-question-id="{newest}"]')).to_contain_text("一番新しい質問")
    expect(page.locator(f'li[data-question-id="{first}"]')).to_contain_text("最初からある質問")
    expect(page.locator("#questions-announce")).to_have_text("新しい質問が2件あります。")

    # Now `first` is an older question, sent as data only: a vote still counts on the page, and
    # when the pin moves on to another question, its 回答中 goes (its status and classes from data).
    other_voter = create_user("member")
    register_accounts(app, sid, other_voter)
    assert logged_in(app, other_voter).post(f"/questions/{first}/vote").status_code == 302
    expect(page.locator(f'li[data-question-id="{first}"]')).to_have_attribute("data-votes", "2", timeout=REFRESH)
    moderator = logged_in(app, create_user("secretariat"))
    assert moderator.post(f"/secretariat/questions/{first}/answering").status_code == 302
    pinned = page.locator(f'li[data-question-id="{first}"]')
    expect(pinned.locator(".status")).to_contain_text("回答中", timeout=REFRESH)
    assert moderator.post(f"/secretariat/questions/{middle}/answering").status_code == 302
    expect(page.locator(f'li[data-question-id="{middle}"] .status')).to_contain_text("回答中", timeout=REFRESH)
    expect(pinned.locator(".status")).not_to_contain_text("回答中")
    expect(pinned).not_to_have_class(re.compile(r"\banswering\b"))
