"""Q&A in a real browser (Debian's chromium): two attendees ask and vote, the secretariat marks
one question answered live and closes Q&A, and the mailbox gets one digest over real SMTP."""

from __future__ import annotations

import re

import pytest
from conftest import log_in_page, register_accounts
from playwright.sync_api import expect
from sqlalchemy import select

from portal.core.db import db
from portal.mail.delivery import deliver_batch
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.qa.models import Question, QuestionState
from portal.seminars.models import ProgramItem

pytestmark = pytest.mark.browser

PASSWORD = "a-long-password-qa"
MAILBOX = "secretariat-box@example.org"
TITLE = "ブラウザQ&Aテストのセミナー"
ANSWERED = "【当日回答】都市OSの導入費用はどの程度ですか？"
OPEN = "【未回答】データ連携基盤の運用体制を教えてください"


def second_item(app, seminar_id: int) -> tuple[int, str]:
    """The seminar's second program item (id, title)."""
    with app.app_context():
        item = db.session.scalars(select(ProgramItem).where(ProgramItem.seminar_id == seminar_id)
                                  .order_by(ProgramItem.id)).all()[1]
        return item.id, item.title


def question_ids(app, seminar_id: int) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(
            select(Question.body, Question.id).where(Question.seminar_id == seminar_id)).all())


