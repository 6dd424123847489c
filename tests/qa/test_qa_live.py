"""The live Q&A of a seminar day, through HTTP on a real database: no up-vote on one's own
question, the one being answered pinned as 回答中 for everyone, approve-before-shown, the
presenter screen, and a member who may not take part told why and offered registration (and
keeping sight of the questions they asked)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import AuthActions, get_html, logged_in, page_text, register_accounts
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.core.db import db
from portal.core.errors import DomainError
from portal.mail.models import OutboxMessage
from portal.qa import operations
from portal.qa.models import Question, QuestionVote
from portal.seminars import registrations
from portal.seminars.models import RegistrationState

MAILBOX = "secretariat-box@example.org"  # SECRETARIAT_EMAIL in the test configuration


@pytest.fixture
def seminar_defaults() -> dict[str, Any]:
    return {"qa": "open", "program": [{"start": "15:30", "title": "イントロダクション"}]}


def attendee(app, create_user, seminar_id: int, **kwargs) -> tuple[Any, AuthActions]:
    user = create_user("member", **kwargs)
    assert register_accounts(app, seminar_id, user) == [RegistrationState.REGISTERED]
    return user, logged_in(app, user)


def ask(auth: AuthActions, seminar_id: int, body: str, **fields: Any):
    return auth.post(f"/seminars/{seminar_id}/questions", {"body": body, **fields})


def question_id(app, body: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.body == body))


def vote_count(app, qid: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(QuestionVote).where(QuestionVote.question_id == qid))


def items(html: str) -> dict[int, str]:
    """Listed question id -> the visible text of its element, in the order shown."""
    found = re.findall(r'<li[^>]*data-question-id="(\d+)"[^>]*>(.*?)</li>', html, re.S)
    return {int(qid): page_text(body) for qid, body in found}


def pinned(text: str) -> bool:
    """The item says 回答中 (not the moderator's button 回答中にする)."""
    return re.search(r"回答中(?!にする)", text) is not None


def digests(app) -> list[str]:
    with app.app_context():
        return [m.body for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                if MAILBOX in m.recipients]


# ----------------------------------------------------------------------------- own votes


def test_nobody_up_votes_their_own_question(app, create_user, make_seminar):
    sid = make_seminar("own-vote")
    author, mine = attendee(app, create_user, sid)
    _, other = attendee(app, create_user, sid)
    assert ask(mine, sid, "自分の質問です").status_code == 302
    qid = question_id(app, "自分の質問です")

    # The button is not offered to the asker; it is to everyone else.
    own_html = get_html(mine.client, f"/seminars/{sid}/questions")
    assert f'action="/questions/{qid}/vote' not in own_html
    assert "あなたの質問" in items(own_html)[qid]
    assert f'action="/questions/{qid}/vote' in get_html(other.client, f"/seminars/{sid}/questions")

    # Posting anyway is refused, with a reason, as a form and as JSON; nothing is counted.
    response = mine.post(f"/questions/{qid}/vote", follow_redirects=True)
    assert "ご自身の質問には投票できません" in page_text(response.get_data(as_text=True))
    json = mine.post(f"/questions/{qid}/vote", headers={"Accept": "application/json"})
    assert json.status_code == 409
    assert "ご自身の質問" in json.get_json()["error"]
    assert vote_count(app, qid) == 0

    # The operation itself refuses (every caller goes through it).
    with app.app_context():
        question = db.session.get(Question, qid)
        with pytest.raises(DomainError):
            operations.vote(question, db.session.get(User, author.id))
        db.session.rollback()

    assert other.post(f"/questions/{qid}/vote").status_code == 302
    assert vote_count(app, qid) == 1


# ----------------------------------------------------------------------------- 回答中


def test_the_question_being_answered_is_pinned_for_everyone(app, create_user, make_seminar):
    sid = make_seminar("answering")
    _, a = attendee(app, create_user, sid)
    _, b = attendee(app, create_user, sid)
    _, c = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(a, sid, "人気の質問").status_code == 302
    assert ask(b, sid, "これから答える質問").status_code == 302
    popular, chosen = question_id(app, "人気の質問"), question_id(app, "これから答える質問")
    assert c.post(f"/questions/{popular}/vote").status_code == 302

    # Only the secretariat marks it.
    assert c.post(f"/secretariat/questions/{chosen}/answering").status_code == 403
    assert list(items(get_html(c.client, f"/seminars/{sid}/questions"))) == [popular, chosen]

    assert secretariat.post(f"/secretariat/questions/{chosen}/answering").status_code == 302
    for auth, path in ((c, f"/seminars/{sid}/questions"), (a, f"/seminars/{sid}/questions?fragment=1"),
                       (b, f"/seminars/{sid}/questions?sort=time"), (secretariat, f"/seminars/{sid}/questions"),
                       (c, f"/seminars/{sid}/questions/presenter")):
        shown = items(get_html(auth.client, path))
        assert next(iter(shown)) == chosen, path  # pinned first, before the one with more votes
        assert pinned(shown[chosen]) and not pinned(shown[popular]), path

    # Marking another moves the pin; answering it live removes it.
    assert secretariat.post(f"/secretariat/questions/{popular}/answering").status_code == 302
    shown = items(get_html(c.client, f"/seminars/{sid}/questions"))
    assert pinned(shown[popular]) and not pinned(shown[chosen])
    assert secretariat.post(f"/secretariat/questions/{popular}/answered").status_code == 302
    shown = items(get_html(c.client, f"/seminars/{sid}/questions"))
    assert not [text for text in shown.values() if pinned(text)]
    assert "当日回答済み" in shown[popular]


# ----------------------------------------------------------------------------- approve before shown


def test_approve_before_shown_holds_new_questions_back_until_the_secretariat_approves(
    app, create_user, make_seminar
):
    sid = make_seminar("approval")
    _, asker = attendee(app, create_user, sid)
    _, other = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(asker, sid, "承認前からある質問").status_code == 302
    before = question_id(app, "承認前からある質問")

    assert other.post(f"/secretariat/seminars/{sid}/qa/approval", {"required": "y"}).status_code == 403
    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/approval", {"required": "y"}).status_code == 302
    assert "承認してから一覧に表示" in page_text(get_html(asker.client, f"/seminars/{sid}/questions"))
    assert ask(asker, sid, "後から承認される質問").status_code == 302
    held = question_id(app, "後から承認される質問")

    # Nobody else sees it, nor can vote on it; its asker sees 承認待ち; the secretariat can approve.
    for path in (f"/seminars/{sid}/questions", f"/seminars/{sid}/questions?fragment=1",
                 f"/seminars/{sid}/questions/presenter", f"/seminars/{sid}/questions/presenter?fragment=1"):
        html = get_html(other.client, path)
        assert held not in items(html) and "後から承認される質問" not in html, path
        assert before in items(html), path
    assert other.post(f"/questions/{held}/vote", headers={"Accept": "application/json"}).status_code == 409
    assert "承認待ち" in items(get_html(asker.client, f"/seminars/{sid}/questions"))[held]
    moderator = items(get_html(secretariat.client, f"/seminars/{sid}/questions"))
    assert "承認待ち" in moderator[held] and "承認して表示する" in moderator[held]
    assert "承認して表示する" not in moderator[before]
    assert other.post(f"/secretariat/questions/{held}/approve").status_code == 403

    etag = other.client.get(f"/seminars/{sid}/questions?fragment=1").headers["ETag"]
    assert secretariat.post(f"/secretariat/questions/{held}/approve").status_code == 302
    response = other.client.get(f"/seminars/{sid}/questions?fragment=1", headers={"If-None-Match": etag})
    assert response.status_code == 200 and held in items(response.get_data(as_text=True))
    assert "承認待ち" not in items(get_html(asker.client, f"/seminars/{sid}/questions"))[held]
    assert other.post(f"/questions/{held}/vote").status_code == 302 and vote_count(app, held) == 1

    # Turned off: new questions show at once again.
    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/approval", {}).status_code == 302
    assert ask(asker, sid, "承認制をやめた後の質問").status_code == 302
    assert question_id(app, "承認制をやめた後の質問") in items(get_html(other.client, f"/seminars/{sid}/questions"))


def test_a_question_never_approved_still_reaches_the_mailbox_exactly_once(app, create_user, make_seminar):
    sid = make_seminar("approval-digest")
    _, asker = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/approval", {"required": "y"}).status_code == 302
    assert ask(asker, sid, "承認されなかった質問").status_code == 302
    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/close").status_code == 302
    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/close").status_code == 302
    bodies = digests(app)
    assert len(bodies) == 1 and bodies[0].count("承認されなかった質問") == 1


# ----------------------------------------------------------------------------- presenter


def test_presenter_screen_shows_the_top_open_questions_in_large_type_and_names_no_anonymous_asker(
    app, create_user, make_seminar
):
    sid = make_seminar("presenter")
    asker, a = attendee(app, create_user, sid, name="投影 隠子", org="匿名希望市")
    _, b = attendee(app, create_user, sid, name="投影 実名", org="公開市")
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(a, sid, "匿名の投影質問", anonymous="y").status_code == 302
    assert ask(b, sid, "実名の投影質問").status_code == 302
    for n in range(9):
        assert ask(b, sid, f"その他の質問{n}").status_code == 302
    assert ask(b, sid, "非表示にされる質問").status_code == 302
    anon, named = question_id(app, "匿名の投影質問"), question_id(app, "実名の投影質問")
    hidden = question_id(app, "非表示にされる質問")
    assert secretariat.post(f"/secretariat/questions/{hidden}/hide", {"confirmed": "1"}).status_code == 302
    assert b.post(f"/questions/{anon}/vote").status_code == 302
    assert a.post(f"/questions/{named}/vote").status_code == 302

    for auth in (secretariat, a):
        response = auth.client.get(f"/seminars/{sid}/questions/presenter")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert 'class="presenter"' in html and "qa.js" in html
        assert "aria-live" in html[:html.index('id="presenter-questions"')]
        shown = items(html)
        assert len(shown) == 8  # the top questions only, readable from the back of the room
        assert list(shown)[:2] == [anon, named] or list(shown)[:2] == [named, anon]
        assert "匿名" in shown[anon]
        assert "隠子" not in html and "匿名希望市" not in html and asker.email not in html
        assert "投影 実名" in shown[named]
        assert hidden not in shown
        assert "非表示にする" not in html and "csrf_token" not in html
        assert "ログアウト" not in html  # no menu and no account name on the shared screen

    fragment = a.client.get(f"/seminars/{sid}/questions/presenter?fragment=1")
    again = secretariat.client.get(f"/seminars/{sid}/questions/presenter?fragment=1",
                                   headers={"If-None-Match": fragment.headers["ETag"]})
    assert again.status_code == 304  # the same screen for everyone: one validator


# ----------------------------------------------------------------------------- who may take part


def test_a_member_who_may_not_take_part_is_told_why_and_offered_registration(app, create_user, make_seminar):
    sid = make_seminar("why-not", capacity=1)
    _, registered = attendee(app, create_user, sid)
    outsider_user = create_user("member")
    outsider = logged_in(app, outsider_user)

    response = outsider.client.get(f"/seminars/{sid}/questions")
    assert response.status_code == 403
    text = page_text(response.get_data(as_text=True))
    assert "参加登録が必要です" in text
    html = response.get_data(as_text=True)
    assert f'action="/seminars/{sid}/registration"' in html
    assert "参加を申し込む" in text

    # The offered button registers (here onto the waiting list: the one seat is taken) and the
    # page then says why the list is still closed.
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    assert outsider.client.post(f"/seminars/{sid}/registration", data={"csrf_token": token}).status_code == 302
    waiting = outsider.client.get(f"/seminars/{sid}/questions")
    assert waiting.status_code == 403
    assert "キャンセル待ち" in page_text(waiting.get_data(as_text=True))
    assert f'action="/seminars/{sid}/registration"' not in waiting.get_data(as_text=True)

    # Registration closed: the reason, and no button.
    closed = make_seminar("why-not-closed", registration="closed")
    response = outsider.client.get(f"/seminars/{closed}/questions")
    assert response.status_code == 403
    assert "受け付けていません" in page_text(response.get_data(as_text=True))
    assert f'action="/seminars/{closed}/registration"' not in response.get_data(as_text=True)
    assert registered.client.get(f"/seminars/{sid}/questions").status_code == 200


def test_cancelling_ones_registration_does_not_hide_the_questions_one_asked(app, create_user, make_seminar):
    sid = make_seminar("cancel-keeps")
    leaver, leaver_auth = attendee(app, create_user, sid)
    _, other = attendee(app, create_user, sid)
    assert ask(leaver_auth, sid, "取り消す前に聞いた質問", anonymous="y").status_code == 302
    qid = question_id(app, "取り消す前に聞いた質問")
    assert other.post(f"/questions/{qid}/vote").status_code == 302

    with app.app_context():
        registrations.cancel(sid, db.session.get(User, leaver.id))
        db.session.commit()

    # Still on everyone's list, with its vote.
    assert qid in items(get_html(other.client, f"/seminars/{sid}/questions"))
    # Its asker may no longer take part, but is told why and still sees what they asked.
    response = leaver_auth.client.get(f"/seminars/{sid}/questions")
    assert response.status_code == 403
    text = page_text(response.get_data(as_text=True))
    assert "参加登録を取り消した" in text
    assert "取り消す前に聞いた質問" in text and "匿名で投稿" in text
    assert ask(leaver_auth, sid, "取り消した後の質問").status_code == 403
