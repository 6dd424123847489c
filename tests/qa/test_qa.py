"""Q&A (質疑応答) through HTTP on a real database and a real SMTP server.

Registered attendees (and the secretariat) ask questions while the secretariat has Q&A open,
optionally about one program item and optionally anonymously (the list names nobody, to anyone,
the secretariat included; the secretariat's back office, digest and CSV name the asker), and
up-vote them once per account. The secretariat
marks questions answered live, hides inappropriate ones, and closes Q&A: every question not
answered live and not hidden goes to the secretariat mailbox in ONE digest, exactly once, also
when closes race, when Q&A is reopened and closed again, and when mail is down. After closing,
attendees can still send follow-up questions, each routed as its own message. The secretariat
answers in the back office (the asker is mailed, published answers are the seminar's FAQ) and
exports the questions as CSV for Excel.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import (
    AuthActions,
    asks_first,
    csrf_token,
    get_html,
    is_login_redirect,
    logged_in,
    page_text,
    register_accounts,
)
from sqlalchemy import create_engine, func, select, text

from portal.accounts.models import User
from portal.core.dates import format_moment
from portal.core.db import db
from portal.mail.delivery import deliver_batch
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.qa.models import Question, QuestionState, QuestionVote
from portal.seminars import registrations
from portal.seminars.models import ProgramItem, RegistrationState, Seminar

MAILBOX = "secretariat-box@example.org"  # SECRETARIAT_EMAIL in the test configuration


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def seminar_defaults() -> dict[str, Any]:
    """Every seminar here has Q&A open and a two-item program to ask about."""
    return {"qa": "open", "program": [
        {"start": "15:30", "title": "イントロダクション", "points": ["本日のプログラム紹介"],
         "presenters": [{"organization": "総務省", "department": "サイバーセキュリティ統括官室"}]},
        {"start": "15:45", "title": "前橋市の取組紹介", "points": ["スマートシティの取組"],
         "presenters": [{"organization": "前橋市"}]},
    ]}


def program_items(app, seminar_id: int) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(ProgramItem.id, ProgramItem.title).where(ProgramItem.seminar_id == seminar_id)
            .order_by(ProgramItem.id)
        )
        return [tuple(r) for r in rows]


def attendee(app, create_user, seminar_id: int, role: str = "member", **kwargs) -> tuple[Any, AuthActions]:
    user = create_user(role, **kwargs)
    assert register_accounts(app, seminar_id, user) == [RegistrationState.REGISTERED]
    return user, logged_in(app, user)


def ask(auth: AuthActions, seminar_id: int, body: str, **fields: Any):
    return auth.post(f"/seminars/{seminar_id}/questions", {"body": body, **fields})


def vote(auth: AuthActions, question_id: int, **kwargs):
    return auth.post(f"/questions/{question_id}/vote", **kwargs)


def close(auth: AuthActions, seminar_id: int):
    return auth.post(f"/secretariat/seminars/{seminar_id}/qa/close")


def questions(app, seminar_id: int) -> list[Question]:
    """The seminar's questions (detached, columns loaded), oldest first."""
    with app.app_context():
        rows = list(db.session.scalars(
            select(Question).where(Question.seminar_id == seminar_id).order_by(Question.id)))
        db.session.expunge_all()
        return rows


def question_id(app, seminar_id: int, body: str) -> int:
    [found] = [q.id for q in questions(app, seminar_id) if q.body == body]
    return found


def vote_count(app, qid: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(QuestionVote).where(QuestionVote.question_id == qid))


def mailbox_rows(app, address: str = MAILBOX) -> list[OutboxMessage]:
    """Outbox rows addressed to a mailbox (detached), oldest first."""
    with app.app_context():
        rows = [m for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                if address in m.recipients]
        db.session.expunge_all()
        return rows


def mails_to(app, address: str) -> list[OutboxMessage]:
    return mailbox_rows(app, address)