def mailbox_rows(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = [m for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                if MAILBOX in m.recipients]
        db.session.expunge_all()
        return rows


def test_two_attendees_ask_and_vote_the_secretariat_answers_one_and_closes(
    app, page, browser, live_server, create_user, make_app, smtp_server, make_seminar
):
    sid = make_seminar("browser-qa", title=TITLE, qa="open", program=[
        {"start": "15:30", "title": "イントロダクション"},
        {"start": "15:45", "title": "都市OSを導入した地域の取組紹介", "presenters": [{"organization": "浜松市"}]},
    ])
    item_id, item_title = second_item(app, sid)
    alice = create_user("member", name="浜松 一子", org="浜松市", password=PASSWORD)
    bob = create_user("observer", name="岡崎 二郎", org="岡崎市", password=PASSWORD)
    staff = create_user("secretariat", name="事務局 担当", password=PASSWORD)
    register_accounts(app, sid, alice, bob)
    questions_url = f"{live_server}/seminars/{sid}/questions"
    contexts = [browser.new_context(base_url=live_server, locale="ja-JP") for _ in range(2)]
    bob_page, staff_page = (context.new_page() for context in contexts)
    for p in (bob_page, staff_page):
        p.set_default_timeout(10_000)
    try:
        for p, user in ((page, alice), (bob_page, bob), (staff_page, staff)):
            log_in_page(p, live_server, user, PASSWORD)

        # Alice asks about a program item, from the seminar page's Q&A link.
        page.goto(f"/seminars/{sid}")
        page.get_by_role("link", name="Q&A：質問する・投票する").click()
        page.wait_for_url(questions_url)
        page.get_by_label("質問", exact=True).fill(ANSWERED)
        page.get_by_label("対象のプログラム・発表者（任意）").select_option(str(item_id))
        page.get_by_role("button", name="質問を送信").click()
        expect(page.get_by_text("質問を送信しました。")).to_be_visible()
        expect(page.locator("li[data-question-id]")).to_have_count(1)

        # Bob asks anonymously.
        bob_page.goto(f"/seminars/{sid}/questions")
        bob_page.get_by_label("質問", exact=True).fill(OPEN)
        bob_page.get_by_label("匿名で質問する", exact=False).check()
        bob_page.get_by_role("button", name="質問を送信").click()
        expect(bob_page.get_by_text("質問を送信しました。")).to_be_visible()
        ids = question_ids(app, sid)
        alice_q, bob_q = ids[ANSWERED], ids[OPEN]

        # Alice's open page picks up Bob's question without a reload (qa.js), without his name.
        bob_item = page.locator(f'li[data-question-id="{bob_q}"]')
        expect(bob_item).to_contain_text(OPEN, timeout=15_000)
        expect(bob_item).to_contain_text("匿名")
        expect(page.locator("#questions")).not_to_contain_text("岡崎 二郎")

        # Each votes for the other's question; a second vote is not offered.
        page.reload()
        page.locator(f'li[data-question-id="{bob_q}"]').get_by_role("button", name="＋1").click()
        expect(page.locator(f'li[data-question-id="{bob_q}"]')).to_have_attribute("data-votes", "1")
        expect(page.locator(f'li[data-question-id="{bob_q}"]').get_by_role("button")).to_be_disabled()
        bob_page.reload()
        bob_page.locator(f'li[data-question-id="{alice_q}"]').get_by_role("button", name="＋1").click()
        expect(bob_page.locator(f'li[data-question-id="{alice_q}"]')).to_have_attribute("data-votes", "1")

        # The list names nobody to the secretariat either; it marks Alice's question answered
        # live, and closes.
        staff_page.goto(f"/seminars/{sid}/questions")
        expect(staff_page.locator(f'li[data-question-id="{bob_q}"]')).to_contain_text("匿名")
        expect(staff_page.locator(f'li[data-question-id="{bob_q}"]')).not_to_contain_text("岡崎")
        staff_page.locator(f'li[data-question-id="{alice_q}"]').get_by_role("button", name="当日回答済みにする").click()
        expect(staff_page.locator(f'li[data-question-id="{alice_q}"]')).to_contain_text("回答済み")
        # Closing asks first (how many questions go to the mailbox), then comes back to this page.
        staff_page.get_by_role("link", name="Q&Aを終了して未回答の質問を事務局へ送る").click()
        expect(staff_page.get_by_text("この操作で 1 名にメールが送信されます。")).to_be_visible()
        staff_page.get_by_role("button", name="Q&Aを終了する").click()
        expect(staff_page.get_by_text("Q&Aを終了しました。")).to_be_visible()
        expect(staff_page).to_have_url(re.compile(r"/seminars/\d+/questions$"))
        expect(staff_page.get_by_role("button", name="Q&Aを開始する")).to_be_visible()

        # Attendees now see that Q&A is over and can only send follow-ups.
        page.reload()
        expect(page.get_by_text("Q&Aは終了しました。")).to_be_visible()
        expect(page.get_by_role("button", name="追加の質問を事務局へ送る")).to_be_visible()
    finally:
        for context in contexts:
            context.close()

    with app.app_context():
        rows = {q.id: q for q in db.session.scalars(select(Question))}
        assert {i: q.state for i, q in rows.items()} == {
            alice_q: QuestionState.ANSWERED_LIVE, bob_q: QuestionState.OPEN}
        assert (rows[alice_q].program_item_id, rows[alice_q].anonymous) == (item_id, False)
        assert (rows[bob_q].program_item_id, rows[bob_q].anonymous) == (None, True)

    # One digest in the outbox, holding Bob's question (with his name for the secretariat) only.
    [digest] = mailbox_rows(app)
    assert digest.recipients == [MAILBOX]
    assert digest.status is OutboxStatus.PENDING
    assert OPEN in digest.body and ANSWERED not in digest.body
    assert "岡崎 二郎" in digest.body and "岡崎市" in digest.body

    # Delivered over real SMTP, once.
    mailer = make_app(**smtp_server.config())
    with mailer.app_context():
        deliver_batch()
        assert deliver_batch().claimed == 0
    to_box = [m for m in smtp_server.messages if MAILBOX in m["X-Envelope-To"]]
    assert len(to_box) == 1
    body = to_box[0].get_body(preferencelist=("plain",)).get_content()
    assert body.count(OPEN) == 1 and ANSWERED not in body
    assert TITLE in body
    [sent] = mailbox_rows(app)
    assert sent.status is OutboxStatus.SENT
    assert item_title not in body  # Bob named no program item