class ListedQuestions(HTMLParser):
    """Every element that carries data-question-id, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[int, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-question-id" in found:
            self.items.append((int(found["data-question-id"] or 0), int(found.get("data-votes") or -1)))


def listed(html: str) -> list[tuple[int, int]]:
    """(question id, data-votes) of each listed question, in the order shown."""
    parser = ListedQuestions()
    parser.feed(html)
    return parser.items


def item_text(html: str, qid: int) -> str:
    """The text of one listed question (its element with data-question-id)."""
    match = re.search(rf'<(li|article)[^>]*data-question-id="{qid}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"question {qid} is not listed"
    return page_text(match.group(2))


def post_together(jobs: list[tuple[AuthActions, str, dict[str, str]]]) -> list[int]:
    """POST every (client, path, data) at the same moment, each from its own thread."""
    prepared = [(auth.client, path, {**data, "csrf_token": csrf_token(auth.client, "/")}) for auth, path, data in jobs]
    barrier = threading.Barrier(len(prepared))

    def post(job) -> int:
        client, path, data = job
        barrier.wait(timeout=60)
        return client.post(path, data=data).status_code

    with ThreadPoolExecutor(max_workers=len(prepared)) as pool:
        return list(pool.map(post, prepared))


def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def mail_text(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def deliver(app, **kwargs):
    with app.app_context():
        return deliver_batch(**kwargs)


# ----------------------------------------------------------------------------- access


def test_only_registered_attendees_and_the_secretariat_take_part(app, client, create_user, make_seminar):
    sid = make_seminar("access", capacity=2)
    _, registered_auth = attendee(app, create_user, sid)
    observer, observer_auth = attendee(app, create_user, sid, role="observer")
    waiting = create_user("member")
    assert register_accounts(app, sid, waiting) == [RegistrationState.WAITING]
    outsider = create_user("member")
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(registered_auth, sid, "最初の質問です").status_code == 302
    qid = question_id(app, sid, "最初の質問です")

    # Visitors are sent to the log-in page, for reading, asking and voting alike.
    assert is_login_redirect(client.get(f"/seminars/{sid}/questions"))
    token = csrf_token(client, "/login")
    assert is_login_redirect(client.post(f"/seminars/{sid}/questions", data={"body": "訪問者", "csrf_token": token}))
    assert is_login_redirect(client.post(f"/questions/{qid}/vote", data={"csrf_token": token}))

    # Logged in but not registered, or only on the waiting list: 403.
    for user in (outsider, waiting):
        other = logged_in(app, user)
        assert other.client.get(f"/seminars/{sid}/questions").status_code == 403
        assert other.client.get(f"/seminars/{sid}/questions?fragment=1").status_code == 403
        assert ask(other, sid, f"登録していない {user.email}").status_code == 403
        assert vote(other, qid).status_code == 403

    # A cancelled registration loses access too.
    with app.app_context():
        registrations.cancel(sid, db.session.get(User, observer.id))
        db.session.commit()
    assert observer_auth.client.get(f"/seminars/{sid}/questions").status_code == 403
    assert ask(observer_auth, sid, "取り消した後の質問").status_code == 403

    # The registered attendee and the secretariat (without registering) take part.
    assert registered_auth.client.get(f"/seminars/{sid}/questions").status_code == 200
    assert secretariat.client.get(f"/seminars/{sid}/questions").status_code == 200
    assert ask(secretariat, sid, "事務局からの質問").status_code == 302

    assert sorted(q.body for q in questions(app, sid)) == sorted(["最初の質問です", "事務局からの質問"])
    assert vote_count(app, qid) == 0


def test_moderation_and_routing_are_for_the_secretariat_only(app, client, create_user, make_seminar):
    sid = make_seminar("admin-only")
    _, member_auth = attendee(app, create_user, sid)
    assert ask(member_auth, sid, "モデレーションの対象").status_code == 302
    qid = question_id(app, sid, "モデレーションの対象")

    posts = [
        f"/secretariat/seminars/{sid}/qa/open", f"/secretariat/seminars/{sid}/qa/close",
        f"/secretariat/questions/{qid}/answered", f"/secretariat/questions/{qid}/hide",
        f"/secretariat/questions/{qid}/answer",
    ]
    token = csrf_token(client, "/login")
    for path in posts:
        assert is_login_redirect(client.post(path, data={"csrf_token": token, "answer": "x"})), path
        assert member_auth.post(path, {"answer": "回答"}).status_code == 403, path
    assert is_login_redirect(client.get(f"/secretariat/seminars/{sid}/questions.csv"))
    assert member_auth.client.get(f"/secretariat/seminars/{sid}/questions.csv").status_code == 403

    [question] = questions(app, sid)
    assert question.state is QuestionState.OPEN and question.routed_at is None and question.answer is None
    with app.app_context():
        assert db.session.get(Seminar, sid).qa_open is True
    assert mailbox_rows(app) == []


# ----------------------------------------------------------------------------- asking


def test_secretariat_opens_qa_then_attendees_ask_about_a_program_item(app, create_user, make_seminar):
    sid = make_seminar("open-ask", qa="closed")
    member, auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))

    before = auth.client.get(f"/seminars/{sid}/questions")
    assert before.status_code == 200
    response = ask(auth, sid, "開始前の質問")
    assert response.status_code == 422
    assert "始まっていません" in page_text(response.get_data(as_text=True))
    assert questions(app, sid) == []

    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/open").status_code == 302
    [_, (item_id, item_title)] = program_items(app, sid)
    response = ask(auth, sid, "前橋市の取組について伺います", program_item=str(item_id))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/seminars/{sid}/questions"

    [question] = questions(app, sid)
    assert (question.body, question.program_item_id, question.author_id) == (
        "前橋市の取組について伺います", item_id, member.id)
    assert question.anonymous is False and question.state is QuestionState.OPEN
    html = get_html(auth.client, f"/seminars/{sid}/questions")
    assert listed(html) == [(question.id, 0)]
    assert item_title in page_text(html)
    assert "質問を送信しました。" in page_text(html)

    # A program item of another seminar is refused, nothing is saved.
    other = make_seminar("open-ask-other")
    [(foreign_item, _), _] = program_items(app, other)
    response = ask(auth, sid, "別のセミナーの項目", program_item=str(foreign_item))
    assert response.status_code == 422
    assert len(questions(app, sid)) == 1 and questions(app, other) == []


def test_question_text_is_limited_to_1000_characters(app, create_user, make_seminar):
    sid = make_seminar("length")
    _, auth = attendee(app, create_user, sid)

    at_limit = "質" * 1000
    assert ask(auth, sid, at_limit).status_code == 302
    assert [q.body for q in questions(app, sid)] == [at_limit]

    too_long = "問" * 1001
    response = ask(auth, sid, too_long)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "1000文字以内" in page_text(html)
    assert too_long in html  # the text is kept in the form to shorten, not lost
    assert 'name="body"' in html

    response = ask(auth, sid, "   ")
    assert response.status_code == 422
    assert "質問を入力してください" in page_text(response.get_data(as_text=True))

    assert [q.body for q in questions(app, sid)] == [at_limit]


def test_anonymous_question_names_nobody_on_the_list_the_back_office_names_the_asker(app, create_user, make_seminar):
    sid = make_seminar("anon")
    asker, asker_auth = attendee(app, create_user, sid, name="匿名 希望子", org="秘密市役所")
    _, named_auth = attendee(app, create_user, sid, name="実名 太郎", org="公開町")
    _, other_auth = attendee(app, create_user, sid, name="傍聴 次郎", org="見学村")
    secretariat = logged_in(app, create_user("secretariat"))

    assert ask(asker_auth, sid, "名前を出さずに伺います", anonymous="y").status_code == 302
    assert ask(named_auth, sid, "名前を出して伺います").status_code == 302
    anon_id = question_id(app, sid, "名前を出さずに伺います")
    assert questions(app, sid)[0].anonymous is True

    for path in (f"/seminars/{sid}/questions", f"/seminars/{sid}/questions?fragment=1",
                 f"/seminars/{sid}/questions?sort=time"):
        html = get_html(other_auth.client, path)
        assert anon_id in [qid for qid, _ in listed(html)]
        assert "名前を出さずに伺います" in html
        assert "匿名 希望子" not in html and "秘密市役所" not in html
        assert asker.email not in html
        assert "匿名" in page_text(html)
        assert "実名 太郎" in html  # a named question shows its asker

    # Nor does the other named asker see it, or a vote response reveal it.
    assert "匿名 希望子" not in get_html(named_auth.client, f"/seminars/{sid}/questions")
    response = vote(other_auth, anon_id, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert "希望子" not in response.get_data(as_text=True)

    # The list names nobody to the secretariat either (it moderates the list on a projector),
    # nor does its back office (a shared screen too); each shows the 匿名 mark instead.
    for path in (f"/seminars/{sid}/questions", f"/seminars/{sid}/questions?fragment=1",
                 f"/secretariat/seminars/{sid}/questions", f"/seminars/{sid}/questions/presenter"):
        html = get_html(secretariat.client, path)
        assert anon_id in [qid for qid, _ in listed(html)], path
        assert "匿名 希望子" not in html and "秘密市役所" not in html and asker.email not in html, path
        assert "匿名" in item_text(html, anon_id), path
        assert "実名 太郎" in html, path
    # The asker sees that anonymity worked: "匿名で投稿" on their own question, not their name.
    own = item_text(get_html(asker_auth.client, f"/seminars/{sid}/questions"), anon_id)
    assert "匿名で投稿" in own and "あなたの質問" in own
    assert "希望子" not in own and "秘密市役所" not in own
    # The digest, from which the secretariat mails an answer, names the asker.
    assert close(secretariat, sid).status_code == 302
    [digest] = mailbox_rows(app)
    assert "匿名 希望子" in digest.body and "秘密市役所" in digest.body and asker.email in digest.body


# ----------------------------------------------------------------------------- voting and listing


def test_up_vote_once_per_account_and_list_sorted_by_votes_or_time(app, create_user, make_seminar):
    sid = make_seminar("votes")
    _, a = attendee(app, create_user, sid)
    _, b = attendee(app, create_user, sid, role="observer")
    _, c = attendee(app, create_user, sid)
    for auth, body in ((a, "一番目の質問"), (b, "二番目の質問"), (c, "三番目の質問")):
        assert ask(auth, sid, body).status_code == 302
    q1, q2, q3 = (question_id(app, sid, body) for body in ("一番目の質問", "二番目の質問", "三番目の質問"))

    response = vote(a, q2)
    assert response.status_code == 302  # works without JS: back to the list
    assert urlsplit(response.headers["Location"]).path == f"/seminars/{sid}/questions"
    assert vote(a, q2).status_code == 302  # a second vote by the same account counts nothing
    assert vote(c, q2).status_code == 302
    json = vote(b, q3, headers={"Accept": "application/json"})
    assert json.status_code == 200
    assert json.get_json()["votes"] == 1
    again = vote(b, q3, headers={"Accept": "application/json"})
    assert again.get_json()["votes"] == 1

    assert (vote_count(app, q1), vote_count(app, q2), vote_count(app, q3)) == (0, 2, 1)
    html = get_html(a.client, f"/seminars/{sid}/questions")
    assert listed(html) == [(q2, 2), (q3, 1), (q1, 0)]  # by votes by default
    assert listed(get_html(a.client, f"/seminars/{sid}/questions?sort=votes")) == [(q2, 2), (q3, 1), (q1, 0)]
    assert listed(get_html(a.client, f"/seminars/{sid}/questions?sort=time")) == [(q1, 0), (q2, 2), (q3, 1)]


def test_list_refreshes_without_reload_when_js_is_there(app, create_user, make_seminar):
    sid = make_seminar("fragment")
    _, auth = attendee(app, create_user, sid)
    _, other = attendee(app, create_user, sid)
    assert ask(auth, sid, "断片の質問").status_code == 302
    qid = question_id(app, sid, "断片の質問")

    html = get_html(other.client, f"/seminars/{sid}/questions")
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert any(src.endswith("qa.js") or "qa.js?" in src for src in scripts), scripts
    [src] = [s for s in scripts if "qa.js" in s]
    with other.client.get(src) as script:
        assert script.status_code == 200
        assert "fetch" in script.get_data(as_text=True)
    assert "<form" in html and f'action="/questions/{qid}/vote' in html  # the vote works as a plain form
    # The live region that announces new questions is outside the list the script refreshes.
    assert re.search(r'id="questions-announce"[^>]*aria-live="polite"', html)
    assert "aria-live" not in html[html.index('id="questions"'):]

    fragment = get_html(other.client, f"/seminars/{sid}/questions?fragment=1")
    assert listed(fragment) == [(qid, 0)]
    assert "<html" not in fragment.lower()
    assert "断片の質問" in fragment

    assert vote(other, qid).status_code == 302
    assert listed(get_html(other.client, f"/seminars/{sid}/questions?fragment=1&sort=time")) == [(qid, 1)]


def test_the_shared_list_is_the_same_for_every_attendee_and_answers_304_while_unchanged(
    app, create_user, make_seminar
):
    """What 1,000 pollers fetch every 5 s: one body for all attendees (nothing of the viewer's
    own, no CSRF token), revalidated with its ETag; 304 until a question, a vote or a state
    changes, and no render for a 304."""
    sid = make_seminar("shared-list")
    _, a = attendee(app, create_user, sid)
    _, b = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(a, sid, "共有リストの質問").status_code == 302
    qid = question_id(app, sid, "共有リストの質問")
    assert vote(b, qid).status_code == 302  # b's own "voted" must not leak into the shared body
    url = f"/seminars/{sid}/questions?fragment=1"

    first_a, first_b = a.client.get(url), b.client.get(url)
    assert first_a.status_code == first_b.status_code == 200
    assert first_a.get_data() == first_b.get_data()
    assert first_a.headers["ETag"] == first_b.headers["ETag"]
    assert "no-cache" in first_a.headers["Cache-Control"] and "private" in first_a.headers["Cache-Control"]
    body = first_a.get_data(as_text=True)
    assert "csrf_token" not in body and "投票済み" not in body and "あなたの質問" not in body
    etag = first_a.headers["ETag"]

    rendered: list[str] = []
    from flask import template_rendered

    def count(sender, template, context, **extra):
        rendered.append(template.name)

    with template_rendered.connected_to(count, app):
        again = b.client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert rendered == []  # decided from the validator alone

    # A vote, a new question, a state change: each gives a new ETag and a fresh body.
    etags = {etag}
    _, c = attendee(app, create_user, sid)
    changes = [
        lambda: vote(c, qid),
        lambda: ask(c, sid, "二つ目の質問"),
        lambda: secretariat.post(f"/secretariat/questions/{qid}/answering"),
        lambda: secretariat.post(f"/secretariat/questions/{qid}/answered"),
    ]
    for change in changes:
        assert change().status_code == 302
        response = a.client.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200
        etag = response.headers["ETag"]
        assert etag not in etags
        etags.add(etag)
        assert a.client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert dict(listed(a.client.get(url).get_data(as_text=True)))[qid] == 2

    # The secretariat's shared list is another one (it holds the moderation buttons).
    moderator = secretariat.client.get(url)
    assert moderator.headers["ETag"] not in etags
    assert "非表示にする" in moderator.get_data(as_text=True)
    assert "非表示にする" not in a.client.get(url).get_data(as_text=True)


def test_one_account_voting_many_times_at_once_counts_once(app, create_user, make_seminar):
    sid = make_seminar("vote-race")
    _, asker = attendee(app, create_user, sid)
    voter, _ = attendee(app, create_user, sid)
    assert ask(asker, sid, "連打される質問").status_code == 302
    qid = question_id(app, sid, "連打される質問")
    clients = [logged_in(app, voter) for _ in range(6)]

    codes = post_together([(auth, f"/questions/{qid}/vote", {}) for auth in clients])

    assert codes == [302] * 6
    assert vote_count(app, qid) == 1


def test_many_accounts_asking_and_voting_at_once_lose_nothing(app, create_user, make_seminar):
    """100 accounts on PostgreSQL (20 on SQLite, which serializes writers anyway)."""
    n = 100 if dialect(app) == "postgresql" else 20
    sid = make_seminar("rush")
    users = [create_user("member" if i % 2 else "observer") for i in range(n)]
    register_accounts(app, sid, *users)
    clients = [logged_in(app, u) for u in users]

    codes = post_together([
        (auth, f"/seminars/{sid}/questions", {"body": f"同時の質問【{i:03d}】"}) for i, auth in enumerate(clients)
    ])
    assert codes == [302] * n
    asked = questions(app, sid)
    assert sorted(q.body for q in asked) == sorted(f"同時の質問【{i:03d}】" for i in range(n))
    assert sorted(q.author_id for q in asked) == sorted(u.id for u in users)

    # Everyone but its author votes for the first question, and everyone for their neighbour's,
    # all at once (nobody for their own: that is refused).
    target = asked[0].id
    by_author = {q.author_id: q.id for q in asked}
    jobs = []
    for i, auth in enumerate(clients):
        if by_author[users[i].id] != target:
            jobs.append((auth, f"/questions/{target}/vote", {}))
        neighbour = by_author[users[(i + 1) % n].id]
        if neighbour != target:
            jobs.append((auth, f"/questions/{neighbour}/vote", {}))
    codes = post_together(jobs)
    assert codes == [302] * len(jobs)

    assert vote_count(app, target) == n - 1
    listing = dict(listed(get_html(clients[0].client, f"/seminars/{sid}/questions")))
    assert listing[target] == n - 1
    for q in asked:
        if q.id != target:
            assert listing[q.id] == 1, q.body
    assert listed(get_html(clients[0].client, f"/seminars/{sid}/questions"))[0] == (target, n - 1)


# ----------------------------------------------------------------------------- moderation


def test_hidden_question_is_mailed_to_its_asker_and_gone_for_others(app, create_user, make_seminar):
    sid = make_seminar("hide")
    asker, asker_auth = attendee(app, create_user, sid, name="不適切 質問者")
    _, other = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(asker_auth, sid, "不適切な内容の質問").status_code == 302
    assert ask(other, sid, "普通の質問").status_code == 302
    hidden_id = question_id(app, sid, "不適切な内容の質問")
    normal_id = question_id(app, sid, "普通の質問")

    assert secretariat.post(f"/secretariat/questions/{hidden_id}/hide", {"confirmed": "1"}).status_code == 302

    mails = mails_to(app, asker.email)
    hidden_mails = [m for m in mails if "不適切な内容の質問" in m.body]
    assert len(hidden_mails) == 1
    assert hidden_mails[0].recipients == [asker.email]
    # Hiding again sends nothing more.
    assert secretariat.post(f"/secretariat/questions/{hidden_id}/hide", {"confirmed": "1"}).status_code == 302
    assert len([m for m in mails_to(app, asker.email) if "不適切な内容の質問" in m.body]) == 1

    for path in (f"/seminars/{sid}/questions", f"/seminars/{sid}/questions?fragment=1&sort=time"):
        html = get_html(other.client, path)
        assert [qid for qid, _ in listed(html)] == [normal_id]
        assert "不適切な内容の質問" not in html
    # A vote on it is not counted.
    vote(other, hidden_id)
    assert vote_count(app, hidden_id) == 0
    # The secretariat still sees it.
    assert hidden_id in [qid for qid, _ in listed(get_html(secretariat.client, f"/seminars/{sid}/questions"))]

    assert close(secretariat, sid).status_code == 302
    [digest] = mailbox_rows(app)
    assert "普通の質問" in digest.body
    assert "不適切な内容の質問" not in digest.body


# ----------------------------------------------------------------------------- routing


def test_closing_routes_exactly_the_unanswered_questions_in_one_digest_over_smtp(
    make_app, smtp_server, create_user, make_seminar):
    app = make_app(**smtp_server.config())
    sid = make_seminar("digest", title="Q&Aテスト digest")
    other_sid = make_seminar("digest-other")
    [_, (item_id, item_title)] = program_items(app, sid)
    a_user, a = attendee(app, create_user, sid, name="質問 一郎", org="前橋市役所")
    _, b = attendee(app, create_user, sid, role="observer", name="匿名 花子", org="浜松市役所")
    _, c = attendee(app, create_user, sid, name="回答済 三郎", org="岡崎市役所")
    assert register_accounts(app, other_sid, a_user) == [RegistrationState.REGISTERED]
    secretariat = logged_in(app, create_user("secretariat"))

    assert ask(a, sid, "【未回答A】データ連携の費用負担は？", program_item=str(item_id)).status_code == 302
    assert ask(b, sid, "【未回答B】匿名での質問です", anonymous="y").status_code == 302
    assert ask(c, sid, "【回答済C】当日回答された質問").status_code == 302
    assert ask(c, sid, "【非表示D】非表示にされる質問").status_code == 302
    assert ask(a, other_sid, "【別セミナーE】他のセミナーの質問").status_code == 302
    qa_ = question_id(app, sid, "【未回答A】データ連携の費用負担は？")
    qb = question_id(app, sid, "【未回答B】匿名での質問です")
    for voter in (b, c):
        assert vote(voter, qa_).status_code == 302
    assert vote(a, qb).status_code == 302
    answered = question_id(app, sid, "【回答済C】当日回答された質問")
    hidden = question_id(app, sid, "【非表示D】非表示にされる質問")
    assert secretariat.post(f"/secretariat/questions/{answered}/answered").status_code == 302
    assert secretariat.post(f"/secretariat/questions/{hidden}/hide", {"confirmed": "1"}).status_code == 302

    response = close(secretariat, sid)
    assert response.status_code == 302
    with app.app_context():
        seminar = db.session.get(Seminar, sid)
        assert seminar.qa_open is False
        assert db.session.get(Seminar, other_sid).qa_open is True

    [digest] = mailbox_rows(app)
    assert digest.status is OutboxStatus.PENDING
    assert digest.recipients == [MAILBOX]
    assert "【未回答A】" in digest.body and "【未回答B】" in digest.body
    for absent in ("【回答済C】", "【非表示D】", "【別セミナーE】"):
        assert absent not in digest.body

    # Closing again routes nothing more.
    assert close(secretariat, sid).status_code == 302
    assert len(mailbox_rows(app)) == 1

    report = deliver(app)
    assert report.sent >= 1
    assert deliver(app).claimed == 0
    to_box = [m for m in smtp_server.messages if MAILBOX in m["X-Envelope-To"]]
    assert len(to_box) == 1
    body = mail_text(to_box[0])
    assert "Q&Aテスト digest" in body  # the seminar
    assert body.count("【未回答A】") == 1 and body.count("【未回答B】") == 1
    for absent in ("【回答済C】", "【非表示D】", "【別セミナーE】"):
        assert absent not in body

    # Each question with its program item, its asker's name and organization (the anonymous one
    # too: the secretariat must be able to answer), its votes and its time.
    blocks = {key: body.split(key, 1)[1].split("【", 1)[0] for key in ("【未回答A】", "【未回答B】")}
    assert item_title in blocks["【未回答A】"]
    assert "質問 一郎" in blocks["【未回答A】"] and "前橋市役所" in blocks["【未回答A】"]
    assert "匿名 花子" in blocks["【未回答B】"] and "浜松市役所" in blocks["【未回答B】"]
    assert re.search(r"投票[^\n\d]*2\b", blocks["【未回答A】"]), blocks["【未回答A】"]
    assert re.search(r"投票[^\n\d]*1\b", blocks["【未回答B】"]), blocks["【未回答B】"]
    for q in questions(app, sid):
        if q.id in (qa_, qb):
            # In the portal's style (2026年12月8日（火） 9:05: no leading zero on the hour).
            assert format_moment(q.created_at) in blocks["【未回答A】" if q.id == qa_ else "【未回答B】"]
            assert q.routed_at is not None
        else:
            assert q.routed_at is None


def test_digest_goes_to_the_seminars_own_mailbox_when_it_has_one(app, create_user, make_seminar):
    sid = make_seminar("own-box", mailbox="seminar-qa@example.org")
    _, auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, "専用窓口への質問").status_code == 302

    assert close(secretariat, sid).status_code == 302

    [digest] = mails_to(app, "seminar-qa@example.org")
    assert digest.recipients == ["seminar-qa@example.org"]
    assert "専用窓口への質問" in digest.body
    assert mailbox_rows(app) == []  # not also to the general mailbox


def test_reopening_and_closing_routes_only_the_new_questions(app, create_user, make_seminar):
    sid = make_seminar("reopen")
    _, auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, "【一回目1】最初のセッションの質問").status_code == 302
    assert ask(auth, sid, "【一回目2】最初のセッションの質問").status_code == 302
    assert close(secretariat, sid).status_code == 302
    assert close(secretariat, sid).status_code == 302

    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/open").status_code == 302
    assert ask(auth, sid, "【二回目3】再開後の質問").status_code == 302
    assert close(secretariat, sid).status_code == 302
    assert close(secretariat, sid).status_code == 302

    first, second = mailbox_rows(app)
    assert "【一回目1】" in first.body and "【一回目2】" in first.body and "【二回目3】" not in first.body
    assert "【二回目3】" in second.body and "【一回目" not in second.body
    routed = {q.body[:6]: q.routed_message_id for q in questions(app, sid)}
    assert routed == {"【一回目1】": first.id, "【一回目2】": first.id, "【二回目3】": second.id}


def test_concurrent_closes_send_one_digest(app, create_user, make_seminar):
    sid = make_seminar("close-race")
    _, auth = attendee(app, create_user, sid)
    for i in range(5):
        assert ask(auth, sid, f"【競合{i}】同時に終了される質問").status_code == 302
    admins = [create_user("secretariat") for _ in range(2)]
    clients = [logged_in(app, admin) for admin in admins for _ in range(2)]  # two tabs each

    codes = post_together([(c, f"/secretariat/seminars/{sid}/qa/close", {}) for c in clients])

    assert codes == [302] * len(clients)
    rows = mailbox_rows(app)
    assert len(rows) == 1, [r.subject for r in rows]
    for i in range(5):
        assert rows[0].body.count(f"【競合{i}】") == 1
    assert {q.routed_message_id for q in questions(app, sid)} == {rows[0].id}


def test_mail_outage_keeps_the_digest_and_delivers_it_once_later(make_app, smtp_server, create_user, make_seminar):
    app = make_app(**smtp_server.config())
    sid = make_seminar("outage")
    _, auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, "【停電中】メール障害の間の質問").status_code == 302
    smtp_server.stop()  # the mail server is down

    assert close(secretariat, sid).status_code == 302
    report = deliver(app)
    assert report.failed >= 1 and report.sent == 0
    [digest] = mailbox_rows(app)
    assert digest.status is OutboxStatus.PENDING
    assert digest.last_error
    assert digest.attempts == 1
    assert digest.sent_at is None

    # Closing again while mail is down does not write a second copy.
    assert close(secretariat, sid).status_code == 302
    assert [m.id for m in mailbox_rows(app)] == [digest.id]

    smtp_server.start()
    due = digest.next_attempt_at + timedelta(seconds=1)
    assert deliver(app, now=due).sent >= 1
    assert deliver(app, now=due + timedelta(hours=2)).claimed == 0
    to_box = [m for m in smtp_server.messages if MAILBOX in m["X-Envelope-To"]]
    assert len(to_box) == 1
    assert mail_text(to_box[0]).count("【停電中】") == 1
    [sent] = mailbox_rows(app)
    assert sent.status is OutboxStatus.SENT


def test_follow_up_questions_after_closing_go_to_the_mailbox_one_by_one(app, create_user, client, make_seminar):
    sid = make_seminar("followup")
    _, auth = attendee(app, create_user, sid)
    _, other = attendee(app, create_user, sid)
    outsider = logged_in(app, create_user("member"))
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, "【当日】セミナー中の質問").status_code == 302
    assert close(secretariat, sid).status_code == 302
    [digest] = mailbox_rows(app)

    assert "追加の質問" in page_text(get_html(auth.client, f"/seminars/{sid}/questions"))
    assert ask(auth, sid, "【追加1】終了後に思いついた質問").status_code == 302
    assert ask(other, sid, "【追加2】もう一つの追加質問", anonymous="y").status_code == 302
    assert ask(outsider, sid, "【部外者】登録していない人の追加質問").status_code == 403

    rows = mailbox_rows(app)
    assert rows[0].id == digest.id
    followups = rows[1:]
    assert len(followups) == 2
    assert "【追加1】" in followups[0].body and "【追加2】" not in followups[0].body
    assert "【追加2】" in followups[1].body and "【追加1】" not in followups[1].body
    assert all(r.recipients == [MAILBOX] for r in followups)
    assert "【部外者】" not in "".join(r.body for r in rows)

    # Closing again, or reopening and closing, routes none of them a second time.
    assert close(secretariat, sid).status_code == 302
    assert secretariat.post(f"/secretariat/seminars/{sid}/qa/open").status_code == 302
    assert close(secretariat, sid).status_code == 302
    bodies = "".join(r.body for r in mailbox_rows(app))
    for key in ("【当日】", "【追加1】", "【追加2】"):
        assert bodies.count(key) == 1, key


@pytest.mark.postgres_only
def test_a_question_asked_while_qa_closes_is_not_lost(app, create_user, database_url, make_seminar):
    """The close commits between the moment a question is accepted as a live question and the
    moment it is written: it must still reach the mailbox (in the digest or as a follow-up).

    A table lock held by a second connection stops the question's INSERT on PostgreSQL while
    letting the close run, which makes the interleaving certain.
    """
    if dialect(app) != "postgresql":
        pytest.skip("needs PostgreSQL's table locks to hold the ask at its INSERT")
    sid = make_seminar("ask-close-race")
    _, auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    ask_token, close_token = csrf_token(auth.client, "/"), csrf_token(secretariat.client, "/")

    engine = create_engine(database_url)
    codes: dict[str, int] = {}
    try:
        with engine.connect() as blocker:
            blocker.execute(text("LOCK TABLE questions IN SHARE MODE"))

            def ask_now() -> None:
                codes["ask"] = auth.client.post(
                    f"/seminars/{sid}/questions", data={"body": "【際どい】終了と同時の質問", "csrf_token": ask_token}
                ).status_code

            def close_now() -> None:
                codes["close"] = secretariat.client.post(
                    f"/secretariat/seminars/{sid}/qa/close", data={"csrf_token": close_token}).status_code

            asking = threading.Thread(target=ask_now)
            asking.start()
            with engine.connect() as watcher:
                waiting = 0
                for _ in range(200):
                    waiting = watcher.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO questions%'")).scalar()
                    watcher.rollback()  # pg_stat_activity is a snapshot per transaction
                    if waiting or not asking.is_alive():
                        break
                    time.sleep(0.05)
                activity = watcher.execute(text(
                    "SELECT state, wait_event_type, left(query, 60) FROM pg_stat_activity "
                    "WHERE datname = current_database()")).all()
            assert waiting, f"the question's INSERT never waited for the lock: {activity}"
            closing = threading.Thread(target=close_now)
            closing.start()
            closing.join(timeout=3)  # a close that waits for the question is fine too
            blocker.rollback()  # release the lock
        asking.join(timeout=30)
        closing.join(timeout=30)
    finally:
        engine.dispose()

    assert codes == {"ask": 302, "close": 302}
    [question] = questions(app, sid)
    delivered = [r for r in mailbox_rows(app) if "【際どい】" in r.body]
    assert question.routed_at is not None and len(delivered) == 1, (
        f"question state={question.state}, followup={question.followup}, routed_at={question.routed_at}; "
        f"messages carrying it: {len(delivered)}"
    )


# ----------------------------------------------------------------------------- answers, FAQ, CSV


def test_secretariat_answers_asker_is_mailed_and_published_answers_are_faq(app, create_user, client, make_seminar):
    sid = make_seminar("answer")
    asker, auth = attendee(app, create_user, sid, name="回答 待子")
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, "【公開】オープンデータの公開範囲は？", anonymous="y").status_code == 302
    assert ask(auth, sid, "【非公開】個別の事情についての質問").status_code == 302
    assert close(secretariat, sid).status_code == 302
    public_id = question_id(app, sid, "【公開】オープンデータの公開範囲は？")
    private_id = question_id(app, sid, "【非公開】個別の事情についての質問")

    assert "【公開】" in get_html(secretariat.client, f"/secretariat/seminars/{sid}/questions")
    response = secretariat.post(f"/secretariat/questions/{public_id}/answer",
                                {"answer": "個人情報を除き原則公開します。", "publish": "y"})
    assert response.status_code == 302
    response = secretariat.post(f"/secretariat/questions/{private_id}/answer", {"answer": "個別にご連絡します。"})
    assert response.status_code == 302
    # An empty answer saves and sends nothing.
    secretariat.post(f"/secretariat/questions/{private_id}/answer", {"answer": "  "})

    answers = [m for m in mails_to(app, asker.email) if "回答" in m.subject]
    assert len(answers) == 2
    assert "オープンデータの公開範囲" in answers[0].body and "個人情報を除き原則公開します。" in answers[0].body
    assert "個別にご連絡します。" in answers[1].body
    assert all(m.recipients == [asker.email] for m in answers)

    for viewer in (client, auth.client):
        html = get_html(viewer, f"/seminars/{sid}")
        text_ = page_text(html)
        assert "オープンデータの公開範囲は？" in text_ and "個人情報を除き原則公開します。" in text_
        assert "個別の事情" not in text_ and "個別にご連絡します。" not in text_
        faq = re.search(r"FAQ.*?(?:</section>|</dl>)", html, flags=re.S)
        assert faq, html
        assert "個人情報を除き原則公開します。" in page_text(faq.group(0))
        assert "回答 待子" not in faq.group(0)  # the FAQ names nobody (the question was anonymous)
    assert "回答 待子" not in get_html(client, f"/seminars/{sid}")


def test_questions_export_as_excel_safe_csv(app, create_user, make_seminar):
    sid = make_seminar("csv")
    _, auth = attendee(app, create_user, sid, name="@SUM(1+1)", org="+テスト市")
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, '=HYPERLINK("http://evil.example","click")').status_code == 302
    assert ask(auth, sid, "-2+3 の件について", anonymous="y").status_code == 302
    assert ask(auth, sid, "普通の, \"引用\" 質問").status_code == 302

    response = secretariat.client.get(f"/secretariat/seminars/{sid}/questions.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert len(body) == 3
    cells = [cell for row in body for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(\"http://evil.example\",\"click\")" in cells
    assert "'-2+3 の件について" in cells
    assert "普通の, \"引用\" 質問" in cells
    assert "'@SUM(1+1)" in cells and "'+テスト市" in cells  # the asker, also of the anonymous one
    assert sum(1 for row in body if "'@SUM(1+1)" in row) == 3
    assert len({len(row) for row in rows}) == 1, header


# ----------------------------------------------------------------------------- one package, one rule


def test_qa_back_office_is_the_qa_package_nested_under_the_secretariat(app, create_user, make_seminar):
    """The contract's URLs stay; they are Q&A's own routes (secretariat.qa.*), behind the
    secretariat's one guard, and the secretariat's list carries the answered-live form."""
    sid = make_seminar("nested")
    _, auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, "入れ子の質問").status_code == 302
    qid = question_id(app, sid, "入れ子の質問")

    adapter = app.url_map.bind("localhost")
    for method, path in (("POST", f"/secretariat/seminars/{sid}/qa/open"),
                         ("POST", f"/secretariat/seminars/{sid}/qa/close"),
                         ("POST", f"/secretariat/questions/{qid}/answered"),
                         ("POST", f"/secretariat/questions/{qid}/hide"),
                         ("POST", f"/secretariat/questions/{qid}/answer"),
                         ("GET", f"/secretariat/seminars/{sid}/questions"),
                         ("GET", f"/secretariat/seminars/{sid}/questions.csv")):
        endpoint, _ = adapter.match(path, method=method)
        assert endpoint.startswith("secretariat.qa."), (path, endpoint)

    html = get_html(secretariat.client, f"/seminars/{sid}/questions")
    assert f'action="/secretariat/questions/{qid}/answered"' in html
    # Closing asks first: the page links to the confirmation, whose form posts the close.
    assert f'href="/secretariat/seminars/{sid}/qa/close?next=' in html
    confirm = get_html(secretariat.client, f"/secretariat/seminars/{sid}/qa/close")
    assert f'action="/secretariat/seminars/{sid}/qa/close"' in confirm
    assert "/secretariat/" not in get_html(auth.client, f"/seminars/{sid}/questions")  # no moderation forms

    assert secretariat.post(f"/secretariat/questions/{qid}/answered").status_code == 302
    html = get_html(secretariat.client, f"/seminars/{sid}/questions")
    assert f'action="/secretariat/questions/{qid}/answered"' not in html  # answered: the form is gone
    assert "当日回答済み" in page_text(html)  # the state's one label


def test_hiding_a_question_asks_first_and_the_first_post_changes_nothing(app, create_user, make_seminar):
    sid = make_seminar("hide-asks")
    asker, asker_auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(asker_auth, sid, "確認してから隠す質問").status_code == 302
    qid = question_id(app, sid, "確認してから隠す質問")
    listing = f"/seminars/{sid}/questions"
    get_html(secretariat.client, listing)

    first = secretariat.post(f"/secretariat/questions/{qid}/hide", headers={"Referer": f"http://localhost{listing}"})
    html = asks_first(first, f"/secretariat/questions/{qid}/hide", mails=1)
    assert "確認してから隠す質問" in page_text(html)  # which question
    assert f'href="{listing}"' in html  # やめて戻る: back to the list it came from
    with app.app_context():
        assert db.session.get(Question, qid).state is not QuestionState.HIDDEN
    assert [m for m in mails_to(app, asker.email) if m.kind == "qa.hidden"] == []

    done = secretariat.post(f"/secretariat/questions/{qid}/hide", {"confirmed": "1", "next": listing})
    assert done.status_code == 302 and urlsplit(done.headers["Location"]).path == listing
    with app.app_context():
        assert db.session.get(Question, qid).state is QuestionState.HIDDEN
    assert len([m for m in mails_to(app, asker.email) if m.kind == "qa.hidden"]) == 1


def test_a_refused_vote_answers_json_409_and_leaves_no_message_behind(app, create_user, make_seminar):
    sid = make_seminar("refused-vote")
    _, asker = attendee(app, create_user, sid)
    _, voter = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(asker, sid, "非表示になる質問").status_code == 302
    qid = question_id(app, sid, "非表示になる質問")
    assert secretariat.post(f"/secretariat/questions/{qid}/hide", {"confirmed": "1"}).status_code == 302

    response = vote(voter, qid, headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert response.get_json() == {"error": "この質問には投票できません。"}
    # The refusal was the JSON answer's: the next page shows no stale message.
    assert "この質問には投票できません。" not in page_text(get_html(voter.client, f"/seminars/{sid}/questions"))
    # Without JS: back to the list, with the message.
    response = vote(voter, qid)
    assert response.status_code == 302
    assert "この質問には投票できません。" in page_text(get_html(voter.client, f"/seminars/{sid}/questions"))
    assert vote_count(app, qid) == 0


def test_a_refused_question_shows_why_beside_the_form(app, create_user, make_seminar):
    sid = make_seminar("refused-ask")
    other = make_seminar("refused-ask-other")
    _, auth = attendee(app, create_user, sid)
    [(foreign_item, _), _] = program_items(app, other)
    response = ask(auth, sid, "別のセミナーの項目について", program_item=str(foreign_item))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "対象のプログラム項目が見つかりません。" in page_text(html)
    assert "別のセミナーの項目について" in html  # kept in the form
    assert questions(app, sid) == []
